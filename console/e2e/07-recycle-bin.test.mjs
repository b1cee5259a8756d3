// Seed story: the recycle bin (seed 000 §2.5 ①): a deleted account is restored into a
// department the admin chooses, and is found there.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addDepartment, addMember, assertClean, closeBrowser, expectOk, newPage, shoot, signInUI, tenantWithOwner, unique } from "./support.mjs";

let owner;
let lab;
let gus;
before(async () => {
  owner = await tenantWithOwner("Bin Corp");
  lab = await addDepartment(owner, "Lab");
  gus = await addMember(owner, { email: `${unique("gus")}@console.test`, name: "Gus Gone", position: "Chemist" });
  await expectOk(204, "DELETE", `/v1/tenants/${owner.tenant.id}/members/${gus.id}`, { token: owner.token });
});
after(closeBrowser);

test("restores a deleted member into a chosen department", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  await page.getByRole("link", { name: "Recycle bin" }).click();
  const table = page.getByRole("table", { name: "Deleted members" });
  await table.getByRole("row").filter({ hasText: "Gus Gone" }).waitFor();
  await shoot(page, "recycle-bin");
  await table.getByRole("button", { name: "Restore Gus Gone" }).click();
  const dialog = page.getByRole("dialog", { name: "Restore Gus Gone" });
  await dialog.getByLabel("Restore into department").selectOption({ label: "Bin Corp/Lab" });
  await shoot(page, "recycle-bin-restore");
  await dialog.getByRole("button", { name: "Restore" }).click();
  await page.getByRole("status").filter({ hasText: "Gus Gone is restored into Bin Corp/Lab." }).waitFor();
  await page.getByText("The recycle bin is empty.").waitFor();

  await page.getByRole("link", { name: "Accounts" }).click();
  await page.getByRole("tree", { name: "Departments" }).getByRole("treeitem", { name: "Lab" }).click();
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Gus Gone" }).waitFor();
  const back = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/members/${gus.id}`, { token: owner.token });
  assert.deepEqual([back.status, back.department_id, back.position], ["active", lab.id, "Chemist"]);
  assertClean(page);
  await page.context().close();
});
