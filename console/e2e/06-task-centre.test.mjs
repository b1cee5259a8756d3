// Seed story: export and import through the task centre (seed 000 §2.3 ⑥, seed 003): exports of
// the whole organisation, a department or the selection as CSV or Excel; the import template,
// the upload, the start, progress, and the result file.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addDepartment, addMember, assertClean, closeBrowser, newPage, shoot, signInUI, tenantWithOwner, unique } from "./support.mjs";

let owner;
let ops;
before(async () => {
  owner = await tenantWithOwner("Task Corp");
  ops = await addDepartment(owner, "Ops");
  await addMember(owner, { email: `${unique("oli")}@console.test`, name: "Oli Ops", department_id: ops.id });
  await addMember(owner, { email: `${unique("rex")}@console.test`, name: "Rex Root" });
});
after(closeBrowser);

/** Waits for the task's row to say Completed, then fetches its file through the link it shows. */
async function fileOf(page, task, button, link) {
  const tasks = page.getByRole("table", { name: "Tasks" });
  const row = tasks.getByRole("row").filter({ hasText: task }).first();
  await row.getByText("Completed").waitFor({ timeout: 60000 });
  await row.getByRole("button", { name: button }).click();
  const href = await row.getByRole("link", { name: link }).getAttribute("href");
  const response = await fetch(href);
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

test("exports the whole organisation as Excel and a department as CSV, downloaded from the task centre", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Oli Ops" }).waitFor();
  await page.getByRole("button", { name: "Export" }).click();
  let dialog = page.getByRole("dialog", { name: "Export members" });
  await dialog.getByRole("radio", { name: "The whole organisation" }).check();
  await dialog.getByRole("radio", { name: "Excel" }).check();
  await shoot(page, "export-dialog");
  await dialog.getByRole("button", { name: "Export" }).click();
  await page.getByRole("heading", { name: "Task centre" }).waitFor();
  const xlsx = await fileOf(page, "Export of the whole organisation (Excel)", "Get download", "Download file");
  assert.equal(xlsx.subarray(0, 2).toString(), "PK", "an Excel file");

  await page.getByRole("link", { name: "Accounts" }).click();
  await page.getByRole("tree", { name: "Departments" }).getByRole("treeitem", { name: "Ops" }).click();
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Oli Ops" }).waitFor();
  await page.getByRole("button", { name: "Export" }).click();
  dialog = page.getByRole("dialog", { name: "Export members" });
  await dialog.getByRole("radio", { name: "Department Task Corp/Ops" }).check();
  await dialog.getByRole("radio", { name: "CSV" }).check();
  await dialog.getByRole("button", { name: "Export" }).click();
  const csv = (await fileOf(page, "Export of the department (CSV)", "Get download", "Download file")).toString("utf8");
  assert.match(csv, /Oli Ops/);
  assert.doesNotMatch(csv, /Rex Root/);
  await page.getByRole("progressbar").first().waitFor();
  await shoot(page, "task-centre-exports");
  assertClean(page);
  await page.context().close();
});

test("imports members: template, upload, start, progress and the result file", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  await page.getByRole("button", { name: "Import" }).click();
  await page.getByRole("heading", { name: "Import members" }).waitFor();

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download template" }).click()]);
  assert.equal(download.suggestedFilename(), "roster-import-template.csv");
  const template = (await (await download.createReadStream()).toArray()).join("");
  assert.match(template, /^\uFEFF?email,name,department/);

  const csv = [
    "email,name,department,position",
    `${unique("ivy")}@console.test,Ivy Import,Ops,Analyst`,
    `${unique("ian")}@console.test,Ian Import,,Clerk`,
    "not-an-email,Bad Row,,",
  ].join("\r\n");
  await page.getByLabel("CSV file").setInputFiles({ name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByRole("radio", { name: "Members" }).check();
  await page.getByRole("checkbox", { name: "Send emails" }).uncheck();
  await shoot(page, "task-centre-import");
  await page.getByRole("button", { name: "Upload and start import" }).click();
  await page.getByRole("status").filter({ hasText: "Import started: 3 rows." }).waitFor();
  const result = (await fileOf(page, "Import (create members)", "Get result file", "Download result file")).toString("utf8");
  assert.match(result, /created/);
  assert.match(result, /failed/);
  const row = page.getByRole("table", { name: "Tasks" }).getByRole("row").filter({ hasText: "Import (create members)" });
  await row.getByText("2 done, 1 failed of 3").waitFor();
  await shoot(page, "task-centre");

  await page.getByRole("link", { name: "Accounts" }).click();
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Ivy Import" }).waitFor();
  assertClean(page);
  await page.context().close();
});
