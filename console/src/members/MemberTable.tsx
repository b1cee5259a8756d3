// The account list (seed 000 §2.4): a `table` named "Members", virtualised so that only the rows
// in view are in the page (a tenant of 10,000 members scrolls without loading them all: the next
// page is fetched as the end nears, or with "Load more"), with a checkbox per row for
// multi-select and the member's name opening the side panel.
import { useEffect, useRef, useState } from "react";
import { formatDay } from "../shared/ui";
import type { Member } from "./api";
import { virtualWindow } from "./pages";

export const ROW_HEIGHT = 40;

interface Props {
  members: Member[];
  departmentPath: (id: string) => string;
  hasMore: boolean;
  loading: boolean;
  selected: Set<string>;
  onToggle: (member: Member) => void;
  onToggleAll: (all: boolean) => void;
  onOpen: (member: Member) => void;
  onNearEnd: (lastRow: number) => void;
  onLoadMore: () => void;
}

export function MemberTable(props: Props) {
  const { members, selected, hasMore, loading } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  const win = virtualWindow(members.length, scroll.top, scroll.height, ROW_HEIGHT);
  const visible = members.slice(win.first, win.last + 1);
  const allSelected = members.length > 0 && members.every((m) => selected.has(m.id));

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setScroll({ top: el.scrollTop, height: el.clientHeight || 600 });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const { onNearEnd } = props;
  useEffect(() => {
    onNearEnd(win.last);
  }, [win.last, members.length, hasMore, onNearEnd]);

  return (
    <div className="member-table">
      <div
        className="scroller"
        ref={scroller}
        tabIndex={0}
        aria-label="Member list, scrollable"
        role="region"
        onScroll={(e) => setScroll({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight || 600 })}
      >
        <table aria-label="Members" aria-rowcount={hasMore ? -1 : members.length + 1}>
          <thead>
            <tr aria-rowindex={1}>
              <th scope="col" className="check">
                <input
                  type="checkbox"
                  aria-label="Select all loaded members"
                  checked={allSelected}
                  onChange={(e) => props.onToggleAll(e.target.checked)}
                />
              </th>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Department</th>
              <th scope="col">Position</th>
              <th scope="col">Work number</th>
              <th scope="col">Location</th>
              <th scope="col">Directory no.</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Source</th>
              <th scope="col">Licence</th>
              <th scope="col">Last sign-in</th>
            </tr>
          </thead>
          <tbody>
            {win.padTop > 0 && (
              <tr aria-hidden="true" className="spacer">
                <td colSpan={13} style={{ height: win.padTop }} />
              </tr>
            )}
            {visible.map((m, i) => (
              <tr key={m.id} aria-rowindex={win.first + i + 2} aria-selected={selected.has(m.id)} className={selected.has(m.id) ? "selected" : undefined}>
                <td className="check">
                  <input type="checkbox" aria-label={`Select ${m.name}`} checked={selected.has(m.id)} onChange={() => props.onToggle(m)} />
                </td>
                <td>
                  <button type="button" className="link" onClick={() => props.onOpen(m)}>
                    {m.name}
                  </button>
                </td>
                <td>{m.email}</td>
                <td>{props.departmentPath(m.department_id)}</td>
                <td>{m.position ?? ""}</td>
                <td>{m.work_number ?? ""}</td>
                <td>{m.location ?? ""}</td>
                <td>{m.directory_number === 10000 ? "" : m.directory_number}</td>
                <td>{m.role}</td>
                <td>{m.status}</td>
                <td>{m.source}</td>
                <td>{m.licence ? `until ${formatDay(m.licence.expires_at)}` : "none"}</td>
                <td>{m.last_login_at ? formatDay(m.last_login_at) : "never"}</td>
              </tr>
            ))}
            {win.padBottom > 0 && (
              <tr aria-hidden="true" className="spacer">
                <td colSpan={13} style={{ height: win.padBottom }} />
              </tr>
            )}
          </tbody>
        </table>
        {members.length === 0 && !loading && !hasMore && <p className="empty">No members match.</p>}
      </div>
      <div className="table-foot">
        <span role="status">
          {loading ? "Loading members…" : `${members.length} member${members.length === 1 ? "" : "s"} loaded${hasMore ? ", more to load" : ""}`}
        </span>
        {hasMore && (
          <button type="button" onClick={props.onLoadMore} disabled={loading}>
            Load more
          </button>
        )}
      </div>
    </div>
  );
}
