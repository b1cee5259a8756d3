// The department tree (seed 000 §2.1): a `tree` named "Departments", each department with its
// member count; selecting one filters the member list. Keyboard as WAI-ARIA's tree pattern:
// arrows move and open/close, Home/End jump, Enter or Space selects.
import { useMemo, useRef, useState, type KeyboardEvent } from "react";
import { buildTree, subtree, visibleRows, type Department } from "./tree";

interface Props {
  departments: Department[];
  selected: string | null;
  onSelect: (id: string) => void;
  /** A department dropped on another (drag and drop; the Move dialog does the same by keyboard). */
  onDropMove?: (id: string, parentId: string) => void;
}

export function DepartmentTree({ departments, selected, onSelect, onDropMove }: Props) {
  const [dragged, setDragged] = useState<string | null>(null);
  const blocked = useMemo(() => (dragged ? subtree(departments, dragged) : new Set<string>()), [dragged, departments]);
  const roots = useMemo(() => buildTree(departments), [departments]);
  // Open unless closed: departments that appear later (loaded, added) show at once.
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const expanded = useMemo(() => new Set(departments.map((d) => d.id).filter((id) => !collapsed.has(id))), [departments, collapsed]);
  const rows = useMemo(() => visibleRows(roots, expanded), [roots, expanded]);
  const [focused, setFocused] = useState<string | null>(null);
  const refs = useRef(new Map<string, HTMLDivElement>());
  const active = rows.find((r) => r.node.department.id === (focused ?? selected))?.node.department.id ?? rows[0]?.node.department.id;

  const focus = (id: string | undefined) => {
    if (!id) return;
    setFocused(id);
    refs.current.get(id)?.focus();
  };
  const toggle = (id: string, open?: boolean) =>
    setCollapsed((current) => {
      const next = new Set(current);
      if (open ?? next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const onKeyDown = (event: KeyboardEvent, index: number) => {
    const row = rows[index];
    const id = row.node.department.id;
    const hasChildren = row.node.children.length > 0;
    switch (event.key) {
      case "ArrowDown":
        focus(rows[index + 1]?.node.department.id);
        break;
      case "ArrowUp":
        focus(rows[index - 1]?.node.department.id);
        break;
      case "ArrowRight":
        if (hasChildren && !expanded.has(id)) toggle(id, true);
        else if (hasChildren) focus(rows[index + 1]?.node.department.id);
        break;
      case "ArrowLeft":
        if (hasChildren && expanded.has(id)) toggle(id, false);
        else focus(row.node.department.parent_id ?? undefined);
        break;
      case "Home":
        focus(rows[0]?.node.department.id);
        break;
      case "End":
        focus(rows[rows.length - 1]?.node.department.id);
        break;
      case "Enter":
      case " ":
        onSelect(id);
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  return (
    <div role="tree" aria-label="Departments" className="tree">
      {rows.map((row, index) => {
        const d = row.node.department;
        const hasChildren = row.node.children.length > 0;
        return (
          <div
            key={d.id}
            ref={(el) => {
              if (el) refs.current.set(d.id, el);
              else refs.current.delete(d.id);
            }}
            role="treeitem"
            aria-label={d.name}
            aria-describedby={`count-${d.id}`}
            aria-level={row.level}
            aria-setsize={row.setSize}
            aria-posinset={row.posInSet}
            aria-expanded={hasChildren ? expanded.has(d.id) : undefined}
            aria-selected={d.id === selected}
            tabIndex={d.id === active ? 0 : -1}
            className={`treeitem level-${Math.min(row.level, 8)}${d.id === selected ? " selected" : ""}`}
            onClick={() => {
              setFocused(d.id);
              onSelect(d.id);
            }}
            draggable={Boolean(onDropMove && d.parent_id)}
            onDragStart={(e) => {
              e.dataTransfer.setData("text/plain", d.id);
              setDragged(d.id);
            }}
            onDragEnd={() => setDragged(null)}
            onDragOver={(e) => {
              if (dragged && !blocked.has(d.id)) e.preventDefault();
            }}
            onDrop={(e) => {
              e.preventDefault();
              if (dragged && !blocked.has(d.id)) onDropMove?.(dragged, d.id);
              setDragged(null);
            }}
            onKeyDown={(e) => onKeyDown(e, index)}
          >
            <span
              className="twisty"
              aria-hidden="true"
              onClick={(e) => {
                if (!hasChildren) return;
                e.stopPropagation();
                toggle(d.id);
              }}
            >
              {hasChildren ? (expanded.has(d.id) ? "▾" : "▸") : ""}
            </span>
            <span className="name">{d.name}</span>
            <span className="count" id={`count-${d.id}`}>
              {d.member_count} {d.member_count === 1 ? "member" : "members"}
            </span>
          </div>
        );
      })}
    </div>
  );
}
