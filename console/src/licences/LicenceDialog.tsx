// Bulk licence assignment and renewal, with the conflict step: the accounts that cannot take
// the change are listed with their reason, and "Remove conflicting accounts and continue" sends
// the request again without them (all or nothing each time, as the API is).
import { useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { Dialog, Field, Notice, ProblemAlert } from "../shared/ui";
import type { LicenceResult } from "./api";
import { conflictRows, withoutConflicts, type Account, type ConflictRow } from "./conflicts";

export interface LicenceDialogProps {
  mode: "assign" | "renew";
  accounts: Account[];
  /** Sends the request for these members with the value typed (expiry date or period days). */
  submit: (ids: string[], value: string) => Promise<LicenceResult>;
  onDone: (result: LicenceResult, remaining: Account[]) => void;
  onClose: () => void;
  initialValue: string;
}

export function LicenceDialog({ mode, accounts, submit, onDone, onClose, initialValue }: LicenceDialogProps) {
  const [value, setValue] = useState(initialValue);
  const [remaining, setRemaining] = useState(accounts);
  const [conflicts, setConflicts] = useState<ConflictRow[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResult] = useState<LicenceResult | null>(null);
  const [busy, setBusy] = useState(false);
  const title = mode === "assign" ? "Assign licences" : "Renew licences";

  const send = async (targets: Account[]) => {
    setBusy(true);
    setProblem(null);
    try {
      const answer = await submit(
        targets.map((a) => a.id),
        value,
      );
      setConflicts(null);
      setResult(answer);
      onDone(answer, targets);
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      if (error.problem.code === "licence_conflict" && error.problem.conflicts?.length) {
        setConflicts(conflictRows(error.problem.conflicts, targets));
      } else {
        setProblem(error.problem);
      }
    } finally {
      setBusy(false);
    }
  };

  const removeAndContinue = () => {
    if (!conflicts) return;
    const rest = withoutConflicts(
      remaining,
      conflicts.map((c) => ({ member_id: c.id, reason: "unknown" as const })),
    );
    setRemaining(rest);
    setConflicts(null);
    if (rest.length > 0) void send(rest);
    else setProblem({ status: 409, code: "licence_conflict", title: "", detail: "No selected account can take this change.", fields: {} });
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void send(remaining);
  };

  return (
    <Dialog title={title} open onClose={onClose} wide>
      {result ? (
        <>
          <Notice>
            {mode === "assign" ? "Licences assigned" : "Renewals queued"} for {result.member_ids.length} account
            {result.member_ids.length === 1 ? "" : "s"}. Seats {result.seats.used}/{result.seats.total}.
          </Notice>
          <div className="actions">
            <button type="button" className="primary" onClick={onClose}>
              Close
            </button>
          </div>
        </>
      ) : conflicts ? (
        <section aria-labelledby="conflict-title">
          <h3 id="conflict-title">Conflict</h3>
          <p>
            {conflicts.length} of the {remaining.length} selected accounts cannot take this change. Remove them and go
            on with the other {remaining.length - conflicts.length}?
          </p>
          <table aria-label="Conflicting accounts">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {conflicts.map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td>
                  <td>{c.email}</td>
                  <td>{c.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="actions">
            <button type="button" className="primary" onClick={removeAndContinue} disabled={busy}>
              Remove conflicting accounts and continue
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </section>
      ) : (
        <form onSubmit={onSubmit} noValidate>
          <p>
            {remaining.length} account{remaining.length === 1 ? "" : "s"} selected.
          </p>
          {mode === "assign" ? (
            <Field label="Expires on" type="date" required value={value} onChange={(e) => setValue(e.target.value)} error={problem?.fields.expires_at} />
          ) : (
            <Field
              label="Renewal period (days)"
              type="number"
              min={1}
              max={3650}
              required
              value={value}
              onChange={(e) => setValue(e.target.value)}
              error={problem?.fields.period_days}
            />
          )}
          <ProblemAlert problem={problem} fields={["expires_at", "period_days"]} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy || remaining.length === 0}>
              {mode === "assign" ? "Assign" : "Renew"}
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
