// The public pages behind mailed links and the reset request: ask for a reset mail
// (/forgot-password), set a new password from a reset or set-password link
// (/set-password?token=), prove the address and set the password (/verify-email?token=).
import { useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { Link, useLocation } from "../app/router";
import { Field, Notice, ProblemAlert } from "../shared/ui";
import { completePasswordReset, requestPasswordReset, verifyEmail } from "./actions";

export function ForgotPassword() {
  const { query } = useLocation();
  const [email, setEmail] = useState(query.get("email") ?? "");
  const [sent, setSent] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    try {
      await requestPasswordReset(email);
      setSent(true);
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  };
  return (
    <main className="auth">
      <h1>Reset your password</h1>
      {sent ? (
        <Notice>If {email} has a Roster account, a link to set a new password is on its way. It works once, for one day.</Notice>
      ) : (
        <form onSubmit={submit} noValidate>
          <Field label="Email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} error={problem?.fields.email} />
          <ProblemAlert problem={problem} fields={["email"]} />
          <button type="submit" className="primary">
            Send reset link
          </button>
        </form>
      )}
      <p>
        <Link to="/sign-in">Back to sign-in</Link>
      </p>
    </main>
  );
}

/** The new-password form both mailed links share. */
function NewPasswordPage({ title, intro, action, done }: { title: string; intro: string; action: (token: string, password: string) => Promise<void>; done: string }) {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [finished, setFinished] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setMismatch(password !== repeat);
    if (password !== repeat) return;
    try {
      await action(token, password);
      setFinished(true);
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  };
  if (finished) {
    return (
      <main className="auth">
        <h1>{title}</h1>
        <Notice>{done}</Notice>
        <p>
          <Link to="/sign-in">Sign in</Link>
        </p>
      </main>
    );
  }
  const tokenError = problem?.fields.token
    ? "This link is invalid, used or expired. Ask for a new one."
    : !token
      ? "This page needs the link from your mail."
      : undefined;
  return (
    <main className="auth">
      <h1>{title}</h1>
      <p>{intro}</p>
      {tokenError && (
        <div role="alert" className="alert">
          <p>{tokenError}</p>
          <p>
            <Link to="/forgot-password">Send me a new link</Link>
          </p>
        </div>
      )}
      <form onSubmit={submit} noValidate>
        <Field
          label="New password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          hint="At least 10 characters."
          error={problem?.fields.new_password ?? problem?.fields.password}
        />
        <Field
          label="Repeat new password"
          type="password"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
          error={mismatch ? "The two passwords differ." : undefined}
        />
        <ProblemAlert problem={problem} fields={["new_password", "password", "token"]} />
        <button type="submit" className="primary" disabled={!token}>
          Set password
        </button>
      </form>
    </main>
  );
}

export function SetPassword() {
  return (
    <NewPasswordPage
      title="Set a new password"
      intro="Choose the password you will sign in with."
      action={completePasswordReset}
      done="Your password is set. Sign in with it."
    />
  );
}

export function VerifyEmail() {
  return (
    <NewPasswordPage
      title="Verify your email"
      intro="Confirm your address by choosing the password you will sign in with (you may type the one you were given)."
      action={verifyEmail}
      done="Your email is verified and your password set. Sign in with it."
    />
  );
}
