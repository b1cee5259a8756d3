// The side panel of one account (seed 000 §2.3, seed 003 "Other operations"): details, edit with
// If-Match (a 412 says someone else changed it: reload), licence ("Account benefits"),
// disable/enable, reset password, delete.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import type { Department } from "../departments/tree";
import { daysFromToday, endOfDay, revokeMemberLicence, setMemberLicence } from "../licences/api";
import { Dialog, Field, Notice, ProblemAlert, Select, formatDate, formatDay } from "../shared/ui";
import { deleteMember, getMember, sendPasswordReset, updateMember, type Member, type MemberPatch } from "./api";

interface Props {
  tenantId: string;
  memberId: string;
  departments: Department[];
  onClose: () => void;
  /** The member after a change (null: deleted), and whether seats changed. */
  onChanged: (id: string, member: Member | null, seatsChanged?: boolean) => void;
}

interface EditForm {
  department_id: string;
  position: string;
  work_number: string;
  location: string;
  directory_number: string;
  role: string;
}

const formOf = (m: Member): EditForm => ({
  department_id: m.department_id,
  position: m.position ?? "",
  work_number: m.work_number ?? "",
  location: m.location ?? "",
  directory_number: String(m.directory_number),
  role: m.role,
});

/** Only what the admin changed, with emptied text fields cleared. */
export function changes(member: Member, form: EditForm): MemberPatch {
  const patch: MemberPatch = {};
  if (form.department_id !== member.department_id) patch.department_id = form.department_id;
  for (const key of ["position", "work_number", "location"] as const) {
    const value = form[key].trim();
    if (value !== (member[key] ?? "")) patch[key] = value === "" ? null : value;
  }
  if (Number(form.directory_number) !== member.directory_number) patch.directory_number = Number(form.directory_number);
  if (form.role !== member.role) patch.role = form.role as Member["role"];
  return patch;
}

export function MemberPanel({ tenantId, memberId, departments, onClose, onChanged }: Props) {
  const [member, setMember] = useState<Member | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [form, setForm] = useState<EditForm | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [licenceDate, setLicenceDate] = useState(daysFromToday(365));
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    setProblem(null);
    try {
      const { member: fresh, etag: version } = await getMember(tenantId, memberId);
      setMember(fresh);
      setEtag(version);
      setForm(formOf(fresh));
      if (fresh.licence) setLicenceDate(fresh.licence.expires_at.slice(0, 10));
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  }, [tenantId, memberId]);

  useEffect(() => {
    setMember(null);
    setNotice(null);
    void load();
  }, [load]);

  const act = async (work: () => Promise<string | null>) => {
    setBusy(true);
    setProblem(null);
    setNotice(null);
    try {
      setNotice(await work());
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    } finally {
      setBusy(false);
    }
  };

  const applied = (fresh: Member, version: string | null, seats = false) => {
    setMember(fresh);
    setEtag(version);
    setForm(formOf(fresh));
    onChanged(fresh.id, fresh, seats);
  };

  if (!member || !form) {
    return (
      <aside className="panel" aria-label="Member details">
        <button type="button" className="close" onClick={onClose}>
          Close
        </button>
        {problem ? <ProblemAlert problem={problem} /> : <p role="status">Loading member…</p>}
      </aside>
    );
  }

  const save = (event: FormEvent) => {
    event.preventDefault();
    const patch = changes(member, form);
    if (Object.keys(patch).length === 0) {
      setNotice("Nothing to save.");
      return;
    }
    void act(async () => {
      const { member: fresh, etag: version } = await updateMember(tenantId, member.id, patch, etag);
      applied(fresh, version);
      return "Changes saved.";
    });
  };
  const setStatus = (status: "active" | "disabled") =>
    act(async () => {
      const { member: fresh, etag: version } = await updateMember(tenantId, member.id, { status }, etag);
      applied(fresh, version);
      return status === "disabled" ? `${member.name} is disabled.` : `${member.name} is enabled.`;
    });
  const saveLicence = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => {
      const { member: fresh, etag: version } = await setMemberLicence(tenantId, member.id, endOfDay(licenceDate));
      applied(fresh, version, true);
      return `Licence valid until ${formatDay(fresh.licence?.expires_at)}.`;
    });
  };
  const revokeLicence = () =>
    act(async () => {
      await revokeMemberLicence(tenantId, member.id);
      await load();
      onChanged(member.id, { ...member, licence: null }, true);
      return "Licence revoked.";
    });
  const resetPassword = () =>
    act(async () => {
      await sendPasswordReset(tenantId, member.id);
      return `A password reset link was mailed to ${member.email}.`;
    });
  const remove = () =>
    act(async () => {
      await deleteMember(tenantId, member.id);
      setConfirmDelete(false);
      onChanged(member.id, null, Boolean(member.licence));
      onClose();
      return null;
    });

  const stale = problem?.code === "precondition_failed";
  const set = (key: keyof EditForm) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  return (
    <aside className="panel" aria-labelledby="panel-title">
      <div className="panel-head">
        <h2 id="panel-title">{member.name}</h2>
        <button type="button" className="close" onClick={onClose}>
          Close
        </button>
      </div>
      <dl className="details">
        <dt>Email</dt>
        <dd>
          {member.email} {member.email_verified ? "" : "(not verified)"}
        </dd>
        <dt>Phone</dt>
        <dd>{member.phone ?? "—"}</dd>
        <dt>Status</dt>
        <dd>{member.status}</dd>
        <dt>Source</dt>
        <dd>{member.source}</dd>
        <dt>Created</dt>
        <dd>{formatDate(member.created_at)}</dd>
        <dt>Last sign-in</dt>
        <dd>{member.last_login_at ? formatDate(member.last_login_at) : "never"}</dd>
      </dl>
      <Notice>{notice}</Notice>
      <ProblemAlert problem={problem} fields={["department_id", "position", "work_number", "location", "directory_number", "role", "expires_at"]}>
        {stale && (
          <button type="button" onClick={() => void load()}>
            Reload
          </button>
        )}
      </ProblemAlert>

      <form onSubmit={save} aria-label="Edit member" noValidate>
        <h3>Edit</h3>
        <Select
          label="Department"
          value={form.department_id}
          onChange={set("department_id")}
          options={[...departments].sort((a, b) => a.path.localeCompare(b.path)).map((d) => ({ value: d.id, label: d.path }))}
          error={problem?.fields.department_id}
        />
        <Field label="Position" value={form.position} onChange={set("position")} error={problem?.fields.position} />
        <Field label="Work number" value={form.work_number} onChange={set("work_number")} error={problem?.fields.work_number} />
        <Field label="Location" value={form.location} onChange={set("location")} error={problem?.fields.location} />
        <Field
          label="Directory number"
          type="number"
          min={1}
          max={10000}
          value={form.directory_number}
          onChange={set("directory_number")}
          error={problem?.fields.directory_number}
        />
        <Select
          label="Role"
          value={form.role}
          onChange={set("role")}
          options={[
            { value: "member", label: "Member" },
            { value: "admin", label: "Admin" },
            { value: "owner", label: "Owner" },
          ]}
          error={problem?.fields.role}
        />
        <button type="submit" className="primary" disabled={busy}>
          Save changes
        </button>
      </form>

      <form onSubmit={saveLicence} aria-label="Account benefits" noValidate>
        <h3>Account benefits</h3>
        <p>{member.licence ? `Licence valid until ${formatDay(member.licence.expires_at)}${member.licence.renewal ? `, renewal queued until ${formatDay(member.licence.renewal.expires_at)}` : ""}.` : "No licence."}</p>
        <Field label="Licence expires on" type="date" value={licenceDate} onChange={(e) => setLicenceDate(e.target.value)} error={problem?.fields.expires_at} />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {member.licence ? "Change expiry" : "Give licence"}
          </button>
          {member.licence && (
            <button type="button" onClick={() => void revokeLicence()} disabled={busy}>
              Revoke licence
            </button>
          )}
        </div>
      </form>

      <section aria-labelledby="account-actions">
        <h3 id="account-actions">Account</h3>
        <div className="actions">
          {member.status === "disabled" ? (
            <button type="button" onClick={() => void setStatus("active")} disabled={busy}>
              Enable
            </button>
          ) : (
            <button type="button" onClick={() => void setStatus("disabled")} disabled={busy}>
              Disable
            </button>
          )}
          <button type="button" onClick={() => void resetPassword()} disabled={busy}>
            Reset password
          </button>
          <button type="button" className="danger" onClick={() => setConfirmDelete(true)} disabled={busy}>
            Delete
          </button>
        </div>
      </section>
      <Dialog title={`Delete ${member.name}?`} open={confirmDelete} onClose={() => setConfirmDelete(false)}>
        <p>
          {member.name} loses access at once and goes to the recycle bin, from where it can be restored until the
          retention ends. Its licence, if any, returns to the pool.
        </p>
        <div className="actions">
          <button type="button" className="danger" onClick={() => void remove()} disabled={busy}>
            Delete
          </button>
          <button type="button" onClick={() => setConfirmDelete(false)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </aside>
  );
}
