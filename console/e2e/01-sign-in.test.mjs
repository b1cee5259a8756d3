// Seed story: signing in, with every answer the sign-in gives (SPEC §3, §8.1, §9.1).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addMember, assertClean, closeBrowser, expectOk, http, login, mailedToken, newPage, shoot, signInUI, tenantWithOwner, unique } from "./support.mjs";

let owner;
before(async () => {
  owner = await tenantWithOwner("Sign-in Corp");
});
after(closeBrowser);

test("a wrong password, an unproven address, an expired password: each has its screen", async () => {
  const email = `${unique("lia")}@console.test`;
  const given = "lia-given-password-1";
  await addMember(owner, { email, name: "Lia Lind", role: "admin", password: given });
  const page = await newPage();

  const response = await page.goto("/");
  // The served policy: scripts from the console's own origin only, never inline, never eval.
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await page.getByRole("heading", { name: "Sign in to Roster" }).waitFor();
  await shoot(page, "sign-in");

  await signInUI(page, email, "not-the-password");
  await page.getByRole("alert").filter({ hasText: "Wrong email or password." }).waitFor();
  await shoot(page, "sign-in-wrong-password");

  // The right password to an address nobody proved: the verification mail is on its way.
  await signInUI(page, email, given);
  await page.getByRole("heading", { name: "Verify your email" }).waitFor();
  await page.getByText(`We have sent a verification link to ${email}`).waitFor();
  await shoot(page, "sign-in-verify-email");

  // The mailed link opens the console's verify page; Lia types the password she was given.
  const proof = await mailedToken(email, "verify-email");
  await page.goto(`/verify-email?token=${proof}`);
  await page.getByLabel("New password", { exact: true }).fill(given);
  await page.getByLabel("Repeat new password").fill(given);
  await shoot(page, "verify-email");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("status").filter({ hasText: "Your email is verified" }).waitFor();

  // Chosen by someone else, the password must be changed at the first sign-in.
  await signInUI(page, email, given);
  await page.getByRole("heading", { name: "Change your password" }).waitFor();
  await shoot(page, "sign-in-change-password");
  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByLabel("Repeat new password").fill("short");
  await page.getByRole("button", { name: "Change password" }).click();
  // The server's field error, beside its field.
  const error = page.locator(".field-error").first();
  await error.waitFor();
  assert.ok((await error.textContent()).length > 0);
  await page.getByLabel("New password", { exact: true }).fill("lia-own-password-2");
  await page.getByLabel("Repeat new password").fill("lia-own-password-2");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByRole("tree", { name: "Departments" }).waitFor();
  await page.getByRole("table", { name: "Members" }).waitFor();
  assert.ok(await login(email, "lia-own-password-2", owner.tenant.id));
  assertClean(page);
  await page.context().close();
});

test("the session survives a reload in an HttpOnly cookie, and ends on sign-out or from elsewhere", async () => {
  const { email, password, tenant } = await tenantWithOwner("Session Corp");
  const page = await newPage();
  await signInUI(page, email, password);
  await page.getByRole("table", { name: "Members" }).waitFor();
  // The access token lives in memory only: nothing in the browser's storage, no readable cookie.
  const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
  assert.deepEqual(stored, { local: 0, session: 0, cookie: "" });
  // The refresh token is a cookie no script reads, sent only to /v1/auth, never cross-site.
  const cookie = (await page.context().cookies()).find((c) => c.name === "__Secure-roster_refresh");
  assert.ok(cookie, "the refresh cookie is set");
  assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path], [true, true, "Strict", "/v1/auth"]);

  // A reload keeps the session: the cookie is spent for a fresh token (and the next cookie).
  const refreshes = [];
  page.on("response", (r) => r.url().endsWith("/v1/auth/refresh") && refreshes.push(r.status()));
  await page.reload();
  await page.getByRole("table", { name: "Members" }).waitFor();
  await page.getByRole("banner").getByText(email).waitFor();
  assert.deepEqual(refreshes, [200]);
  const next = (await page.context().cookies()).find((c) => c.name === "__Secure-roster_refresh");
  assert.notEqual(next.value, cookie.value, "the refresh token rotated");

  // Sign out ends the session on the server: the old cookie, replayed, refreshes nothing.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to Roster" }).waitFor();
  const replay = await http("POST", "/v1/auth/refresh", { headers: { cookie: `__Secure-roster_refresh=${next.value}` } });
  assert.equal(replay.status, 401);
  await page.reload();
  await page.getByRole("heading", { name: "Sign in to Roster" }).waitFor();

  // A session ended from elsewhere (the person's other device): the next request answers 401,
  // the cookie refreshes nothing, and the console says the session ended.
  await signInUI(page, email, password);
  await page.getByRole("table", { name: "Members" }).waitFor();
  const other = await login(email, password, tenant.id);
  const sessions = await expectOk(200, "GET", "/v1/me/sessions", { token: other });
  for (const s of sessions.items.filter((s) => !s.current)) await expectOk(204, "DELETE", `/v1/me/sessions/${s.id}`, { token: other });
  await page.getByRole("link", { name: "Task centre" }).click();
  await page.getByText("Your session ended. Sign in again.").waitFor();
  assertClean(page);
  await page.context().close();
});

test("forgot password: the reset mail's link sets a new one", async () => {
  const email = `${unique("rae")}@console.test`;
  await addMember(owner, { email, name: "Rae Reset" });
  const before = 0;
  const page = await newPage();
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.getByRole("heading", { name: "Reset your password" }).waitFor();
  assert.equal(await page.getByLabel("Email").inputValue(), email);
  await shoot(page, "forgot-password");
  await page.getByRole("button", { name: "Send reset link" }).click();
  await page.getByRole("status").filter({ hasText: "a link to set a new password is on its way" }).waitFor();

  // Rae was created without a password: the set-password mail came first, the reset link after.
  const token = await mailedToken(email, "set-password", { after: before + 1 });
  await page.goto(`/set-password?token=${token}`);
  await page.getByLabel("New password", { exact: true }).fill("rae-new-password-1");
  await page.getByLabel("Repeat new password").fill("rae-other-password");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByText("The two passwords differ.").waitFor();
  await page.getByLabel("Repeat new password").fill("rae-new-password-1");
  await shoot(page, "set-password");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("status").filter({ hasText: "Your password is set" }).waitFor();

  // The link works once.
  await page.goto(`/set-password?token=${token}`);
  await page.getByLabel("New password", { exact: true }).fill("rae-new-password-2");
  await page.getByLabel("Repeat new password").fill("rae-new-password-2");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("alert").filter({ hasText: "This link is invalid, used or expired" }).waitFor();

  await signInUI(page, email, "rae-new-password-1");
  await page.getByRole("table", { name: "Members" }).waitFor();
  assertClean(page);
  await page.context().close();
});

test("too many attempts: wait for as long as Retry-After says", async () => {
  const email = `${unique("max")}@console.test`;
  await addMember(owner, { email, name: "Max Many" });
  for (let i = 0; i < 10; i++) {
    const answer = await http("POST", "/v1/auth/login", { body: { email, password: `wrong-${i}`, tenant_id: owner.tenant.id } });
    assert.equal(answer.status, 401);
  }
  const page = await newPage();
  await signInUI(page, email, "wrong-again");
  await page.getByRole("alert").filter({ hasText: /Too many sign-in attempts\. Try again in \d+ minutes\./ }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Sign in" }).isDisabled(), true);
  await shoot(page, "sign-in-rate-limited");
  assertClean(page);
  await page.context().close();
});

test("a person in several organisations picks one, and switches", async () => {
  const other = await tenantWithOwner("Second Org");
  // The first tenant's owner also joins the second tenant with the same account.
  await addMember(other, { email: owner.email, name: "Olive Owner" });
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  const choice = page.getByRole("group", { name: "Organisation" });
  await choice.waitFor();
  await page.getByText("Your account belongs to several organisations").waitFor();
  assert.equal(await page.getByRole("button", { name: "Sign in" }).isDisabled(), true, "nothing chosen yet");
  await shoot(page, "sign-in-choose-organisation");
  await choice.getByRole("radio", { name: "Second Org" }).check();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Second Org" }).waitFor();

  await page.getByRole("link", { name: "Organisations" }).click();
  await page.getByRole("heading", { name: "Your memberships" }).waitFor();
  await shoot(page, "organisations");
  await page.getByRole("button", { name: "Switch to this organisation" }).click();
  const dialog = page.getByRole("dialog", { name: "Switch organisation" });
  await dialog.getByLabel("Password").fill(owner.password);
  await dialog.getByRole("button", { name: "Switch" }).click();
  await page.getByRole("heading", { name: "Sign-in Corp" }).waitFor();
  assertClean(page);
  await page.context().close();
});

test("a platform admin picks the organisation to manage", async () => {
  const page = await newPage();
  await signInUI(page, process.env.CONSOLE_ADMIN_EMAIL, process.env.CONSOLE_ADMIN_PASSWORD);
  const table = page.getByRole("table", { name: "Organisations" });
  await table.waitFor();
  await table.getByRole("link", { name: "Sign-in Corp" }).first().click();
  await page.getByRole("tree", { name: "Departments" }).waitFor();
  await page.getByRole("table", { name: "Members" }).waitFor();
  assertClean(page);
  await page.context().close();
});
