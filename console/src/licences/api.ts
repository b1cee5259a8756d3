import { api, call, type components } from "../api/client";

export type LicenceSummary = components["schemas"]["LicenceSummary"];
export type LicenceResult = components["schemas"]["LicenceResult"];

const params = (tenantId: string) => ({ params: { path: { tenant_id: tenantId } } });

export async function getLicences(tenantId: string) {
  return (await call(api.GET("/v1/tenants/{tenant_id}/licences", params(tenantId)))).data;
}

export async function assignLicences(tenantId: string, ids: string[], expiresAt: string) {
  return (
    await call(
      api.POST("/v1/tenants/{tenant_id}/licences/assign", { ...params(tenantId), body: { member_ids: ids, expires_at: expiresAt, skip_conflicts: false } }),
    )
  ).data;
}

export async function renewLicences(tenantId: string, ids: string[], periodDays: number) {
  return (
    await call(
      api.POST("/v1/tenants/{tenant_id}/licences/renew", { ...params(tenantId), body: { member_ids: ids, period_days: periodDays, skip_conflicts: false } }),
    )
  ).data;
}

export async function setMemberLicence(tenantId: string, memberId: string, expiresAt: string) {
  const { data, response } = await call(
    api.PUT("/v1/tenants/{tenant_id}/members/{member_id}/licence", {
      params: { path: { tenant_id: tenantId, member_id: memberId } },
      body: { expires_at: expiresAt },
    }),
  );
  return { member: data, etag: response.headers.get("etag") };
}

export async function revokeMemberLicence(tenantId: string, memberId: string) {
  await call(
    api.DELETE("/v1/tenants/{tenant_id}/members/{member_id}/licence", {
      params: { path: { tenant_id: tenantId, member_id: memberId } },
    }),
  );
}

/** The end of `date` (yyyy-mm-dd) in UTC, as the API's RFC 3339 timestamp. */
export function endOfDay(date: string): string {
  return `${date}T23:59:59Z`;
}

/** yyyy-mm-dd `days` from today. */
export function daysFromToday(days: number): string {
  return new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);
}
