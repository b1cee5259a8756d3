// The conflict step of bulk licence assignment, driven as the admin would: submit, read the
// conflicts, remove them and go on.
import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ProblemError, toProblem } from "../api/problem";
import { LicenceDialog } from "./LicenceDialog";
import { withoutConflicts } from "./conflicts";

beforeAll(() => {
  // jsdom has no modal dialogs.
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
  };
});
afterEach(cleanup);

const accounts = [
  { id: "a", name: "Ada", email: "ada@x.test" },
  { id: "b", name: "Bob", email: "bob@x.test" },
  { id: "c", name: "Cy", email: "cy@x.test" },
];
const seats = { total: 5, used: 4, available: 1 };

describe("the licence conflict dialog", () => {
  it("lists the conflicts, then assigns the rest without them", async () => {
    const submit = vi
      .fn()
      .mockRejectedValueOnce(
        new ProblemError(
          toProblem(409, {
            code: "licence_conflict",
            detail: "some members cannot take this change",
            conflicts: [
              { member_id: "b", reason: "already_licensed" },
              { member_id: "c", reason: "disabled" },
            ],
          }),
        ),
      )
      .mockResolvedValueOnce({ member_ids: ["a"], skipped: [], seats });
    const onDone = vi.fn();
    render(<LicenceDialog mode="assign" accounts={accounts} submit={submit} onDone={onDone} onClose={() => {}} initialValue="2031-01-01" />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Assign" }));
    const table = await screen.findByRole("table", { name: "Conflicting accounts" });
    expect(within(table).getByText("already holds a licence")).toBeTruthy();
    expect(within(table).getByText("disabled")).toBeTruthy();
    expect(submit).toHaveBeenLastCalledWith(["a", "b", "c"], "2031-01-01");
    await user.click(screen.getByRole("button", { name: "Remove conflicting accounts and continue" }));
    expect(submit).toHaveBeenLastCalledWith(["a"], "2031-01-01");
    expect((await screen.findByRole("status")).textContent).toMatch(/Licences assigned for 1 account\. Seats 4\/5/);
    expect(onDone).toHaveBeenCalledWith({ member_ids: ["a"], skipped: [], seats }, [accounts[0]]);
  });

  it("shows other refusals' detail, such as too few seats", async () => {
    const submit = vi
      .fn()
      .mockRejectedValueOnce(new ProblemError(toProblem(409, { code: "insufficient_seats", detail: "3 seats are needed and 1 are free" })));
    render(<LicenceDialog mode="assign" accounts={accounts} submit={submit} onDone={() => {}} onClose={() => {}} initialValue="2031-01-01" />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Assign" }));
    expect((await screen.findByRole("alert")).textContent).toContain("3 seats are needed and 1 are free.");
  });

  it("says so when every selected account is in conflict", async () => {
    const submit = vi.fn().mockRejectedValueOnce(
      new ProblemError(toProblem(409, { code: "licence_conflict", conflicts: [{ member_id: "a", reason: "already_licensed" }] })),
    );
    render(<LicenceDialog mode="renew" accounts={[accounts[0]]} submit={submit} onDone={() => {}} onClose={() => {}} initialValue="365" />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Renew" }));
    await user.click(await screen.findByRole("button", { name: "Remove conflicting accounts and continue" }));
    expect((await screen.findByRole("alert")).textContent).toContain("No selected account can take this change.");
    expect(submit).toHaveBeenCalledTimes(1);
  });

  it("removes exactly the conflicting accounts", () => {
    expect(withoutConflicts(accounts, [{ member_id: "c", reason: "disabled" }]).map((a) => a.id)).toEqual(["a", "b"]);
  });
});
