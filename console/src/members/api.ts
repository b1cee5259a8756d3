import { api, call, idempotencyKey, type components, type paths } from "../api/client";

export type Member = components["schemas"]["Member"];
export type MemberPatch = components["schemas"]["MemberPatch"];
export type CreateMember = components["schemas"]["CreateMemberRequest"];
export type MemberQuery = NonNullable<paths["/v1/tenants/{tenant_id}/members"]["get"]["parameters"]["query"]>;

const list = "/v1/tenants/{tenant_id}/members" as const;
const one = "/v1/tenants/{tenant_id}/members/{member_id}" as const;

export const PAGE_SIZE = 100;

export async function listMembers(tenantId: string, query: MemberQuery, cursor: string | null) {
  const { data } = await call(
    api.GET(list, {
      params: { path: { tenant_id: tenantId }, query: { ...query, limit: PAGE_SIZE, cursor: cursor ?? undefined } },
    }),
  );
  // The admin view: the console's account page is for members holding `members.read`.
  return data as { items: Member[]; next_cursor: string | null };
}

/** A member and its version (ETag) for a later If-Match. */
export async function getMember(tenantId: string, id: string) {
  const { data, response } = await call(api.GET(one, { params: { path: { tenant_id: tenantId, member_id: id } } }));
  return { member: data as Member, etag: response.headers.get("etag") };
}

export async function updateMember(tenantId: string, id: string, patch: MemberPatch, etag: string | null) {
  const { data, response } = await call(
    api.PATCH(one, {
      params: { path: { tenant_id: tenantId, member_id: id }, header: etag ? { "If-Match": etag } : {} },
      body: patch,
    }),
  );
  return { member: data, etag: response.headers.get("etag") };
}

export async function deleteMember(tenantId: string, id: string) {
  await call(api.DELETE(one, { params: { path: { tenant_id: tenantId, member_id: id } } }));
}

export async function sendPasswordReset(tenantId: string, id: string) {
  await call(
    api.POST("/v1/tenants/{tenant_id}/members/{member_id}/reset-password", {
      params: { path: { tenant_id: tenantId, member_id: id } },
    }),
  );
}

export async function createMember(tenantId: string, body: CreateMember) {
  return (
    await call(
      api.POST(list, { params: { path: { tenant_id: tenantId }, header: { "Idempotency-Key": idempotencyKey() } }, body }),
    )
  ).data;
}

export async function bulkStatus(tenantId: string, ids: string[], status: "active" | "disabled") {
  return (
    await call(
      api.POST("/v1/tenants/{tenant_id}/members/bulk-status", {
        params: { path: { tenant_id: tenantId } },
        body: { member_ids: ids, status },
      }),
    )
  ).data;
}

export async function bulkUpdate(
  tenantId: string,
  ids: string[],
  set: { department_id?: string; position?: string | null; location?: string | null },
) {
  return (
    await call(
      api.POST("/v1/tenants/{tenant_id}/members/bulk-update", {
        params: { path: { tenant_id: tenantId } },
        body: { member_ids: ids, set },
      }),
    )
  ).data;
}
