// What the API answered when it refused, in the words the console shows: a problem document's
// `detail`, its field errors by field, and what some codes carry (Retry-After, licence conflicts,
// the change-password token of `password_expired`).
import type { components } from "./schema";

export type ErrorCode = components["schemas"]["ErrorCode"];
export type LicenceConflict = components["schemas"]["LicenceConflict"];
export type TenantChoice = NonNullable<components["schemas"]["Problem"]["tenants"]>[number];

export interface Problem {
  status: number;
  code: ErrorCode | "network";
  title: string;
  detail: string;
  /** Field errors by field path (`new_password`, `member_ids[2]`, `body`). */
  fields: Record<string, string>;
  /** Seconds to wait (429, 503), from `Retry-After` or the body's `retry_after`. */
  retryAfter?: number;
  conflicts?: LicenceConflict[];
  accessToken?: string;
  memberId?: string;
  /** The tenants a person in several may sign in to, by name (sign-in's `validation_failed`). */
  tenants?: TenantChoice[];
}

/** Thrown by `call` for any answer that is not a success. */
export class ProblemError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail);
    this.name = "ProblemError";
    this.problem = problem;
  }
}

const FALLBACK: Record<number, string> = {
  400: "The request is invalid.",
  401: "Sign in again.",
  403: "You are not allowed to do this.",
  404: "Not found.",
  409: "This conflicts with the current state.",
  412: "Changed by someone else meanwhile.",
  413: "Too large.",
  429: "Too many attempts.",
  500: "Roster failed to answer. Try again.",
  503: "Roster is busy. Try again shortly.",
};

/** A problem from an answer's status, body (parsed JSON or anything) and headers. */
export function toProblem(status: number, body: unknown, headers?: Headers): Problem {
  const doc = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  if (Array.isArray(doc.errors)) {
    for (const e of doc.errors as { field?: unknown; message?: unknown }[]) {
      if (typeof e?.field === "string" && typeof e.message === "string") {
        fields[e.field] = fields[e.field] ? `${fields[e.field]}; ${e.message}` : e.message;
      }
    }
  }
  const header = headers?.get("retry-after");
  const retryAfter =
    header && /^\d+$/.test(header)
      ? Number(header)
      : typeof doc.retry_after === "number"
        ? doc.retry_after
        : undefined;
  return {
    status,
    code: (typeof doc.code === "string" ? doc.code : codeOf(status)) as ErrorCode,
    title: typeof doc.title === "string" ? doc.title : "Error",
    detail:
      typeof doc.detail === "string" && doc.detail
        ? doc.detail
        : (FALLBACK[status] ?? `Unexpected answer (${status}).`),
    fields,
    retryAfter,
    conflicts: Array.isArray(doc.conflicts) ? (doc.conflicts as LicenceConflict[]) : undefined,
    accessToken: typeof doc.access_token === "string" ? doc.access_token : undefined,
    memberId: typeof doc.member_id === "string" ? doc.member_id : undefined,
    tenants: Array.isArray(doc.tenants) ? (doc.tenants as TenantChoice[]) : undefined,
  };
}

function codeOf(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "validation_failed";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 412:
      return "precondition_failed";
    case 413:
      return "payload_too_large";
    case 429:
      return "rate_limited";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

export const NETWORK_PROBLEM: Problem = {
  status: 0,
  code: "network",
  title: "No connection",
  detail: "Roster cannot be reached. Check the connection and try again.",
  fields: {},
};

/** "3 minutes", "45 seconds": how long a Retry-After asks to wait. */
export function waitText(seconds: number): string {
  if (seconds >= 3600) {
    const hours = Math.ceil(seconds / 3600);
    return `${hours} hour${hours === 1 ? "" : "s"}`;
  }
  if (seconds >= 90) {
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minutes`;
  }
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

/**
 * The sentence the console shows for a problem: the server's `detail`, with what to do next
 * where the code calls for it. Field errors are shown beside their fields, not here.
 */
export function describe(problem: Problem): string {
  switch (problem.code) {
    case "precondition_failed":
      return "Changed by someone else meanwhile — reload to see the current version, then make your change again.";
    case "rate_limited":
      return problem.retryAfter !== undefined
        ? `Too many attempts. Try again in ${waitText(problem.retryAfter)}.`
        : `Too many attempts. ${problem.detail}`;
    case "unavailable":
      return problem.retryAfter !== undefined
        ? `Roster is busy. Try again in ${waitText(problem.retryAfter)}.`
        : problem.detail;
    default:
      return capitalise(problem.detail);
  }
}

function capitalise(text: string): string {
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** The field errors no field of a form shows (a form passes the fields it has). */
export function otherFieldErrors(problem: Problem, shown: string[]): string[] {
  return Object.entries(problem.fields)
    .filter(([field]) => !shown.includes(field))
    .map(([field, message]) => `${field}: ${message}`);
}
