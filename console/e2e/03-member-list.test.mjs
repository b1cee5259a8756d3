// Seed story: the account list (seed 000 §2.4, seed 003, SPEC §8.4): search by email and name,
// every filter and order, paging through the cursor in a virtualised table (a long list never
// loads, nor renders, at once), multi-select.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  addMember,
  assertClean,
  closeBrowser,
  expectOk,
  importMembers,
  loadedMembers,
  memberPageRequests,
  newPage,
  renderedMembers,
  scrollMembersUntil,
  shoot,
  signInUI,
  tenantWithOwner,
} from "./support.mjs";

// A list of five pages: the filters are checked on it, and it is scrolled to its end (the
// 10,000-member list is e2e/08-long-list.test.mjs).
const MEMBERS = 400;

let owner;
let zed;
before(async () => {
  owner = await tenantWithOwner("List Corp");
  const rows = Array.from({ length: MEMBERS }, (_, i) => ({
    email: `person${String(i).padStart(5, "0")}@list.test`,
    name: `Person ${String(i).padStart(5, "0")}`,
    position: i % 2 ? "Engineer" : "Designer",
    location: i % 3 ? "London" : "Paris",
    work_number: `W-${i}`,
  }));
  await importMembers(owner, rows);
  zed = await addMember(owner, { email: "zed.zimmer@list.test", name: "Zed Zimmer", position: "Chief", location: "Oslo", work_number: "Z-1", directory_number: 1, role: "admin" });
  const amy = await addMember(owner, { email: "amy.aster@list.test", name: "Amy Aster", position: "Chief", location: "Oslo", directory_number: 2 });
  await expectOk(200, "PATCH", `/v1/tenants/${owner.tenant.id}/members/${amy.id}`, { token: owner.token, body: { status: "disabled" } });
  await expectOk(200, "PUT", `/v1/tenants/${owner.tenant.id}/members/${zed.id}/licence`, {
    token: owner.token,
    body: { expires_at: new Date(Date.now() + 10 * 86400000).toISOString().replace(/\.\d+Z$/, "Z") },
  });
});
after(closeBrowser);

const names = async (table) => (await table.getByRole("button").allTextContents()).filter((n) => n !== "");

test("search, filters and orders", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  const table = page.getByRole("table", { name: "Members" });
  await table.waitFor();
  // Directory order: directory number, then name.
  await table.getByRole("button", { name: "Zed Zimmer" }).waitFor();
  assert.deepEqual((await names(table)).slice(0, 2), ["Zed Zimmer", "Amy Aster"]);
  await shoot(page, "member-list");

  const search = page.getByLabel("Search by email or name");
  await search.fill("zimm");
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Members"] tbody tr:not(.spacer)').length === 1);
  assert.deepEqual(await names(table), ["Zed Zimmer"]);
  await search.fill("amy.aster@");
  await table.getByRole("button", { name: "Amy Aster" }).waitFor();
  assert.deepEqual(await names(table), ["Amy Aster"]);
  await shoot(page, "member-list-search");
  await search.fill("");

  const only = async (label, value, expected) => {
    await page.getByLabel(label, { exact: true }).selectOption(value);
    await page.waitForFunction(
      (want) => {
        const got = [...document.querySelectorAll('table[aria-label="Members"] tbody button')].map((b) => b.textContent);
        return JSON.stringify(got.slice(0, want.length)) === JSON.stringify(want) && !document.body.textContent.includes("Loading members");
      },
      expected,
    );
  };
  await only("Status", "disabled", ["Amy Aster"]);
  assert.deepEqual(await names(table), ["Amy Aster"]);
  await page.getByLabel("Status", { exact: true }).selectOption("");
  await only("Role", "admin", ["Zed Zimmer"]);
  await page.getByLabel("Role", { exact: true }).selectOption("");
  await only("Licence", "expiring", ["Zed Zimmer"]);
  await page.getByLabel("Licence", { exact: true }).selectOption("");
  await only("Directory number", "true", ["Zed Zimmer", "Amy Aster"]);
  await page.getByLabel("Directory number", { exact: true }).selectOption("");

  await page.getByLabel("Position", { exact: true }).fill("chief");
  await page.getByLabel("Location", { exact: true }).fill("oslo");
  await page.getByLabel("Work number", { exact: true }).fill("z-1");
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Members"] tbody button').length === 1);
  assert.deepEqual(await names(table), ["Zed Zimmer"]);
  await shoot(page, "member-list-filtered");
  await page.getByLabel("Work number", { exact: true }).fill("");
  await page.getByLabel("Location", { exact: true }).fill("");
  await page.getByLabel("Position", { exact: true }).fill("");

  await only("Sort by", "name", ["Amy Aster", "Olive Owner", "Person 00000"]);
  await only("Sort by", "created_at", ["Olive Owner"]);
  await only("Source", "import", ["Person 00000"]);
  assertClean(page);
  await page.context().close();
});

test("pages through the cursor as the list scrolls to its end, rendering only what is in view", async () => {
  const page = await newPage();
  const pages = memberPageRequests(page);
  await signInUI(page, owner.email, owner.password);
  const table = page.getByRole("table", { name: "Members" });
  await table.getByRole("button", { name: "Zed Zimmer" }).waitFor();
  await page.getByRole("status").filter({ hasText: "members loaded, more to load" }).waitFor();
  assert.equal(await loadedMembers(page), 100, "the first load is one page");
  assert.ok((await renderedMembers(page)) <= 60, "only the rows in view (and a margin) are in the page");
  const total = MEMBERS + 3;
  await scrollMembersUntil(page, total);
  await page.getByRole("status").filter({ hasText: `${total} members loaded` }).waitFor();
  assert.equal(pages.length, Math.ceil(total / 100), `${pages.length} pages were read, one at a time`);
  assert.ok(pages.slice(1).every((u) => u.includes("cursor=")), "later pages follow the cursor");
  assert.ok((await renderedMembers(page)) <= 60, `${await renderedMembers(page)} rows are in the page at the end`);
  await table.getByRole("button", { name: `Person ${String(MEMBERS - 1).padStart(5, "0")}` }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Load more" }).count(), 0);
  const scroller = page.getByRole("region", { name: "Member list, scrollable" });

  // Multi-select.
  await scroller.evaluate((el) => el.scrollTo(0, 0));
  await page.getByRole("checkbox", { name: "Select Zed Zimmer" }).check();
  await page.getByRole("checkbox", { name: "Select Amy Aster" }).check();
  const bulk = page.getByRole("group", { name: "Selected members" });
  await bulk.getByText("2 selected").waitFor();
  await page.getByRole("checkbox", { name: "Select all loaded members" }).check();
  await bulk.getByText(`${total} selected`).waitFor();
  await shoot(page, "member-list-selected");
  await bulk.getByRole("button", { name: "Clear selection" }).click();
  assert.equal(await bulk.count(), 0);
  assertClean(page);
  await page.context().close();
});
