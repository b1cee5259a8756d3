// Seed story: the account list (seed 000 §2.4, seed 003, SPEC §8.4): search by email and name,
// every filter and order, paging through the cursor in a virtualised table (a long list never
// loads, nor renders, at once), multi-select.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addMember, assertClean, closeBrowser, expectOk, importMembers, newPage, shoot, signInUI, tenantWithOwner } from "./support.mjs";

// How many members the scroll test imports: SPEC §9.6 says 10,000, but the emulator imports
// 8 to 20 rows a second on two cores (10,000 would take 10 to 20 minutes), so the suite uses 400
// (five pages) unless CONSOLE_SCROLL_MEMBERS asks for more; what it checks (pages read by cursor
// as the list scrolls, rows in the page bounded whatever the length) does not depend on it.
const MEMBERS = Number(process.env.CONSOLE_SCROLL_MEMBERS ?? 400);

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

test("pages through the cursor as the list scrolls, rendering only what is in view", async () => {
  const page = await newPage();
  const pages = [];
  page.on("request", (r) => {
    if (/\/v1\/tenants\/[^/]+\/members\?/.test(r.url())) pages.push(r.url());
  });
  await signInUI(page, owner.email, owner.password);
  const table = page.getByRole("table", { name: "Members" });
  await table.getByRole("button", { name: "Zed Zimmer" }).waitFor();
  await page.getByRole("status").filter({ hasText: "members loaded, more to load" }).waitFor();
  const loaded = () => page.evaluate(() => Number(/(\d+) members? loaded/.exec(document.querySelector(".table-foot")?.textContent ?? "")?.[1] ?? 0));
  const rendered = () => page.evaluate(() => document.querySelectorAll('table[aria-label="Members"] tbody tr:not(.spacer)').length);
  const first = await loaded();
  assert.ok(first < MEMBERS, `the first load had ${first} of ${MEMBERS + 3} members`);
  assert.ok((await rendered()) <= 60, "only the rows in view (and a margin) are in the page");

  const scroller = page.getByRole("region", { name: "Member list, scrollable" });
  const pagesNeeded = Math.ceil((MEMBERS + 3) / 100);
  for (let i = 0; i < pagesNeeded * 3 + 10 && (await page.getByRole("button", { name: "Load more" }).count()) > 0; i++) {
    await scroller.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForTimeout(150);
  }
  await page.getByRole("status").filter({ hasText: `${MEMBERS + 3} members loaded` }).waitFor();
  assert.ok(pages.length >= pagesNeeded, `${pages.length} pages were read`);
  assert.ok(pages.some((u) => u.includes("cursor=")), "later pages follow the cursor");
  assert.ok((await rendered()) <= 60, `${await rendered()} rows are in the page after scrolling`);
  await table.getByRole("button", { name: `Person ${String(MEMBERS - 1).padStart(5, "0")}` }).waitFor();

  // Multi-select.
  await scroller.evaluate((el) => el.scrollTo(0, 0));
  await page.getByRole("checkbox", { name: "Select Zed Zimmer" }).check();
  await page.getByRole("checkbox", { name: "Select Amy Aster" }).check();
  const bulk = page.getByRole("group", { name: "Selected members" });
  await bulk.getByText("2 selected").waitFor();
  await page.getByRole("checkbox", { name: "Select all loaded members" }).check();
  await bulk.getByText(`${MEMBERS + 3} selected`).waitFor();
  await shoot(page, "member-list-selected");
  await bulk.getByRole("button", { name: "Clear selection" }).click();
  assert.equal(await bulk.count(), 0);
  assertClean(page);
  await page.context().close();
});
