// What the sign-in screen does next for each refusal of POST /v1/auth/login (SPEC §3, §8.1).
import type { Problem, TenantChoice } from "../api/problem";

export type SignInOutcome =
  | { kind: "wrong_credentials" }
  | { kind: "verify_email" }
  | { kind: "change_password"; changeToken: string }
  | { kind: "wait"; seconds: number }
  | { kind: "choose_tenant"; tenants: TenantChoice[] }
  | { kind: "refused"; problem: Problem };

export function signInOutcome(problem: Problem): SignInOutcome {
  if (problem.status === 401) return { kind: "wrong_credentials" };
  if (problem.code === "email_unverified") return { kind: "verify_email" };
  if (problem.code === "password_expired" && problem.accessToken) {
    return { kind: "change_password", changeToken: problem.accessToken };
  }
  if (problem.status === 429) return { kind: "wait", seconds: problem.retryAfter ?? 60 };
  if (problem.code === "validation_failed" && problem.fields.tenant_id && problem.tenants?.length) {
    return { kind: "choose_tenant", tenants: problem.tenants };
  }
  return { kind: "refused", problem };
}
