// Seed story: the department tree (seed 000 §2.1–2.2): add sub-departments, rename, move in a
// dialog, delete (refused while not empty), member counts, and seats "used/total".
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addMember, assertClean, closeBrowser, expectOk, newPage, shoot, signInUI, tenantWithOwner, unique } from "./support.mjs";

let owner;
before(async () => {
  owner = await tenantWithOwner("Tree Corp");
});
after(closeBrowser);

test("an admin builds, renames, moves and prunes the department tree", async () => {
  const page = await newPage();
  await signInUI(page, owner.email, owner.password);
  const tree = page.getByRole("tree", { name: "Departments" });
  await tree.waitFor();
  await tree.getByRole("treeitem", { name: "Tree Corp" }).waitFor();
  await page.getByText("Seats 0/5").waitFor();

  const add = async (parent, name) => {
    await tree.getByRole("treeitem", { name: parent, exact: true }).click();
    await page.getByRole("button", { name: "Add sub-department" }).click();
    const dialog = page.getByRole("dialog", { name: `Add sub-department to ${parent}` });
    await dialog.getByLabel("Department name").fill(name);
    await dialog.getByRole("button", { name: "Add" }).click();
    await tree.getByRole("treeitem", { name, exact: true }).waitFor();
  };
  await add("Tree Corp", "Sales");
  await add("Sales", "EMEA");
  await add("Tree Corp", "Support");

  // A duplicate sibling name: the API's refusal, in the dialog.
  await tree.getByRole("treeitem", { name: "Tree Corp", exact: true }).click();
  await page.getByRole("button", { name: "Add sub-department" }).click();
  let dialog = page.getByRole("dialog", { name: "Add sub-department to Tree Corp" });
  await dialog.getByLabel("Department name").fill("sales");
  await dialog.getByRole("button", { name: "Add" }).click();
  await dialog.getByRole("alert").waitFor();
  await shoot(page, "department-add-refused");
  await dialog.getByRole("button", { name: "Cancel" }).click();

  await tree.getByRole("treeitem", { name: "EMEA", exact: true }).click();
  await page.getByRole("button", { name: "Rename department" }).click();
  dialog = page.getByRole("dialog", { name: "Rename EMEA" });
  await dialog.getByLabel("Department name").fill("Europe");
  await dialog.getByRole("button", { name: "Rename" }).click();
  await tree.getByRole("treeitem", { name: "Europe", exact: true }).waitFor();

  // Move Europe under Support; the dialog never offers Europe itself or its current parent.
  await tree.getByRole("treeitem", { name: "Europe", exact: true }).click();
  await page.getByRole("button", { name: "Move department" }).click();
  dialog = page.getByRole("dialog", { name: "Move Europe" });
  const parent = dialog.getByLabel("New parent department");
  const offered = await parent.locator("option").allTextContents();
  assert.deepEqual(offered.sort(), ["Tree Corp", "Tree Corp/Support"]);
  await shoot(page, "department-move");
  await parent.selectOption({ label: "Tree Corp/Support" });
  await dialog.getByRole("button", { name: "Move" }).click();
  await page.getByRole("status").filter({ hasText: "Europe moved under Tree Corp/Support" }).waitFor();
  const departments = await expectOk(200, "GET", `/v1/tenants/${owner.tenant.id}/departments`, { token: owner.token });
  assert.equal(departments.items.find((d) => d.name === "Europe").path, "Tree Corp/Support/Europe");

  // Dragging a department onto another opens the same dialog, with that parent chosen.
  await tree.getByRole("treeitem", { name: "Sales", exact: true }).dragTo(tree.getByRole("treeitem", { name: "Support", exact: true }));
  dialog = page.getByRole("dialog", { name: "Move Sales" });
  const chosen = await dialog.getByLabel("New parent department").evaluate((select) => select.selectedOptions[0].textContent);
  assert.equal(chosen, "Tree Corp/Support");
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // Member counts, and a department with a member cannot be deleted.
  const sales = departments.items.find((d) => d.name === "Sales");
  await addMember(owner, { email: `${unique("sam")}@console.test`, name: "Sam Sales", department_id: sales.id });
  await page.reload();
  await signInUI(page, owner.email, owner.password);
  await tree.getByRole("treeitem", { name: "Sales", exact: true }).waitFor();
  const salesItem = tree.getByRole("treeitem", { name: "Sales", exact: true });
  assert.match(await salesItem.textContent(), /1 member\b/);
  await salesItem.click();
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: "Sam Sales" }).waitFor();
  await page.getByRole("button", { name: "Delete department" }).click();
  dialog = page.getByRole("dialog", { name: "Delete Sales" });
  await dialog.getByRole("button", { name: "Delete" }).click();
  const refusal = dialog.getByRole("alert");
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /member|empty/i);
  await shoot(page, "department-delete-refused");
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // Keyboard: the tree is reachable and walkable with the arrows.
  await tree.getByRole("treeitem", { name: "Tree Corp", exact: true }).focus();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  assert.equal(await tree.getByRole("treeitem", { name: "Sales", exact: true }).getAttribute("aria-selected"), "true");

  // An empty department goes.
  await tree.getByRole("treeitem", { name: "Support", exact: true }).click();
  await page.keyboard.press("ArrowRight");
  await tree.getByRole("treeitem", { name: "Europe", exact: true }).click();
  await page.getByRole("button", { name: "Delete department" }).click();
  dialog = page.getByRole("dialog", { name: "Delete Europe" });
  await dialog.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("status").filter({ hasText: "Department Europe deleted." }).waitFor();
  await tree.getByRole("treeitem", { name: "Europe", exact: true }).waitFor({ state: "detached" });
  await shoot(page, "departments");
  assertClean(page);
  await page.context().close();
});
