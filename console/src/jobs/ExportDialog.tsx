// Export (seed 000 §2.3 ⑥): the whole organisation, a department (with its sub-departments or
// not), the selected accounts or the current search; CSV or Excel. The file is made in the
// background and downloaded from the task centre.
import { useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import type { Department } from "../departments/tree";
import { Dialog, ProblemAlert } from "../shared/ui";
import { createExport, type ExportRequest, type Job } from "./api";

interface Props {
  tenantId: string;
  department: Department | null;
  selectedIds: string[];
  query: string;
  onClose: () => void;
  onQueued: (job: Job) => void;
}

export function ExportDialog({ tenantId, department, selectedIds, query, onClose, onQueued }: Props) {
  const [scope, setScope] = useState<ExportRequest["scope"]>(selectedIds.length ? "selected" : "all");
  const [descendants, setDescendants] = useState(true);
  const [format, setFormat] = useState<ExportRequest["format"]>("csv");
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const body: ExportRequest = { scope, format } as ExportRequest;
    if (scope === "department" && department) Object.assign(body, { department_id: department.id, include_descendants: descendants });
    if (scope === "selected") Object.assign(body, { member_ids: selectedIds });
    if (scope === "query") Object.assign(body, { query });
    try {
      onQueued(await createExport(tenantId, body));
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else throw error;
    }
  };
  const radio = (value: ExportRequest["scope"], label: string, disabled = false) => (
    <label className="check-label">
      <input type="radio" name="scope" value={value} checked={scope === value} disabled={disabled} onChange={() => setScope(value)} /> {label}
    </label>
  );
  return (
    <Dialog title="Export members" open onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <fieldset>
          <legend>What to export</legend>
          {radio("all", "The whole organisation")}
          {radio("department", department ? `Department ${department.path}` : "A department", !department)}
          {scope === "department" && (
            <label className="check-label indent">
              <input type="checkbox" checked={descendants} onChange={(e) => setDescendants(e.target.checked)} /> With its sub-departments
            </label>
          )}
          {radio("selected", `Selected members (${selectedIds.length})`, selectedIds.length === 0 || selectedIds.length > 1000)}
          {radio("query", query ? `Search results for “${query}”` : "Search results", !query)}
        </fieldset>
        <fieldset>
          <legend>Format</legend>
          <label className="check-label">
            <input type="radio" name="format" value="csv" checked={format === "csv"} onChange={() => setFormat("csv")} /> CSV
          </label>
          <label className="check-label">
            <input type="radio" name="format" value="xlsx" checked={format === "xlsx"} onChange={() => setFormat("xlsx")} /> Excel
          </label>
        </fieldset>
        <ProblemAlert problem={problem} />
        <div className="actions">
          <button type="submit" className="primary">
            Export
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
