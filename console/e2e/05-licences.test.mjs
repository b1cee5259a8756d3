// Seed story: bulk operations (seed 000 §2.3 ④⑤, seed 004 §V.2): licence assignment with the
// conflict dialog (remove the conflicting accounts and go on), renewal, enable/disable, and
// bulk edit of department, position and location.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addDepartment, addMember, assertClean, closeBrowser, expectOk, newPage, shoot, signInUI, tenantWithOwner, unique } from "./support.mjs";

let owner;
let people;
let lab;
before(async () => {
  owner = await tenantWithOwner("Seat Corp");
  lab = await addDepartment(owner, "Lab");
  people = {};
  for (const name of ["Ann Able", "Ben Bound", "Cat Cold", "Dan Due"]) {
    people[name] = await addMember(owner, { email: `${unique(name.split(" ")[0].toLowerCase())}@console.test`, name });
  }
  const soon = new Date(Date.now() + 5 * 86400000).toISOString().replace(/\.\d+Z$/, "Z");
  await expectOk(200, "PUT", `/v1/tenants/${owner.tenant.id}/members/${people["Ben Bound"].id}/licence`, { token: owner.token, body: { expires_at: soon } });
  await expectOk(200, "PATCH", `/v1/tenants/${owner.tenant.id}/members/${people["Cat Cold"].id}`, { token: owner.token, body: { status: "disabled" } });
  await expectOk(200, "PATCH", `/v1/tenants/${owner.tenant.id}`, { token: owner.admin, body: { feature_flags: { licence_renewal: true } } });
});
after(closeBrowser);

const select = async (page, ...names) => {
  for (const name of names) await page.getByRole("checkbox", { name: `Select ${name}` }).check();
};

test("bulk licence assignment: the conflict dialog removes the conflicting accounts and goes on", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Ann Able" }).waitFor();
  await page.getByText("Seats 1/5").waitFor();
  await select(page, "Ann Able", "Ben Bound", "Cat Cold");
  await page.getByRole("group", { name: "Selected members" }).getByRole("button", { name: "Assign licences" }).click();
  const dialog = page.getByRole("dialog", { name: "Assign licences" });
  await dialog.getByLabel("Expires on").fill("2031-06-30");
  await dialog.getByRole("button", { name: "Assign" }).click();
  const conflicts = dialog.getByRole("table", { name: "Conflicting accounts" });
  await conflicts.waitFor();
  assert.equal(await conflicts.getByRole("row").count(), 3);
  await conflicts.getByRole("row", { name: /Ben Bound.*already holds a licence/ }).waitFor();
  await conflicts.getByRole("row", { name: /Cat Cold.*disabled/ }).waitFor();
  await shoot(page, "licence-conflict");
  await dialog.getByRole("button", { name: "Remove conflicting accounts and continue" }).click();
  await dialog.getByRole("status").filter({ hasText: "Licences assigned for 1 account. Seats 2/5." }).waitFor();
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.getByText("Seats 2/5").waitFor();
  const ann = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/members/${people["Ann Able"].id}`, { token: owner.token });
  assert.equal(ann.licence.expires_at, "2031-06-30T23:59:59Z");
  assertClean(page);
  await page.context().close();
});

test("renewal, enable/disable and bulk edit of the selection", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  const table = page.getByRole("table", { name: "Members" });
  await table.getByRole("button", { name: "Ben Bound" }).waitFor();
  const bulk = page.getByRole("group", { name: "Selected members" });

  // Renewal (the tenant has the feature): Ann's licence is far from expiry, Ben's is near.
  await select(page, "Ann Able", "Ben Bound");
  await bulk.getByRole("button", { name: "Renew licences" }).click();
  let dialog = page.getByRole("dialog", { name: "Renew licences" });
  await dialog.getByLabel("Renewal period (days)").fill("30");
  await dialog.getByRole("button", { name: "Renew" }).click();
  await dialog.getByRole("table", { name: "Conflicting accounts" }).getByRole("row", { name: /Ann Able.*does not expire within 30 days/ }).waitFor();
  await dialog.getByRole("button", { name: "Remove conflicting accounts and continue" }).click();
  await dialog.getByRole("status").filter({ hasText: "Renewals queued for 1 account." }).waitFor();
  await dialog.getByRole("button", { name: "Close" }).click();
  await bulk.getByRole("button", { name: "Clear selection" }).click();

  await select(page, "Cat Cold", "Dan Due");
  await bulk.getByRole("button", { name: "Enable" }).click();
  await page.getByRole("status").filter({ hasText: "1 member enabled." }).waitFor();
  await select(page, "Cat Cold", "Dan Due");
  await bulk.getByRole("button", { name: "Disable" }).click();
  await page.getByRole("status").filter({ hasText: "2 members disabled." }).waitFor();
  await bulk.getByRole("button", { name: "Enable" }).click();
  await page.getByRole("status").filter({ hasText: "2 members enabled." }).waitFor();

  await page.getByRole("button", { name: "Edit department, position, location" }).click();
  dialog = page.getByRole("dialog", { name: "Edit selected members" });
  await dialog.getByLabel("Move to department").selectOption({ label: "Seat Corp/Lab" });
  await dialog.getByRole("checkbox", { name: "Change position" }).check();
  await dialog.getByLabel("New position").fill("Researcher");
  await dialog.getByRole("checkbox", { name: "Change location" }).check();
  await dialog.getByLabel("New location").fill("Basel");
  await shoot(page, "bulk-edit");
  await dialog.getByRole("button", { name: "Apply to selected" }).click();
  await page.getByRole("status").filter({ hasText: "2 of 2 members updated." }).waitFor();
  const dan = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/members/${people["Dan Due"].id}`, { token: owner.token });
  assert.deepEqual([dan.department_id, dan.position, dan.location], [lab.id, "Researcher", "Basel"]);
  assertClean(page);
  await page.context().close();
});
