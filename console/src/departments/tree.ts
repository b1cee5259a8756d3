// The department tree from the API's flat list (`parent_id`, `path`, `depth`): children by name,
// what a move may target (never the department itself or below it), and the rows a tree shows.
import type { components } from "../api/schema";

export type Department = components["schemas"]["Department"];

export interface TreeNode {
  department: Department;
  children: TreeNode[];
}

export function buildTree(departments: Department[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>();
  for (const department of departments) nodes.set(department.id, { department, children: [] });
  const roots: TreeNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.department.parent_id ? nodes.get(node.department.parent_id) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  const byName = (a: TreeNode, b: TreeNode) =>
    a.department.name.localeCompare(b.department.name, undefined, { sensitivity: "base" });
  const sort = (list: TreeNode[]) => {
    list.sort(byName);
    for (const node of list) sort(node.children);
  };
  sort(roots);
  // The root department (no parent) first.
  roots.sort((a, b) => Number(a.department.parent_id !== null) - Number(b.department.parent_id !== null));
  return roots;
}

/** The ids of `id` and everything below it. */
export function subtree(departments: Department[], id: string): Set<string> {
  const children = new Map<string, string[]>();
  for (const d of departments) {
    if (d.parent_id) children.set(d.parent_id, [...(children.get(d.parent_id) ?? []), d.id]);
  }
  const found = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const next = stack.pop()!;
    if (found.has(next)) continue;
    found.add(next);
    stack.push(...(children.get(next) ?? []));
  }
  return found;
}

/** Where `id` may move: any department but itself, its descendants and its current parent. */
export function moveTargets(departments: Department[], id: string): Department[] {
  const blocked = subtree(departments, id);
  const current = departments.find((d) => d.id === id)?.parent_id;
  return departments
    .filter((d) => !blocked.has(d.id) && d.id !== current)
    .sort((a, b) => a.path.localeCompare(b.path));
}

export interface VisibleRow {
  node: TreeNode;
  level: number;
  setSize: number;
  posInSet: number;
}

/** The rows of the tree as shown: children of expanded nodes only, in order. */
export function visibleRows(roots: TreeNode[], expanded: Set<string>): VisibleRow[] {
  const rows: VisibleRow[] = [];
  const walk = (list: TreeNode[], level: number) => {
    list.forEach((node, index) => {
      rows.push({ node, level, setSize: list.length, posInSet: index + 1 });
      if (node.children.length && expanded.has(node.department.id)) walk(node.children, level + 1);
    });
  };
  walk(roots, 1);
  return rows;
}
