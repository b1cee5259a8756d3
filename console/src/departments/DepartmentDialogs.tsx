// Add a sub-department, rename, move (to a parent chosen in a dialog) and delete, with the
// API's refusals shown: a duplicate sibling name, a cycle, a department that is not empty.
import { useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { Dialog, Field, ProblemAlert, Select } from "../shared/ui";
import { createDepartment, deleteDepartment, updateDepartment } from "./api";
import { moveTargets, type Department } from "./tree";

export type DepartmentAction = "add" | "rename" | "move" | "delete";

interface Props {
  action: DepartmentAction;
  tenantId: string;
  department: Department;
  departments: Department[];
  onClose: () => void;
  /** After a change: what to say, and the department to select (a new one, or the parent of a deleted one). */
  onChanged: (message: string, select?: string) => void;
  /** The new parent to offer first (a department dropped on another). */
  parentId?: string;
}

export function DepartmentDialog({ action, tenantId, department, departments, onClose, onChanged, parentId }: Props) {
  const targets = moveTargets(departments, department.id);
  const [name, setName] = useState(action === "rename" ? department.name : "");
  const [parent, setParent] = useState(targets.find((d) => d.id === parentId)?.id ?? targets[0]?.id ?? "");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      if (action === "add") {
        const created = await createDepartment(tenantId, department.id, name.trim());
        onChanged(`Department ${created.name} added under ${department.name}.`, created.id);
      } else if (action === "rename") {
        await updateDepartment(tenantId, department.id, { name: name.trim() });
        onChanged(`Department renamed to ${name.trim()}.`);
      } else if (action === "move") {
        const { queued } = await updateDepartment(tenantId, department.id, { parent_id: parent });
        const to = departments.find((d) => d.id === parent)?.path ?? "";
        onChanged(
          queued
            ? `${department.name} moved under ${to}; its members follow in the background (see the task centre).`
            : `${department.name} moved under ${to}.`,
        );
      } else {
        await deleteDepartment(tenantId, department.id);
        onChanged(`Department ${department.name} deleted.`, department.parent_id ?? undefined);
      }
    });
  };

  const titles: Record<DepartmentAction, string> = {
    add: `Add sub-department to ${department.name}`,
    rename: `Rename ${department.name}`,
    move: `Move ${department.name}`,
    delete: `Delete ${department.name}`,
  };
  const buttons: Record<DepartmentAction, string> = { add: "Add", rename: "Rename", move: "Move", delete: "Delete" };

  return (
    <Dialog title={titles[action]} open onClose={onClose}>
      <form onSubmit={submit} noValidate>
        {(action === "add" || action === "rename") && (
          <Field label="Department name" required value={name} onChange={(e) => setName(e.target.value)} error={problem?.fields.name} autoFocus />
        )}
        {action === "move" &&
          (targets.length ? (
            <Select
              label="New parent department"
              value={parent}
              onChange={(e) => setParent(e.target.value)}
              options={targets.map((d) => ({ value: d.id, label: d.path }))}
              error={problem?.fields.parent_id}
            />
          ) : (
            <p>There is no other department to move it under.</p>
          ))}
        {action === "delete" && (
          <p>
            Delete <strong>{department.path}</strong>? Only an empty department (no members, no sub-departments) can be
            deleted.
          </p>
        )}
        <ProblemAlert problem={problem} fields={["name", "parent_id"]} />
        <div className="actions">
          <button type="submit" className={action === "delete" ? "danger" : "primary"} disabled={busy || (action === "move" && !targets.length)}>
            {buttons[action]}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
