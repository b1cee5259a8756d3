// Sign-in, with a screen for every answer: wrong credentials, an unproven address (the
// verification mail is on its way), an expired password (change it here), too many attempts
// (wait, with Retry-After), several organisations (choose one), and the other refusals' detail.
import { useState, type FormEvent } from "react";
import { ProblemError, waitText, type Problem, type TenantChoice } from "../api/problem";
import { Link, navigate, useLocation } from "../app/router";
import { Field, Notice, ProblemAlert } from "../shared/ui";
import { changeExpiredPassword, resendVerification, signIn } from "./actions";
import { session } from "./session";
import { signInOutcome, type SignInOutcome } from "./signInOutcome";
import { useCountdown } from "./useCountdown";

export function homeOf(login: { platform_admin: boolean; tenant_id: string | null }): string {
  if (login.tenant_id) return `/tenants/${login.tenant_id}`;
  return login.platform_admin ? "/tenants" : "/me";
}

export default function SignIn() {
  const { query } = useLocation();
  const [email, setEmail] = useState(query.get("email") ?? "");
  const [password, setPassword] = useState("");
  // A link may name the organisation (?tenant=); a person in several is offered theirs by name.
  const [tenantId, setTenantId] = useState(query.get("tenant") ?? "");
  const [choices, setChoices] = useState<TenantChoice[] | null>(null);
  const [outcome, setOutcome] = useState<SignInOutcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const waiting = useCountdown(waitUntil);
  const ended = session.endReason();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      const login = await signIn(email, password, tenantId || undefined);
      navigate(homeOf(login), { replace: true });
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      const next = signInOutcome(error.problem);
      if (next.kind === "wait") setWaitUntil(Date.now() + next.seconds * 1000);
      if (next.kind === "choose_tenant") {
        setChoices(next.tenants);
        if (!next.tenants.some((t) => t.id === tenantId)) setTenantId("");
      }
      setOutcome(next);
    } finally {
      setBusy(false);
    }
  };

  if (outcome?.kind === "verify_email") {
    return <VerifyFirst email={email} onBack={() => setOutcome(null)} />;
  }
  if (outcome?.kind === "change_password") {
    return (
      <ChangeExpiredPassword
        email={email}
        current={password}
        changeToken={outcome.changeToken}
        tenantId={tenantId || undefined}
      />
    );
  }

  return (
    <main className="auth">
      <h1>Sign in to Roster</h1>
      {ended === "expired" && !outcome && <p className="notice">Your session ended. Sign in again.</p>}
      <form onSubmit={submit} noValidate>
        <Field label="Email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {choices && (
          <fieldset className="choices" aria-describedby="choose-tenant-why">
            <legend>Organisation</legend>
            <p id="choose-tenant-why" className={tenantId ? "hint" : "field-error"}>
              Your account belongs to several organisations: choose the one to sign in to.
            </p>
            {choices.map((choice) => (
              <label key={choice.id} className="choice">
                <input
                  type="radio"
                  name="tenant"
                  value={choice.id}
                  checked={tenantId === choice.id}
                  onChange={() => setTenantId(choice.id)}
                />
                {choice.name}
              </label>
            ))}
          </fieldset>
        )}
        {outcome?.kind === "wrong_credentials" && (
          <div role="alert" className="alert">
            <p>Wrong email or password.</p>
          </div>
        )}
        {outcome?.kind === "wait" && (
          <div role="alert" className="alert">
            <p>
              Too many sign-in attempts. Try again in {waitText(waiting || 1)}.
            </p>
          </div>
        )}
        {outcome?.kind === "refused" && <ProblemAlert problem={outcome.problem} fields={["email", "password"]} />}
        <button type="submit" className="primary" disabled={busy || waiting > 0 || (choices !== null && !tenantId)}>
          Sign in
        </button>
      </form>
      <p>
        <Link to={`/forgot-password${email ? `?email=${encodeURIComponent(email)}` : ""}`}>Forgot password?</Link>
      </p>
    </main>
  );
}

function VerifyFirst({ email, onBack }: { email: string; onBack: () => void }) {
  const [sent, setSent] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const resend = async () => {
    setProblem(null);
    try {
      await resendVerification(email);
      setSent(true);
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  };
  return (
    <main className="auth">
      <h1>Verify your email</h1>
      <p>
        Your email address is not verified yet. We have sent a verification link to <strong>{email}</strong>: open it
        to confirm your password, then sign in.
      </p>
      <Notice>{sent ? "A new verification link is on its way." : null}</Notice>
      <ProblemAlert problem={problem} />
      <div className="actions">
        <button type="button" onClick={resend}>
          Send the link again
        </button>
        <button type="button" onClick={onBack}>
          Back to sign-in
        </button>
      </div>
    </main>
  );
}

interface ChangeProps {
  email: string;
  current: string;
  changeToken: string;
  tenantId?: string;
}

function ChangeExpiredPassword({ email, current, changeToken, tenantId }: ChangeProps) {
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [mismatch, setMismatch] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setMismatch(next !== repeat);
    if (next !== repeat) return;
    setBusy(true);
    try {
      await changeExpiredPassword(changeToken, current, next);
      const login = await signIn(email, next, tenantId);
      navigate(homeOf(login), { replace: true });
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="auth">
      <h1>Change your password</h1>
      <p>Your password has expired or was chosen by someone else. Choose a new one to continue.</p>
      <form onSubmit={submit} noValidate>
        <Field
          label="New password"
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={(e) => setNext(e.target.value)}
          hint="At least 10 characters."
          error={problem?.fields.new_password}
        />
        <Field
          label="Repeat new password"
          type="password"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
          error={mismatch ? "The two passwords differ." : undefined}
        />
        <ProblemAlert problem={problem} fields={["new_password"]} />
        <button type="submit" className="primary" disabled={busy}>
          Change password
        </button>
      </form>
    </main>
  );
}
