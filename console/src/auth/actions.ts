// Sign-in and the password flows, as calls to the generated client.
import { api, call } from "../api/client";
import { session } from "./session";

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
