// What the browser tests share: the real local stack (scripts/console-test.sh starts it and
// names it in CONSOLE_*), Debian's Chromium through playwright-core, data made through the API
// as a setup would, the mail the emulator "sent", axe-core on every screen and screenshots.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.CONSOLE_URL ?? "http://127.0.0.1:8080";
const EMULATOR = process.env.CONSOLE_EMULATOR;
const SHOTS = process.env.CONSOLE_SHOTS ?? "../.local/console-shots";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const unique = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;

/** One HTTP call to the gateway: { status, body, headers }. */
export async function http(method, path, { token, body, headers = {} } = {}) {
  const response = await fetch(BASE + path, {
    method,
    headers: {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: response.status, body: parsed, headers: response.headers };
}

/** The body of a call that must answer `status`. */
export async function expectOk(status, method, path, options) {
  const answer = await http(method, path, options);
  assert.equal(answer.status, status, `${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function login(email, password, tenantId) {
  const body = await expectOk(200, "POST", "/v1/auth/login", { body: { email, password, ...(tenantId ? { tenant_id: tenantId } : {}) } });
  return body.access_token;
}

export const adminToken = () => login(process.env.CONSOLE_ADMIN_EMAIL, process.env.CONSOLE_ADMIN_PASSWORD);

/** The newest token of a link to `/{page}?token=` mailed to `to` (waits for the outbox). */
export async function mailedToken(to, page, { after = 0, wait = 20000 } = {}) {
  const pattern = new RegExp(`/${page}\\?token=([A-Za-z0-9_-]+)`);
  const deadline = Date.now() + wait;
  for (;;) {
    const mails = await (await fetch(`${EMULATOR}/_roster/sent-mail`)).json();
    const tokens = mails
      .filter((m) => (m.to ?? []).includes(to))
      .map((m) => pattern.exec(m.body ?? "")?.[1])
      .filter(Boolean);
    if (tokens.length > after) return tokens[tokens.length - 1];
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with a link to /${page}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function mailCount(to, page) {
  const mails = await (await fetch(`${EMULATOR}/_roster/sent-mail`)).json();
  return mails.filter((m) => (m.to ?? []).includes(to) && (m.body ?? "").includes(`/${page}?token=`)).length;
}

/** A paid tenant whose owner set a password (as scripts/roster_py/tenant.py makes one). */
export async function tenantWithOwner(name, fields = {}) {
  const admin = await adminToken();
  const email = `${unique("owner")}@console.test`;
  const password = `owner-${randomBytes(6).toString("hex")}`;
  const tenant = await expectOk(201, "POST", "/v1/tenants", {
    token: admin,
    body: { name, kind: "customer", plan: "paid", owner_name: "Olive Owner", owner_email: email, member_quota: 20000, seats_total: 5, ...fields },
  });
  const token = await mailedToken(email, "set-password");
  await expectOk(204, "POST", "/v1/auth/password-reset", { body: { token, new_password: password } });
  const ownerToken = await login(email, password, tenant.id);
  return { tenant, email, password, token: ownerToken, admin };
}

export async function addDepartment(owner, name, parentId) {
  return expectOk(201, "POST", `/v1/tenants/${owner.tenant.id}/departments`, {
    token: owner.token,
    body: { name, parent_id: parentId ?? owner.tenant.root_department_id },
  });
}

export async function addMember(owner, fields) {
  return expectOk(201, "POST", `/v1/tenants/${owner.tenant.id}/members`, {
    token: owner.token,
    body: { department_id: owner.tenant.root_department_id, ...fields },
  });
}

/** Imports `rows` ({email, name, …}) through the API and waits for the job to complete. */
export async function importMembers(owner, rows) {
  const columns = ["email", "name", "department", "position", "work_number", "location", "phone", "directory_number", "role", "language", "password"];
  const csv = [columns.join(","), ...rows.map((r) => columns.map((c) => r[c] ?? "").join(","))].join("\r\n") + "\r\n";
  const created = await expectOk(201, "POST", `/v1/tenants/${owner.tenant.id}/imports`, {
    token: owner.token,
    body: { mode: "create", send_email: false },
  });
  const put = await fetch(created.upload_url, { method: "PUT", headers: { "content-type": "text/csv" }, body: csv });
  assert.ok(put.ok, `upload answered ${put.status}`);
  await http("POST", `/v1/tenants/${owner.tenant.id}/imports/${created.job.id}/start`, { token: owner.token });
  const deadline = Date.now() + 15 * 60 * 1000;
  for (;;) {
    const job = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/jobs/${created.job.id}`, { token: owner.token });
    if (job.status === "completed") return job;
    assert.notEqual(job.status, "failed", `import failed: ${job.error}`);
    assert.ok(Date.now() < deadline, "the import did not finish");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

let browser;
export async function openBrowser() {
  browser ??= await chromium.launch({
    executablePath: process.env.CONSOLE_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return browser;
}

export async function closeBrowser() {
  await browser?.close();
  browser = undefined;
}

/**
 * A fresh page (its own context: no session carried over). Fails the test on a CSP violation
 * or an uncaught error in the page.
 */
export async function newPage() {
  const context = await (await openBrowser()).newContext({ baseURL: BASE, viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  // The emulator answers one request at a time: a step that lands behind the local stack's
  // consistency check (a scan of the whole table, every minute) waits for it, longer on a busy
  // machine than playwright's 30 s default.
  page.setDefaultTimeout(90000);
  page.problems = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) page.problems.push(message.text());
  });
  page.on("pageerror", (error) => page.problems.push(`page error: ${error.message}`));
  return page;
}

/** The page must have had no CSP violation nor uncaught error. */
export function assertClean(page) {
  assert.deepEqual(page.problems, [], "the page had problems");
}

/** axe-core on what the page shows now: no serious or critical violation. */
export async function checkA11y(page, screen) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const results = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
  assert.deepEqual(bad, [], `axe-core found serious or critical violations on ${screen}`);
}

/** A screenshot of the screen under .local/console-shots/, and its axe-core check. */
export async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  await checkA11y(page, name);
}

/** Signs in through the form, as a person would. */
export async function signInUI(page, email, password) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** How many members the list says it has loaded ("N members loaded"). */
export const loadedMembers = (page) =>
  page.evaluate(() => Number(/(\d+) members? loaded/.exec(document.querySelector(".table-foot")?.textContent ?? "")?.[1] ?? 0));

/** How many member rows are in the page (the virtual window, spacers left out). */
export const renderedMembers = (page) => page.evaluate(() => document.querySelectorAll('table[aria-label="Members"] tbody tr:not(.spacer)').length);

/** Scrolls the member list to the end of what is loaded until `want` members are, as a person would. */
export async function scrollMembersUntil(page, want) {
  const scroller = page.getByRole("region", { name: "Member list, scrollable" });
  for (let i = 0; i < want / 100 + 20 && (await loadedMembers(page)) < want; i++) {
    await scroller.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForFunction(() => !document.querySelector(".table-foot")?.textContent?.includes("Loading"), null, { timeout: 120000 });
    await page.waitForTimeout(100);
  }
}

/** Records the member list pages the page asks for. */
export function memberPageRequests(page) {
  const urls = [];
  page.on("request", (r) => {
    if (/\/v1\/tenants\/[^/]+\/members\?/.test(r.url())) urls.push(r.url());
  });
  return urls;
}
