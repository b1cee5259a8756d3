import { api, call, idempotencyKey, type components } from "../api/client";

export type Job = components["schemas"]["Job"];
export type ExportRequest = components["schemas"]["CreateExportRequest"];

const tenant = (tenantId: string) => ({ path: { tenant_id: tenantId } });

export async function listJobs(tenantId: string) {
  return (await call(api.GET("/v1/tenants/{tenant_id}/jobs", { params: { ...tenant(tenantId), query: { limit: 50 } } }))).data;
}

export async function getJob(tenantId: string, jobId: string) {
  return (await call(api.GET("/v1/tenants/{tenant_id}/jobs/{job_id}", { params: { path: { tenant_id: tenantId, job_id: jobId } } }))).data;
}

export async function deleteJob(tenantId: string, jobId: string) {
  await call(api.DELETE("/v1/tenants/{tenant_id}/jobs/{job_id}", { params: { path: { tenant_id: tenantId, job_id: jobId } } }));
}

export async function createExport(tenantId: string, body: ExportRequest) {
  return (
    await call(
      api.POST("/v1/tenants/{tenant_id}/exports", {
        params: { ...tenant(tenantId), header: { "Idempotency-Key": idempotencyKey() } },
        body,
      }),
    )
  ).data;
}

/** The CSV template, as a file the browser saves. */
export async function importTemplate(tenantId: string): Promise<Blob> {
  const { data } = await call(
    api.GET("/v1/tenants/{tenant_id}/imports/template", { params: tenant(tenantId), parseAs: "blob" }),
  );
  return data as unknown as Blob;
}

/** Creates the import, uploads the file to its presigned URL, and starts it. */
export async function runImport(tenantId: string, file: File, mode: "create" | "invite", sendEmail: boolean) {
  const { data: created } = await call(
    api.POST("/v1/tenants/{tenant_id}/imports", {
      params: { ...tenant(tenantId), header: { "Idempotency-Key": idempotencyKey() } },
      body: { mode, send_email: sendEmail },
    }),
  );
  if (file.size > created.max_bytes) {
    throw new Error(`The file is larger than ${Math.round(created.max_bytes / 1048576)} MiB.`);
  }
  const upload = await fetch(created.upload_url, {
    method: "PUT",
    headers: { "content-type": created.upload_content_type },
    body: file,
  });
  if (!upload.ok) throw new Error(`The upload failed (${upload.status}).`);
  const { data: job } = await call(
    api.POST("/v1/tenants/{tenant_id}/imports/{job_id}/start", { params: { path: { tenant_id: tenantId, job_id: created.job.id } } }),
  );
  return job;
}

/** Saves a blob under a name, through a temporary link (no navigation away from the console). */
export function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}
