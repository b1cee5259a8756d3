// Seed story: one account's side panel (seed 000 §2.3, seed 003 "Other operations"): details,
// edit with If-Match and the 412 when someone else changed it, disable/enable, reset password,
// licence ("Account benefits"), delete.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addMember, assertClean, closeBrowser, expectOk, mailCount, newPage, shoot, signInUI, tenantWithOwner, unique } from "./support.mjs";

let owner;
let ada;
before(async () => {
  owner = await tenantWithOwner("Panel Corp");
  ada = await addMember(owner, { email: `${unique("ada")}@console.test`, name: "Ada Lovelace", position: "Analyst", location: "London" });
});
after(closeBrowser);

test("edit with If-Match, the 412 of a concurrent change, and every account action", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  const table = page.getByRole("table", { name: "Members" });
  await table.getByRole("button", { name: "Ada Lovelace" }).click();
  const panel = page.getByRole("complementary", { name: "Ada Lovelace" });
  await panel.getByText(ada.email).waitFor();
  await shoot(page, "member-panel");

  await panel.getByLabel("Position").fill("Lead Analyst");
  await panel.getByLabel("Directory number").fill("7");
  await panel.getByRole("button", { name: "Save changes" }).click();
  await panel.getByRole("status").filter({ hasText: "Changes saved." }).waitFor();
  await table.getByRole("cell", { name: "Lead Analyst" }).waitFor();

  // Someone else changes Ada meanwhile: the panel's version is stale.
  await expectOk(200, "PATCH", `/v1/tenants/${owner.tenant.id}/members/${ada.id}`, { token: owner.token, body: { location: "Paris" } });
  await panel.getByLabel("Position").fill("Head of Analysis");
  await panel.getByRole("button", { name: "Save changes" }).click();
  const stale = panel.getByRole("alert");
  await stale.filter({ hasText: "Changed by someone else meanwhile — reload" }).waitFor();
  await shoot(page, "member-panel-412");
  await stale.getByRole("button", { name: "Reload" }).click();
  await page.waitForFunction(() => document.querySelector("aside.panel input[value='Paris']") !== null || [...document.querySelectorAll("aside.panel input")].some((i) => i.value === "Paris"));
  assert.equal(await panel.getByLabel("Location").inputValue(), "Paris");
  assert.equal(await panel.getByLabel("Position").inputValue(), "Lead Analyst");
  await panel.getByLabel("Position").fill("Head of Analysis");
  await panel.getByRole("button", { name: "Save changes" }).click();
  await panel.getByRole("status").filter({ hasText: "Changes saved." }).waitFor();

  // A field the server refuses: its message beside the field.
  await panel.getByLabel("Directory number").fill("20000");
  await panel.getByRole("button", { name: "Save changes" }).click();
  await panel.locator(".field-error").first().waitFor();
  await panel.getByLabel("Directory number").fill("7");

  await panel.getByRole("button", { name: "Disable" }).click();
  await panel.getByRole("status").filter({ hasText: "Ada Lovelace is disabled." }).waitFor();
  await panel.getByRole("button", { name: "Enable" }).click();
  await panel.getByRole("status").filter({ hasText: "Ada Lovelace is enabled." }).waitFor();

  const mails = await mailCount(ada.email, "set-password");
  await panel.getByRole("button", { name: "Reset password" }).click();
  await panel.getByRole("status").filter({ hasText: `A password reset link was mailed to ${ada.email}.` }).waitFor();
  for (let i = 0; i < 100 && (await mailCount(ada.email, "set-password")) <= mails; i++) await page.waitForTimeout(200);
  assert.ok((await mailCount(ada.email, "set-password")) > mails, "the reset mail was sent");

  const benefits = panel.getByRole("form", { name: "Account benefits" });
  await benefits.getByText("No licence.").waitFor();
  await benefits.getByRole("button", { name: "Give licence" }).click();
  await panel.getByRole("status").filter({ hasText: "Licence valid until" }).waitFor();
  await page.getByText("Seats 1/5").waitFor();
  await benefits.getByRole("button", { name: "Revoke licence" }).click();
  await panel.getByRole("status").filter({ hasText: "Licence revoked." }).waitFor();
  await page.getByText("Seats 0/5").waitFor();

  await panel.getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete Ada Lovelace?" });
  await shoot(page, "member-delete-confirm");
  await confirm.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("status").filter({ hasText: "Member moved to the recycle bin." }).waitFor();
  assert.equal(await table.getByRole("button", { name: "Ada Lovelace" }).count(), 0);
  const bin = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/recycle-bin`, { token: owner.token });
  assert.ok(bin.items.some((m) => m.id === ada.id));
  assertClean(page);
  await page.context().close();
});

test("adds a member by email, with the server's field errors beside the fields", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  await page.getByRole("button", { name: "Add member" }).click();
  const dialog = page.getByRole("dialog", { name: "Add member" });
  await dialog.getByLabel("Email").fill("not-an-email");
  await dialog.getByLabel("Name").fill("Nia New");
  await dialog.getByRole("button", { name: "Create member" }).click();
  const emailField = dialog.getByLabel("Email");
  await dialog.locator('input[aria-invalid="true"]').first().waitFor();
  assert.equal(await emailField.getAttribute("aria-invalid"), "true");
  const emailError = dialog.locator("#" + (await emailField.getAttribute("aria-describedby")).split(" ")[0]);
  assert.ok((await emailError.textContent()).length > 0, "the email's error is beside it");
  await shoot(page, "member-add-invalid");
  const email = `${unique("nia")}@console.test`;
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByLabel("Position").fill("Intern");
  await dialog.getByRole("button", { name: "Create member" }).click();
  await page.getByRole("status").filter({ hasText: "Nia New added." }).waitFor();
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Nia New" }).waitFor();
  assertClean(page);
  await page.context().close();
});
