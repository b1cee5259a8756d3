// Routes and the signed-in frame. Only sign-in and the password pages are in the first load;
// every signed-in screen is its own chunk, loaded when first opened.
import { Suspense, lazy, useEffect } from "react";
import SignIn from "../auth/SignIn";
import { ForgotPassword, SetPassword, VerifyEmail } from "../auth/PasswordPages";
import { signOut } from "../auth/actions";
import { useSession } from "../auth/session";
import { Link, match, navigate, useLocation } from "./router";

const AccountPage = lazy(() => import("../members/AccountPage"));
const TaskCentre = lazy(() => import("../jobs/TaskCentre"));
const RecycleBin = lazy(() => import("../recycle-bin/RecycleBin"));
const Organisations = lazy(() => import("../tenants/Organisations"));

const PUBLIC: Record<string, () => React.JSX.Element> = {
  "/sign-in": SignIn,
  "/login": SignIn,
  "/forgot-password": ForgotPassword,
  "/set-password": SetPassword,
  "/verify-email": VerifyEmail,
};

export function App() {
  const { path } = useLocation();
  const current = useSession();
  const Public = PUBLIC[path];

  useEffect(() => {
    if (!Public && !current) navigate("/sign-in", { replace: true });
  }, [Public, current]);

  useEffect(() => {
    const titles: Record<string, string> = { "/sign-in": "Sign in", "/login": "Sign in", "/forgot-password": "Reset password", "/set-password": "Set password", "/verify-email": "Verify email" };
    document.title = `${titles[path] ?? (path.endsWith("/tasks") ? "Task centre" : path.endsWith("/recycle-bin") ? "Recycle bin" : "Accounts")} · Roster`;
  }, [path]);

  if (Public) return <Public />;
  if (!current) return null;
  if (path === "/") {
    navigate(current.tenantId ? `/tenants/${current.tenantId}` : "/tenants", { replace: true });
    return null;
  }
  return (
    <Shell>
      <Suspense fallback={<p role="status">Loading…</p>}>
        <Screen path={path} />
      </Suspense>
    </Shell>
  );
}

function Screen({ path }: { path: string }) {
  let params = match("/tenants/:tenant", path);
  if (params) return <AccountPage key={params.tenant} tenantId={params.tenant} />;
  if ((params = match("/tenants/:tenant/tasks", path))) return <TaskCentre tenantId={params.tenant} />;
  if ((params = match("/tenants/:tenant/recycle-bin", path))) return <RecycleBin tenantId={params.tenant} />;
  if (path === "/tenants" || path === "/me") return <Organisations />;
  return (
    <main className="page">
      <h1>Not found</h1>
      <p>
        <Link to="/">Back to the start</Link>
      </p>
    </main>
  );
}

function Shell({ children }: { children: React.ReactNode }) {
  const { path } = useLocation();
  const current = useSession();
  const tenant = match("/tenants/:tenant", path) ?? match("/tenants/:tenant/:screen", path);
  const here = (to: string) => (path === to ? "page" : undefined);
  return (
    <>
      <header className="shell">
        <span className="brand">Roster</span>
        <nav aria-label="Main">
          {tenant && (
            <>
              <Link to={`/tenants/${tenant.tenant}`} aria-current={here(`/tenants/${tenant.tenant}`)}>
                Accounts
              </Link>
              <Link to={`/tenants/${tenant.tenant}/tasks`} aria-current={here(`/tenants/${tenant.tenant}/tasks`)}>
                Task centre
              </Link>
              <Link to={`/tenants/${tenant.tenant}/recycle-bin`} aria-current={here(`/tenants/${tenant.tenant}/recycle-bin`)}>
                Recycle bin
              </Link>
            </>
          )}
          <Link to="/tenants" aria-current={here("/tenants")}>
            Organisations
          </Link>
        </nav>
        <span className="who">{current?.email}</span>
        <button
          type="button"
          onClick={async () => {
            await signOut();
            navigate("/sign-in", { replace: true });
          }}
        >
          Sign out
        </button>
      </header>
      {children}
    </>
  );
}
