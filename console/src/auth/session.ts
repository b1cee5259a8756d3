// The signed-in session. The access token lives in memory only: never localStorage,
// sessionStorage or a readable cookie, so a script that gets into the page cannot carry it away.
// What survives a reload is the session's refresh token, in the HttpOnly
// `__Secure-roster_refresh` cookie the console never sees (SPEC §9.4): on load, before the access
// token expires, and after a 401, the console spends it (`POST /v1/auth/refresh`, through the
// renewal auth/actions.ts registers) for a fresh access token; when it refreshes nothing the
// session is over and the console signs in again.
import { useSyncExternalStore } from "react";
import type { components } from "../api/schema";

type LoginResponse = components["schemas"]["LoginResponse"];

export interface Session {
  token: string;
  email: string;
  tenantId: string | null;
  memberId: string | null;
  platformAdmin: boolean;
  expiresAt: number;
}

/** Why the last session ended, for the sign-in screen to say. */
export type EndReason = "signed_out" | "expired" | null;

/** Renews the access token of the current session; false when the session is over. */
export type Renewal = () => Promise<boolean>;

/** How long before its expiry an access token is renewed. */
const RENEW_BEFORE_MS = 60_000;

let current: Session | null = null;
let endReason: EndReason = null;
let renewal: Renewal | null = null;
let renewing: Promise<boolean> | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();

function emit() {
  for (const listener of listeners) listener();
}

function scheduleRenewal() {
  clearTimeout(timer);
  if (!current || !renewal) return;
  timer = setTimeout(() => void session.renew(), Math.max(current.expiresAt - Date.now() - RENEW_BEFORE_MS, 0));
}

export const session = {
  token(): string | null {
    return current?.token ?? null;
  },
  current(): Session | null {
    return current;
  },
  endReason(): EndReason {
    return endReason;
  },
  start(login: LoginResponse, email: string) {
    current = {
      token: login.access_token,
      email,
      tenantId: login.tenant_id,
      memberId: login.member_id,
      platformAdmin: login.platform_admin,
      expiresAt: Date.now() + login.expires_in * 1000,
    };
    endReason = null;
    scheduleRenewal();
    emit();
  },
  /** A fresh token for the same session (a refresh, or a password change, answers one). */
  replaceToken(token: string, expiresIn: number) {
    if (!current) return;
    current = { ...current, token, expiresAt: Date.now() + expiresIn * 1000 };
    scheduleRenewal();
    emit();
  },
  end(reason: EndReason = "signed_out") {
    clearTimeout(timer);
    current = null;
    endReason = reason;
    emit();
  },
  /** How the session renews its access token (auth/actions.ts, which speaks to the API). */
  renewWith(renew: Renewal) {
    renewal = renew;
    scheduleRenewal();
  },
  /**
   * Renews the access token once, however many callers ask at the same time (several requests
   * answered 401 together); ends the session when it cannot be renewed.
   */
  renew(): Promise<boolean> {
    if (!current || !renewal) return Promise.resolve(false);
    renewing ??= renewal()
      .catch(() => false)
      .then((renewed) => {
        if (!renewed) session.end("expired");
        return renewed;
      })
      .finally(() => {
        renewing = null;
      });
    return renewing;
  },
  /** The API answered 401 to our token: renew it, or sign in again. */
  expired() {
    void session.renew();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.current, session.current);
}
