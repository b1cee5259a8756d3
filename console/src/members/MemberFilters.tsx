// Search by email and name, and every filter and order of the member list (SPEC §3, §8.4).
import { useEffect, useState } from "react";
import { Select } from "../shared/ui";
import type { MemberQuery } from "./api";

export interface Filters {
  q: string;
  status: string;
  role: string;
  source: string;
  licence: string;
  position: string;
  location: string;
  work_number: string;
  directory_number_set: string;
  sort: string;
}

export const NO_FILTERS: Filters = {
  q: "",
  status: "",
  role: "",
  source: "",
  licence: "",
  position: "",
  location: "",
  work_number: "",
  directory_number_set: "",
  sort: "directory",
};

/** The query of GET …/members for these filters and the selected scope. */
export function toQuery(filters: Filters, departmentId: string | null, includeDescendants: boolean): MemberQuery {
  const query: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filters)) {
    const text = value.trim();
    if (!text) continue;
    query[key] = key === "directory_number_set" ? text === "true" : text;
  }
  if (departmentId) {
    query.department_id = departmentId;
    if (includeDescendants) query.include_descendants = true;
  }
  return query as MemberQuery;
}

const any = { value: "", label: "Any" };

export function MemberFilters({ filters, onChange }: { filters: Filters; onChange: (filters: Filters) => void }) {
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [filters]);
  // Typed text applies after a pause; choices apply at once.
  useEffect(() => {
    const timer = window.setTimeout(() => {
      if (JSON.stringify(draft) !== JSON.stringify(filters)) onChange(draft);
    }, 300);
    return () => window.clearTimeout(timer);
  }, [draft, filters, onChange]);
  const set = (key: keyof Filters) => (event: { target: { value: string } }) => setDraft({ ...draft, [key]: event.target.value });
  const choose = (key: keyof Filters) => (event: { target: { value: string } }) => {
    const next = { ...draft, [key]: event.target.value };
    setDraft(next);
    onChange(next);
  };
  const text = (key: "position" | "location" | "work_number", label: string) => (
    <div className="field">
      <label htmlFor={`filter-${key}`}>{label}</label>
      <input id={`filter-${key}`} value={draft[key]} onChange={set(key)} />
    </div>
  );

  return (
    <div role="search" className="filters" aria-label="Search and filter members">
      <div className="field search">
        <label htmlFor="member-search">Search by email or name</label>
        <input id="member-search" type="search" value={draft.q} onChange={set("q")} />
      </div>
      <Select label="Status" value={draft.status} onChange={choose("status")} options={[any, { value: "active", label: "Active" }, { value: "disabled", label: "Disabled" }]} />
      <Select
        label="Role"
        value={draft.role}
        onChange={choose("role")}
        options={[any, { value: "owner", label: "Owner" }, { value: "admin", label: "Admin" }, { value: "member", label: "Member" }]}
      />
      <Select
        label="Source"
        value={draft.source}
        onChange={choose("source")}
        options={[
          any,
          { value: "console", label: "Console" },
          { value: "import", label: "Import" },
          { value: "invitation", label: "Invitation" },
          { value: "join_link", label: "Join link" },
          { value: "join_number", label: "Join number" },
          { value: "api", label: "API" },
          { value: "scim", label: "SCIM" },
        ]}
      />
      <Select
        label="Licence"
        value={draft.licence}
        onChange={choose("licence")}
        options={[any, { value: "none", label: "None" }, { value: "active", label: "Licensed" }, { value: "expiring", label: "Expiring within 30 days" }]}
      />
      {text("position", "Position")}
      {text("location", "Location")}
      {text("work_number", "Work number")}
      <Select
        label="Directory number"
        value={draft.directory_number_set}
        onChange={choose("directory_number_set")}
        options={[any, { value: "true", label: "Set" }, { value: "false", label: "Not set" }]}
      />
      <Select
        label="Sort by"
        value={draft.sort}
        onChange={choose("sort")}
        options={[
          { value: "directory", label: "Directory order" },
          { value: "name", label: "Name" },
          { value: "created_at", label: "Created" },
          { value: "last_login_at", label: "Last sign-in" },
        ]}
      />
    </div>
  );
}
