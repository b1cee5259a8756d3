// The signed-in session, in memory only: never localStorage, sessionStorage or a readable
// cookie, so a script that gets into the page cannot carry a token away, and a reload signs out.
//
// Issue 29's refresh sessions (SPEC §9.4) will keep people signed in across reloads with an
// HttpOnly cookie the console never sees: `restore()` then asks `POST /v1/auth/refresh` for an
// access token on page load, and `expired()` tries the same once before signing out. Nothing
// else changes: the rest of the console reads the token through `session.token()` only.
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

let current: Session | null = null;
let endReason: EndReason = null;
const listeners = new Set<() => void>();

function emit() {
  for (const listener of listeners) listener();
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
    emit();
  },
  /** A fresh token for the same session (a password change answers one). */
  replaceToken(token: string, expiresIn: number) {
    if (!current) return;
    current = { ...current, token, expiresAt: Date.now() + expiresIn * 1000 };
    emit();
  },
  end(reason: EndReason = "signed_out") {
    current = null;
    endReason = reason;
    emit();
  },
  /** The API answered 401 to our token. Later: try `POST /v1/auth/refresh` once first. */
  expired() {
    if (current) session.end("expired");
  },
  /** On page load: no session survives a reload yet. Later: `POST /v1/auth/refresh`. */
  async restore(): Promise<Session | null> {
    return current;
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.current, session.current);
}
