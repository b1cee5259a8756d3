// "The mailbox creates a new member" (seed 000 §2.3 ①) and bulk edit of department, position
// and location (seed 004 §V.2: only these three).
import { useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import type { Department } from "../departments/tree";
import { Dialog, Field, ProblemAlert, Select } from "../shared/ui";
import { bulkUpdate, createMember, type Member } from "./api";

const departmentOptions = (departments: Department[]) =>
  [...departments].sort((a, b) => a.path.localeCompare(b.path)).map((d) => ({ value: d.id, label: d.path }));

interface AddProps {
  tenantId: string;
  departments: Department[];
  departmentId: string;
  onClose: () => void;
  onCreated: (member: Member) => void;
}

export function AddMemberDialog({ tenantId, departments, departmentId, onClose, onCreated }: AddProps) {
  const [form, setForm] = useState({ email: "", name: "", department_id: departmentId, position: "", work_number: "", location: "", directory_number: "10000", role: "member" });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const optional = (v: string) => (v.trim() ? v.trim() : undefined);
      const member = await createMember(tenantId, {
        email: form.email.trim(),
        name: form.name.trim(),
        department_id: form.department_id,
        position: optional(form.position),
        work_number: optional(form.work_number),
        location: optional(form.location),
        directory_number: Number(form.directory_number) || 10000,
        role: form.role as Member["role"],
      });
      onCreated(member);
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    } finally {
      setBusy(false);
    }
  };
  const fields = ["email", "name", "department_id", "position", "work_number", "location", "directory_number", "role"];
  return (
    <Dialog title="Add member" open onClose={onClose} wide>
      <form onSubmit={submit} noValidate>
        <p>The new member gets a mail to set their password (or joins with their existing account).</p>
        <div className="grid2">
          <Field label="Email" type="email" required value={form.email} onChange={set("email")} error={problem?.fields.email} />
          <Field label="Name" required value={form.name} onChange={set("name")} error={problem?.fields.name} />
          <Select label="Department" value={form.department_id} onChange={set("department_id")} options={departmentOptions(departments)} error={problem?.fields.department_id} />
          <Field label="Position" value={form.position} onChange={set("position")} error={problem?.fields.position} />
          <Field label="Work number" value={form.work_number} onChange={set("work_number")} error={problem?.fields.work_number} />
          <Field label="Location" value={form.location} onChange={set("location")} error={problem?.fields.location} />
          <Field label="Directory number" type="number" min={1} max={10000} value={form.directory_number} onChange={set("directory_number")} error={problem?.fields.directory_number} />
          <Select
            label="Role"
            value={form.role}
            onChange={set("role")}
            options={[
              { value: "member", label: "Member" },
              { value: "admin", label: "Admin" },
            ]}
            error={problem?.fields.role}
          />
        </div>
        <ProblemAlert problem={problem} fields={fields}>
          {problem?.code === "previously_removed" && <p>This person is in the recycle bin: restore them from there instead.</p>}
        </ProblemAlert>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Create member
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

interface BulkProps {
  tenantId: string;
  departments: Department[];
  ids: string[];
  onClose: () => void;
  onDone: (message: string) => void;
}

export function BulkEditDialog({ tenantId, departments, ids, onClose, onDone }: BulkProps) {
  const [department, setDepartment] = useState("");
  const [position, setPosition] = useState({ change: false, value: "" });
  const [location, setLocation] = useState({ change: false, value: "" });
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const set: { department_id?: string; position?: string | null; location?: string | null } = {};
    if (department) set.department_id = department;
    if (position.change) set.position = position.value.trim() || null;
    if (location.change) set.location = location.value.trim() || null;
    if (Object.keys(set).length === 0) {
      setProblem({ status: 400, code: "validation_failed", title: "", detail: "Choose at least one field to change.", fields: {} });
      return;
    }
    try {
      const result = await bulkUpdate(tenantId, ids, set);
      onDone(`${result.updated} of ${ids.length} members updated.`);
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    }
  };
  return (
    <Dialog title="Edit selected members" open onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <p>{ids.length} members selected. Only department, position and location can be edited together.</p>
        <Select
          label="Move to department"
          value={department}
          onChange={(e) => setDepartment(e.target.value)}
          options={[{ value: "", label: "Keep each member's department" }, ...departmentOptions(departments)]}
          error={problem?.fields["set.department_id"]}
        />
        <label className="check-label">
          <input type="checkbox" checked={position.change} onChange={(e) => setPosition({ ...position, change: e.target.checked })} /> Change position
        </label>
        {position.change && <Field label="New position" value={position.value} onChange={(e) => setPosition({ ...position, value: e.target.value })} error={problem?.fields["set.position"]} />}
        <label className="check-label">
          <input type="checkbox" checked={location.change} onChange={(e) => setLocation({ ...location, change: e.target.checked })} /> Change location
        </label>
        {location.change && <Field label="New location" value={location.value} onChange={(e) => setLocation({ ...location, value: e.target.value })} error={problem?.fields["set.location"]} />}
        <ProblemAlert problem={problem} fields={["set.department_id", "set.position", "set.location"]} />
        <div className="actions">
          <button type="submit" className="primary">
            Apply to selected
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
