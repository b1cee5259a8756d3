// The organisation picker. Platform admins (and reseller admins) choose among the tenants they
// manage (GET /v1/tenants) and act in it with their own token. A person who is a member of
// several organisations holds a token for one at a time (POST /v1/auth/login takes
// `tenant_id`), so switching signs in again to the chosen one.
import { useEffect, useState, type FormEvent } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { Link, navigate } from "../app/router";
import { signIn } from "../auth/actions";
import { homeOf } from "../auth/SignIn";
import { useSession } from "../auth/session";
import { Dialog, Field, ProblemAlert } from "../shared/ui";
import { getMe, listTenants, type Tenant } from "./api";

type Me = Awaited<ReturnType<typeof getMe>>;

export default function Organisations() {
  const session = useSession();
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [switchTo, setSwitchTo] = useState<string | null>(null);

  useEffect(() => {
    const fail = (error: unknown) => {
      if (error instanceof ProblemError) setProblem(error.problem);
    };
    getMe().then(setMe, fail);
    if (session?.platformAdmin)
      listTenants().then((page) => {
        setTenants(page.items);
        setCursor(page.next_cursor);
      }, fail);
  }, [session?.platformAdmin]);

  const memberships = me?.memberships.filter((m) => m.status === "active") ?? [];
  return (
    <main className="page">
      <h1>Organisations</h1>
      <ProblemAlert problem={problem} />
      {session?.platformAdmin && (
        <section aria-labelledby="managed-title">
          <h2 id="managed-title">Organisations you manage</h2>
          {tenants === null ? (
            <p role="status">Loading…</p>
          ) : (
            <table aria-label="Organisations">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Plan</th>
                  <th scope="col">Members</th>
                  <th scope="col">Seats</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {tenants.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <Link to={`/tenants/${t.id}`}>{t.name}</Link>
                    </td>
                    <td>{t.kind}</td>
                    <td>{t.plan}</td>
                    <td>
                      {t.member_count}/{t.member_quota}
                    </td>
                    <td>
                      {t.seats.used}/{t.seats.total}
                    </td>
                    <td>{t.status}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {cursor && (
            <button
              type="button"
              onClick={() =>
                listTenants(cursor).then(
                  (page) => {
                    setTenants((current) => [...(current ?? []), ...page.items]);
                    setCursor(page.next_cursor);
                  },
                  (error) => error instanceof ProblemError && setProblem(error.problem),
                )
              }
            >
              Load more
            </button>
          )}
        </section>
      )}
      {memberships.length > 0 && (
        <section aria-labelledby="mine-title">
          <h2 id="mine-title">Your memberships</h2>
          <ul>
            {memberships.map((m) => (
              <li key={m.tenant_id}>
                Organisation {m.tenant_id} ({m.role}){" "}
                {m.tenant_id === session?.tenantId ? (
                  <Link to={`/tenants/${m.tenant_id}`}>Open</Link>
                ) : (
                  <button type="button" onClick={() => setSwitchTo(m.tenant_id)}>
                    Switch to this organisation
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {me && !session?.platformAdmin && memberships.length === 0 && <p>You are not a member of any organisation yet. Accept an invitation to join one.</p>}
      {switchTo && session && <SwitchDialog email={session.email} tenantId={switchTo} onClose={() => setSwitchTo(null)} />}
    </main>
  );
}

function SwitchDialog({ email, tenantId, onClose }: { email: string; tenantId: string; onClose: () => void }) {
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const login = await signIn(email, password, tenantId);
      navigate(homeOf(login));
    } catch (error) {
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  };
  return (
    <Dialog title="Switch organisation" open onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <p>Sign in to organisation {tenantId} with your password.</p>
        <Field label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        <ProblemAlert problem={problem} />
        <div className="actions">
          <button type="submit" className="primary">
            Switch
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
