// The one way the console speaks to Roster: openapi-fetch over the types generated from
// ../openapi.yaml (src/api/schema.d.ts, `npm run gen`). Every call carries the in-memory access
// token; a refusal becomes a ProblemError.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { NETWORK_PROBLEM, ProblemError, toProblem } from "./problem";
import { session } from "../auth/session";

export type { paths, components } from "./schema";

const COOKIE_ROUTES = ["/v1/auth/refresh", "/v1/auth/logout"];

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    // Refresh and sign-out prove the session with its cookie; a 401 there is not the token's.
    const cookieOnly = COOKIE_ROUTES.some((path) => new URL(request.url).pathname === path);
    if (token && !cookieOnly && !request.headers.has("authorization")) {
      request.headers.set("authorization", `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ request, response }) {
    // A token that stopped working: renewed from the refresh cookie, or back to sign-in.
    if (response.status === 401 && session.token() && request.headers.get("authorization") === `Bearer ${session.token()}`) {
      session.expired();
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful answer, or a ProblemError (network failures included). */
export async function call<T>(request: Promise<Answer<T>>): Promise<{ data: T; response: Response }> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw new ProblemError(NETWORK_PROBLEM);
  }
  if (!answer.response.ok) {
    throw new ProblemError(toProblem(answer.response.status, answer.error, answer.response.headers));
  }
  return { data: answer.data as T, response: answer.response };
}

/** A fresh key for a create that must not happen twice when retried (Idempotency-Key). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
