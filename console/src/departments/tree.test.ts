import { describe, expect, it } from "vitest";
import { buildTree, moveTargets, subtree, visibleRows, type Department } from "./tree";

function dept(id: string, name: string, parent: string | null, path: string): Department {
  return {
    id,
    tenant_id: "t",
    name,
    parent_id: parent,
    path,
    depth: path.split("/").length - 1,
    member_count: 0,
    child_count: 0,
    settings: {} as Department["settings"],
    created_at: "",
    updated_at: "",
  };
}

const flat = [
  dept("sales", "Sales", "root", "Acme/Sales"),
  dept("emea", "EMEA", "sales", "Acme/Sales/EMEA"),
  dept("root", "Acme", null, "Acme"),
  dept("eng", "engineering", "root", "Acme/engineering"),
  dept("uk", "UK", "emea", "Acme/Sales/EMEA/UK"),
];

describe("the department tree", () => {
  it("nests the flat list under the root, children by name", () => {
    const [root] = buildTree(flat);
    expect(root.department.id).toBe("root");
    expect(root.children.map((c) => c.department.name)).toEqual(["engineering", "Sales"]);
    expect(root.children[1].children[0].children[0].department.id).toBe("uk");
  });

  it("never offers a department, or one below it, as its own new parent", () => {
    expect([...subtree(flat, "sales")].sort()).toEqual(["emea", "sales", "uk"]);
    expect(moveTargets(flat, "sales").map((d) => d.id)).toEqual(["eng"]);
    expect(moveTargets(flat, "uk").map((d) => d.id)).toEqual(["root", "eng", "sales"]);
  });

  it("shows the children of expanded departments only", () => {
    const roots = buildTree(flat);
    expect(visibleRows(roots, new Set()).map((r) => r.node.department.id)).toEqual(["root"]);
    const open = visibleRows(roots, new Set(["root", "sales"]));
    expect(open.map((r) => [r.node.department.id, r.level, r.posInSet, r.setSize])).toEqual([
      ["root", 1, 1, 1],
      ["eng", 2, 1, 2],
      ["sales", 2, 2, 2],
      ["emea", 3, 1, 1],
    ]);
  });
});
