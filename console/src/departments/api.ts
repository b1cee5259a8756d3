import { api, call, idempotencyKey } from "../api/client";
import type { Department } from "./tree";

const path = "/v1/tenants/{tenant_id}/departments" as const;
const one = "/v1/tenants/{tenant_id}/departments/{department_id}" as const;

/** Every department of the tenant (the list pages like any other; trees are small). */
export async function listDepartments(tenantId: string): Promise<Department[]> {
  const all: Department[] = [];
  let cursor: string | undefined;
  do {
    const { data } = await call(api.GET(path, { params: { path: { tenant_id: tenantId }, query: { limit: 200, cursor } } }));
    all.push(...data.items);
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return all;
}

export async function createDepartment(tenantId: string, parentId: string, name: string) {
  return (
    await call(
      api.POST(path, {
        params: { path: { tenant_id: tenantId }, header: { "Idempotency-Key": idempotencyKey() } },
        body: { name, parent_id: parentId },
      }),
    )
  ).data;
}

/** Rename or move; a large move answers 202 with the job that finishes it. */
export async function updateDepartment(tenantId: string, id: string, change: { name?: string; parent_id?: string }) {
  const { data, response } = await call(
    api.PATCH(one, { params: { path: { tenant_id: tenantId, department_id: id } }, body: change }),
  );
  return { queued: response.status === 202, data };
}

export async function deleteDepartment(tenantId: string, id: string) {
  await call(api.DELETE(one, { params: { path: { tenant_id: tenantId, department_id: id } } }));
}
