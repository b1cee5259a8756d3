import { describe, expect, it } from "vitest";
import type { Member } from "./api";
import { toQuery, NO_FILTERS } from "./MemberFilters";
import { changes } from "./MemberPanel";

const member = {
  id: "m",
  department_id: "d1",
  position: "Analyst",
  work_number: null,
  location: "London",
  directory_number: 10000,
  role: "member",
} as unknown as Member;

describe("the side panel's edit", () => {
  it("sends only what changed, and clears emptied fields", () => {
    const form = { department_id: "d1", position: "Analyst", work_number: "", location: "London", directory_number: "10000", role: "member" };
    expect(changes(member, form)).toEqual({});
    expect(changes(member, { ...form, position: " Lead ", location: "", directory_number: "7", department_id: "d2", role: "admin" })).toEqual({
      position: "Lead",
      location: null,
      directory_number: 7,
      department_id: "d2",
      role: "admin",
    });
    expect(changes(member, { ...form, work_number: "W-1" })).toEqual({ work_number: "W-1" });
  });
});

describe("the member list's query", () => {
  it("sends the filters set, the department scope and the order", () => {
    expect(toQuery(NO_FILTERS, null, true)).toEqual({ sort: "directory" });
    expect(
      toQuery({ ...NO_FILTERS, q: " ada ", status: "disabled", directory_number_set: "false", sort: "name" }, "d1", true),
    ).toEqual({ q: "ada", status: "disabled", directory_number_set: false, sort: "name", department_id: "d1", include_descendants: true });
    expect(toQuery({ ...NO_FILTERS, directory_number_set: "true" }, "d1", false)).toEqual({
      directory_number_set: true,
      sort: "directory",
      department_id: "d1",
    });
  });
});
