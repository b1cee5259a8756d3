// The account management page of a tenant (seed 000 §2, CONSOLE.md): the department tree on
// the left, seats ("Seats 1/5"), the account operations, the member list with its filters and
// multi-select, and the side panel of one account.
import { useCallback, useEffect, useMemo, useState } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { navigate } from "../app/router";
import { listDepartments } from "../departments/api";
import { DepartmentDialog, type DepartmentAction } from "../departments/DepartmentDialogs";
import { DepartmentTree } from "../departments/DepartmentTree";
import type { Department } from "../departments/tree";
import { ExportDialog } from "../jobs/ExportDialog";
import { assignLicences, daysFromToday, endOfDay, getLicences, renewLicences, type LicenceSummary } from "../licences/api";
import { LicenceDialog } from "../licences/LicenceDialog";
import { Notice, ProblemAlert } from "../shared/ui";
import { getTenant, type Tenant } from "../tenants/api";
import { bulkStatus, type Member } from "./api";
import { AddMemberDialog, BulkEditDialog } from "./MemberDialogs";
import { MemberFilters, NO_FILTERS, toQuery, type Filters } from "./MemberFilters";
import { MemberPanel } from "./MemberPanel";
import { MemberTable } from "./MemberTable";
import { useMemberPages } from "./useMemberPages";

/** The most ids a bulk route takes (SPEC §3). */
const MAX_BULK = 1000;

type Open = null | "add" | "assign" | "renew" | "bulk-edit" | "export" | { department: DepartmentAction; parentId?: string };

export default function AccountPage({ tenantId }: { tenantId: string }) {
  const [tenant, setTenant] = useState<Tenant | null>(null);
  const [departments, setDepartments] = useState<Department[]>([]);
  const [seats, setSeats] = useState<LicenceSummary | null>(null);
  const [selectedDepartment, setSelectedDepartment] = useState<string | null>(null);
  const [includeDescendants, setIncludeDescendants] = useState(true);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [selection, setSelection] = useState<Map<string, Member>>(new Map());
  const [panel, setPanel] = useState<string | null>(null);
  const [open, setOpen] = useState<Open>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [version, setVersion] = useState(0);

  const guard = useCallback(async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    }
  }, []);
  const loadDepartments = useCallback(() => guard(async () => setDepartments(await listDepartments(tenantId))), [guard, tenantId]);
  const loadSeats = useCallback(() => guard(async () => setSeats(await getLicences(tenantId))), [guard, tenantId]);

  useEffect(() => {
    void guard(async () => {
      const t = await getTenant(tenantId);
      setTenant(t);
      setSelectedDepartment((current) => current ?? t.root_department_id);
    });
    void loadDepartments();
    void loadSeats();
  }, [tenantId, guard, loadDepartments, loadSeats]);

  const byId = useMemo(() => new Map(departments.map((d) => [d.id, d])), [departments]);
  const department = selectedDepartment ? (byId.get(selectedDepartment) ?? null) : null;
  // The root with its sub-departments is the whole directory (one query from the first render on,
  // whether or not the tenant and its departments have loaded yet).
  const wholeTenant = (!selectedDepartment || selectedDepartment === tenant?.root_department_id) && includeDescendants;
  const query = useMemo(
    () => toQuery(filters, wholeTenant ? null : selectedDepartment, includeDescendants),
    [filters, selectedDepartment, includeDescendants, wholeTenant],
  );
  const list = useMemberPages(tenantId, query, version);

  const selected = [...selection.values()];
  const tooMany = selection.size > MAX_BULK;
  const accounts = selected.map((m) => ({ id: m.id, name: m.name, email: m.email }));
  const refreshList = () => setVersion((v) => v + 1);
  const say = (message: string) => {
    setProblem(null);
    setNotice(message);
  };

  const toggle = (member: Member) =>
    setSelection((current) => {
      const next = new Map(current);
      if (next.has(member.id)) next.delete(member.id);
      else next.set(member.id, member);
      return next;
    });
  const toggleAll = (all: boolean) => setSelection(all ? new Map(list.pages.items.map((m) => [m.id, m])) : new Map());

  const setStatus = (status: "active" | "disabled") =>
    guard(async () => {
      const result = await bulkStatus(tenantId, [...selection.keys()], status);
      say(`${result.updated} member${result.updated === 1 ? "" : "s"} ${status === "active" ? "enabled" : "disabled"}.`);
      refreshList();
    });

  if (!tenant) {
    return <main className="page">{problem ? <ProblemAlert problem={problem} /> : <p role="status">Loading…</p>}</main>;
  }

  return (
    <div className="account">
      <aside className="departments" aria-labelledby="departments-title">
        <h2 id="departments-title">Departments</h2>
        <DepartmentTree
          departments={departments}
          selected={selectedDepartment}
          onSelect={setSelectedDepartment}
          onDropMove={(id, parentId) => {
            setSelectedDepartment(id);
            setOpen({ department: "move", parentId });
          }}
        />
        <div className="actions vertical" role="group" aria-label="Department actions">
          <button type="button" disabled={!department} onClick={() => setOpen({ department: "add" })}>
            Add sub-department
          </button>
          <button type="button" disabled={!department} onClick={() => setOpen({ department: "rename" })}>
            Rename department
          </button>
          <button type="button" disabled={!department?.parent_id} onClick={() => setOpen({ department: "move" })}>
            Move department
          </button>
          <button type="button" disabled={!department?.parent_id} onClick={() => setOpen({ department: "delete" })}>
            Delete department
          </button>
        </div>
      </aside>

      <main className="members">
        <div className="members-head">
          <h1>{tenant.name}</h1>
          <p className="seats">
            Seats {seats?.used ?? tenant.seats.used}/{seats?.total ?? tenant.seats.total}
            {seats && seats.expiring_within_30_days > 0 && <span> · {seats.expiring_within_30_days} expiring within 30 days</span>}
          </p>
        </div>
        <div className="toolbar" role="group" aria-label="Account operations">
          <button type="button" className="primary" onClick={() => setOpen("add")}>
            Add member
          </button>
          <button type="button" onClick={() => setOpen("export")}>
            Export
          </button>
          <button type="button" onClick={() => navigate(`/tenants/${tenantId}/tasks`)}>
            Import
          </button>
        </div>
        <Notice>{notice}</Notice>
        <ProblemAlert problem={problem ?? list.problem} />
        <MemberFilters filters={filters} onChange={setFilters} />
        <label className="check-label">
          <input type="checkbox" checked={includeDescendants} onChange={(e) => setIncludeDescendants(e.target.checked)} /> Include
          sub-departments
        </label>
        {selection.size > 0 && (
          <div className="toolbar bulk" role="group" aria-label="Selected members">
            <span>{selection.size} selected</span>
            {selection.size > MAX_BULK && <span className="field-error">Bulk actions take at most {MAX_BULK} members at a time.</span>}
            <button type="button" disabled={tooMany} onClick={() => setOpen("assign")}>
              Assign licences
            </button>
            {tenant.feature_flags.licence_renewal && (
              <button type="button" disabled={tooMany} onClick={() => setOpen("renew")}>
                Renew licences
              </button>
            )}
            <button type="button" disabled={tooMany} onClick={() => void setStatus("active")}>
              Enable
            </button>
            <button type="button" disabled={tooMany} onClick={() => void setStatus("disabled")}>
              Disable
            </button>
            <button type="button" disabled={tooMany} onClick={() => setOpen("bulk-edit")}>
              Edit department, position, location
            </button>
            <button type="button" onClick={() => setSelection(new Map())}>
              Clear selection
            </button>
          </div>
        )}
        <MemberTable
          members={list.pages.items}
          departmentPath={(id) => byId.get(id)?.path ?? ""}
          hasMore={list.hasMore}
          loading={list.pages.loading}
          selected={new Set(selection.keys())}
          onToggle={toggle}
          onToggleAll={toggleAll}
          onOpen={(m) => setPanel(m.id)}
          onNearEnd={list.nearRow}
          onLoadMore={() => void list.fetchNext()}
        />
      </main>

      {panel && (
        <MemberPanel
          key={panel}
          tenantId={tenantId}
          memberId={panel}
          departments={departments}
          onClose={() => setPanel(null)}
          onChanged={(id, member, seatsChanged) => {
            list.replace(id, member);
            if (!member) {
              say("Member moved to the recycle bin.");
              void loadDepartments();
            }
            if (seatsChanged) void loadSeats();
          }}
        />
      )}

      {open === "add" && (
        <AddMemberDialog
          tenantId={tenantId}
          departments={departments}
          departmentId={selectedDepartment ?? tenant.root_department_id}
          onClose={() => setOpen(null)}
          onCreated={(m) => {
            setOpen(null);
            say(`${m.name} added.`);
            refreshList();
            void loadDepartments();
          }}
        />
      )}
      {(open === "assign" || open === "renew") && (
        <LicenceDialog
          mode={open}
          accounts={accounts}
          initialValue={open === "assign" ? daysFromToday(365) : "365"}
          submit={(ids, value) => (open === "assign" ? assignLicences(tenantId, ids, endOfDay(value)) : renewLicences(tenantId, ids, Number(value)))}
          onDone={(result) => {
            setSeats((s) => (s ? { ...s, ...result.seats } : s));
            refreshList();
          }}
          onClose={() => setOpen(null)}
        />
      )}
      {open === "bulk-edit" && (
        <BulkEditDialog
          tenantId={tenantId}
          departments={departments}
          ids={[...selection.keys()]}
          onClose={() => setOpen(null)}
          onDone={(message) => {
            setOpen(null);
            say(message);
            refreshList();
            void loadDepartments();
          }}
        />
      )}
      {open === "export" && (
        <ExportDialog
          tenantId={tenantId}
          department={department}
          selectedIds={[...selection.keys()]}
          query={filters.q.trim()}
          onClose={() => setOpen(null)}
          onQueued={() => {
            setOpen(null);
            navigate(`/tenants/${tenantId}/tasks`);
          }}
        />
      )}
      {open && typeof open === "object" && department && (
        <DepartmentDialog
          action={open.department}
          parentId={open.parentId}
          tenantId={tenantId}
          department={department}
          departments={departments}
          onClose={() => setOpen(null)}
          onChanged={(message, select) => {
            setOpen(null);
            say(message);
            if (select) setSelectedDepartment(select);
            void loadDepartments();
            refreshList();
          }}
        />
      )}
    </div>
  );
}
