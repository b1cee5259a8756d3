// The task centre (seed 000 "quick download … once completed", seed 003 import): every import,
// export and department move with its status, counts and progress while it runs, the download
// once done (an export's file, an import's result); and the import itself: the template, the
// upload, the start.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { Notice, ProblemAlert, Progress, formatDate } from "../shared/ui";
import { deleteJob, getJob, importTemplate, listJobs, runImport, saveBlob, type Job } from "./api";

const KIND: Record<Job["kind"], string> = { import: "Import", export: "Export", department_move: "Department move" };
const STATUS: Record<Job["status"], string> = {
  awaiting_upload: "Waiting for the file",
  queued: "Queued",
  running: "Running",
  completed: "Completed",
  failed: "Failed",
};

export function describeJob(job: Job): string {
  if (job.kind === "export" && job.export) {
    const scope = { all: "whole organisation", department: "department", selected: "selected members", query: `search “${job.export.query ?? ""}”` }[job.export.scope];
    return `Export of the ${scope} (${job.export.format === "xlsx" ? "Excel" : "CSV"})`;
  }
  if (job.kind === "import" && job.import) return `Import (${job.import.mode === "create" ? "create members" : "send invitations"})`;
  if (job.kind === "department_move" && job.department_move) return `Move of ${job.department_move.from_path} to ${job.department_move.to_path}`;
  return KIND[job.kind];
}

export function isActive(job: Job): boolean {
  return job.status === "queued" || job.status === "running" || job.status === "awaiting_upload";
}

export default function TaskCentre({ tenantId }: { tenantId: string }) {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [links, setLinks] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setJobs((await listJobs(tenantId)).items);
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  }, [tenantId]);

  useEffect(() => {
    void load();
  }, [load]);
  // While any job runs, the centre follows it.
  const running = jobs?.some(isActive) ?? false;
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => void load(), 1500);
    return () => window.clearInterval(timer);
  }, [running, load]);

  const guard = async (work: () => Promise<void>) => {
    setProblem(null);
    try {
      await work();
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else setProblem({ status: 0, code: "network", title: "", detail: (error as Error).message, fields: {} });
    }
  };
  const fetchLink = (job: Job) =>
    guard(async () => {
      const fresh = await getJob(tenantId, job.id);
      if (fresh.download_url) setLinks((l) => ({ ...l, [job.id]: fresh.download_url! }));
    });
  const remove = (job: Job) =>
    guard(async () => {
      await deleteJob(tenantId, job.id);
      setNotice("Task removed.");
      await load();
    });

  return (
    <main className="page">
      <h1>Task centre</h1>
      <ImportForm tenantId={tenantId} onStarted={() => void load()} />
      <section aria-labelledby="tasks-title">
        <h2 id="tasks-title">Tasks</h2>
        <Notice>{notice}</Notice>
        <ProblemAlert problem={problem} />
        {jobs === null ? (
          <p role="status">Loading tasks…</p>
        ) : jobs.length === 0 ? (
          <p>No imports or exports yet.</p>
        ) : (
          <table aria-label="Tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Started</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Rows</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => {
                const label = describeJob(job);
                const done = job.counts.succeeded + job.counts.failed;
                return (
                  <tr key={job.id}>
                    <td>{label}</td>
                    <td>{formatDate(job.created_at)}</td>
                    <td>
                      {STATUS[job.status]}
                      {job.error && <span className="field-error"> — {job.error}</span>}
                    </td>
                    <td>
                      {isActive(job) ? (
                        <Progress label={`Progress of ${label}`} value={done} max={job.counts.total || undefined} />
                      ) : (
                        <Progress label={`Progress of ${label}`} value={1} max={1} />
                      )}
                    </td>
                    <td>
                      {job.counts.total > 0 || job.status === "completed"
                        ? `${job.counts.succeeded} done${job.counts.failed ? `, ${job.counts.failed} failed` : ""}${job.counts.total ? ` of ${job.counts.total}` : ""}`
                        : "—"}
                    </td>
                    <td>
                      <div className="row-actions">
                      {job.status === "completed" && job.kind !== "department_move" &&
                        (links[job.id] ? (
                          <a href={links[job.id]} target="_blank" rel="noopener noreferrer">
                            {job.kind === "import" ? "Download result file" : "Download file"}
                          </a>
                        ) : (
                          <button type="button" onClick={() => void fetchLink(job)}>
                            {job.kind === "import" ? "Get result file" : "Get download"}
                          </button>
                        ))}
                      {!isActive(job) && (
                        <button type="button" onClick={() => void remove(job)} aria-label={`Remove ${label}`}>
                          Remove
                        </button>
                      )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </section>
    </main>
  );
}

function ImportForm({ tenantId, onStarted }: { tenantId: string; onStarted: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<"create" | "invite">("create");
  const [sendEmail, setSendEmail] = useState(true);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const template = async () => {
    setProblem(null);
    try {
      saveBlob(await importTemplate(tenantId), "roster-import-template.csv");
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setProblem(null);
    setNotice(null);
    try {
      const job = await runImport(tenantId, file, mode, sendEmail);
      setNotice(`Import started: ${job.counts.total} rows. Follow it below.`);
      onStarted();
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
      else setProblem({ status: 0, code: "network", title: "", detail: (error as Error).message, fields: {} });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="import-title">
      <h2 id="import-title">Import members</h2>
      <p>
        Fill in the template (one member per row; <code>email</code> and <code>name</code> are required), then upload it.
      </p>
      <button type="button" onClick={() => void template()}>
        Download template
      </button>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="import-file">CSV file</label>
          <input id="import-file" type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </div>
        <fieldset>
          <legend>Import as</legend>
          <label className="check-label">
            <input type="radio" name="mode" checked={mode === "create"} onChange={() => setMode("create")} /> Members
          </label>
          <label className="check-label">
            <input type="radio" name="mode" checked={mode === "invite"} onChange={() => setMode("invite")} /> Invitations
          </label>
        </fieldset>
        <label className="check-label">
          <input type="checkbox" checked={sendEmail} onChange={(e) => setSendEmail(e.target.checked)} /> Send emails
        </label>
        <Notice>{notice}</Notice>
        <ProblemAlert problem={problem} fields={[]} />
        <button type="submit" className="primary" disabled={!file || busy}>
          Upload and start import
        </button>
      </form>
    </section>
  );
}
