import { api, call, type components } from "../api/client";

export type Tenant = components["schemas"]["Tenant"];

export async function getTenant(tenantId: string) {
  return (await call(api.GET("/v1/tenants/{tenant_id}", { params: { path: { tenant_id: tenantId } } }))).data;
}

export async function listTenants(cursor?: string) {
  return (await call(api.GET("/v1/tenants", { params: { query: { limit: 100, cursor } } }))).data;
}

export async function getMe() {
  return (await call(api.GET("/v1/me"))).data;
}
