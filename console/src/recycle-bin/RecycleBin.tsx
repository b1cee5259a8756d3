// The recycle bin (seed 000 §2.5 ①): members deleted within the retention, each restored into a
// department the admin chooses.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, call, type components } from "../api/client";
import { ProblemError, type Problem } from "../api/problem";
import { listDepartments } from "../departments/api";
import type { Department } from "../departments/tree";
import { Dialog, Notice, ProblemAlert, Select, formatDate } from "../shared/ui";

type Member = components["schemas"]["Member"];

export default function RecycleBin({ tenantId }: { tenantId: string }) {
  const [items, setItems] = useState<Member[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [departments, setDepartments] = useState<Department[]>([]);
  const [restoring, setRestoring] = useState<Member | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const page = useCallback(
    async (from: string | null) => {
      try {
        const { data } = await call(
          api.GET("/v1/tenants/{tenant_id}/recycle-bin", { params: { path: { tenant_id: tenantId }, query: { limit: 100, cursor: from ?? undefined } } }),
        );
        setItems((current) => (from ? [...current, ...(data.items as Member[])] : (data.items as Member[])));
        setCursor(data.next_cursor);
        setLoaded(true);
      } catch (error) {
        if (error instanceof ProblemError) setProblem(error.problem);
      }
    },
    [tenantId],
  );

  useEffect(() => {
    void page(null);
    listDepartments(tenantId).then(setDepartments, (error) => error instanceof ProblemError && setProblem(error.problem));
  }, [tenantId, page]);

  return (
    <main className="page">
      <h1>Recycle bin</h1>
      <p>Deleted members stay here until their retention ends; restore one into a department of your choice.</p>
      <Notice>{notice}</Notice>
      <ProblemAlert problem={problem} />
      {!loaded ? (
        <p role="status">Loading…</p>
      ) : items.length === 0 ? (
        <p>The recycle bin is empty.</p>
      ) : (
        <table aria-label="Deleted members">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Deleted</th>
              <th scope="col">Removed for good</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.id}>
                <td>{m.name}</td>
                <td>{m.email}</td>
                <td>{formatDate(m.deleted_at)}</td>
                <td>{formatDate(m.purge_at)}</td>
                <td>
                  <button type="button" onClick={() => setRestoring(m)} aria-label={`Restore ${m.name}`}>
                    Restore
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={() => void page(cursor)}>
          Load more
        </button>
      )}
      {restoring && (
        <RestoreDialog
          tenantId={tenantId}
          member={restoring}
          departments={departments}
          onClose={() => setRestoring(null)}
          onRestored={(where) => {
            setNotice(`${restoring.name} is restored into ${where}.`);
            setItems((current) => current.filter((m) => m.id !== restoring.id));
            setRestoring(null);
          }}
        />
      )}
    </main>
  );
}

interface RestoreProps {
  tenantId: string;
  member: Member;
  departments: Department[];
  onClose: () => void;
  onRestored: (departmentPath: string) => void;
}

function RestoreDialog({ tenantId, member, departments, onClose, onRestored }: RestoreProps) {
  const sorted = [...departments].sort((a, b) => a.path.localeCompare(b.path));
  const [department, setDepartment] = useState(sorted.find((d) => d.id === member.department_id)?.id ?? sorted[0]?.id ?? "");
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    try {
      await call(
        api.POST("/v1/tenants/{tenant_id}/recycle-bin/{member_id}/restore", {
          params: { path: { tenant_id: tenantId, member_id: member.id } },
          body: { department_id: department },
        }),
      );
      onRestored(sorted.find((d) => d.id === department)?.path ?? "the department");
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    }
  };
  return (
    <Dialog title={`Restore ${member.name}`} open onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <Select
          label="Restore into department"
          value={department}
          onChange={(e) => setDepartment(e.target.value)}
          options={sorted.map((d) => ({ value: d.id, label: d.path }))}
          error={problem?.fields.department_id}
        />
        <ProblemAlert problem={problem} fields={["department_id"]} />
        <div className="actions">
          <button type="submit" className="primary">
            Restore
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
