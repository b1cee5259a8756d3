// SPEC §9.6: "a list of 10,000 members scrolls without loading them all". A tenant of 10,000
// imported members (about four minutes on the emulator; CONSOLE_SCROLL_MEMBERS sets another
// count). It runs last: every page of so large a directory costs the emulator a scan of the
// table, which would slow the tests after it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
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

const MEMBERS = Number(process.env.CONSOLE_SCROLL_MEMBERS ?? 10000);

let owner;
before(async () => {
  owner = await tenantWithOwner("Long Corp");
  const rows = Array.from({ length: MEMBERS }, (_, i) => ({ email: `m${String(i).padStart(5, "0")}@long.test`, name: `Member ${String(i).padStart(5, "0")}` }));
  await importMembers(owner, rows);
});
after(closeBrowser);

test(`a list of ${MEMBERS} members scrolls without loading them all`, async () => {
  const page = await newPage();
  const pages = memberPageRequests(page);
  await signInUI(page, owner.email, owner.password);
  const table = page.getByRole("table", { name: "Members" });
  await table.getByRole("button", { name: "Member 00000" }).waitFor({ timeout: 120000 });
  assert.equal(await loadedMembers(page), 100, "the first load is one page");
  assert.ok((await renderedMembers(page)) <= 60, "only the rows in view (and a margin) are in the page");
  await scrollMembersUntil(page, 300);
  assert.equal(await loadedMembers(page), 300, "three pages, read as the list scrolled");
  assert.equal(pages.length, 3, "one page per request, each asked for as the end came near");
  assert.ok(pages.slice(1).every((u) => u.includes("cursor=")), "later pages follow the cursor");
  assert.ok((await renderedMembers(page)) <= 60, `${await renderedMembers(page)} rows are in the page after scrolling`);
  // The last row loaded is the list's 300th, in the order the console asked for (the API's).
  const first = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/members?limit=200`, { token: owner.token });
  const next = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/members?limit=100&cursor=${encodeURIComponent(first.next_cursor)}`, {
    token: owner.token,
  });
  // Scrolled to the end of what is loaded, the last row is there (rows loaded below the view are
  // not in the page until scrolled to).
  await page.getByRole("region", { name: "Member list, scrollable" }).evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await table.getByRole("button", { name: next.items[99].name, exact: true }).waitFor();
  await page.getByRole("button", { name: "Load more" }).waitFor();
  await shoot(page, "member-list-long");
  assert.ok((await loadedMembers(page)) < MEMBERS, "the list is never read whole");
  assertClean(page);
  await page.context().close();
});
