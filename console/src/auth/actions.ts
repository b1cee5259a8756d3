// Sign-in and the password flows, as calls to the generated client.
import { api, call } from "../api/client";
import type { components } from "../api/schema";
import { session } from "./session";

type LoginResponse = components["schemas"]["LoginResponse"];

export async function signIn(email: string, password: string, tenantId?: string) {
  const { data } = await call(
    api.POST("/v1/auth/login", {
      body: { email, password, ...(tenantId ? { tenant_id: tenantId } : {}) },
    }),
  );
  session.start(data, email.trim().toLowerCase());
  return data;
}

/** Changes the password with the token a `password_expired` sign-in answered. */
export async function changeExpiredPassword(changeToken: string, current: string, next: string) {
  await call(
    api.POST("/v1/auth/password", {
      headers: { authorization: `Bearer ${changeToken}` },
      body: { current_password: current, new_password: next },
    }),
  );
}

export async function requestPasswordReset(email: string) {
  await call(api.POST("/v1/auth/password-reset/request", { body: { email } }));
}

export async function completePasswordReset(token: string, newPassword: string) {
  await call(api.POST("/v1/auth/password-reset", { body: { token, new_password: newPassword } }));
}

export async function verifyEmail(token: string, password: string) {
  await call(api.POST("/v1/auth/verify-email", { body: { token, password } }));
}

export async function resendVerification(email: string) {
  await call(api.POST("/v1/auth/verify-email/resend", { body: { email } }));
}

/**
 * Spends the session's refresh cookie for a fresh access token (and the next refresh token, set
 * as the cookie); null when it refreshes nothing. Refreshes are serialised across the tabs of
 * the browser (Web Locks): two tabs spending the same refresh token at once would be taken for
 * a replay, which ends the session.
 */
export async function refreshSession(): Promise<LoginResponse | null> {
  const spend = async () => {
    const { data } = await api.POST("/v1/auth/refresh", {});
    return data ?? null;
  };
  return navigator.locks ? navigator.locks.request("roster-refresh", spend) : spend();
}

/** The access token's renewal (see auth/session.ts). */
export async function renewAccessToken(): Promise<boolean> {
  const login = await refreshSession();
  if (!login) return false;
  session.replaceToken(login.access_token, login.expires_in);
  return true;
}

/** On page load: the session the refresh cookie keeps, if any (none is not an error). */
export async function restoreSession(): Promise<void> {
  try {
    const login = await refreshSession();
    if (!login) return;
    const { data: me } = await call(
      api.GET("/v1/me", { headers: { authorization: `Bearer ${login.access_token}` } }),
    );
    session.start(login, me.user.email);
  } catch {
    // No connection: the sign-in screen says so when the person tries.
  }
}

/** Ends the session on the server (its refresh cookie and access tokens) and here. */
export async function signOut(): Promise<void> {
  try {
    await api.POST("/v1/auth/logout", {});
  } catch {
    // Signed out here even when Roster cannot be reached; the session then idles out.
  } finally {
    session.end("signed_out");
  }
}
