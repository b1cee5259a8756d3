import { describe, expect, it } from "vitest";
import { describe as describeProblem, otherFieldErrors, toProblem, waitText } from "./problem";
import { signInOutcome } from "../auth/signInOutcome";

describe("problem documents", () => {
  it("keeps the detail, code and field errors", () => {
    const p = toProblem(400, {
      type: "x",
      title: "Validation failed",
      status: 400,
      code: "validation_failed",
      detail: "the request is invalid",
      errors: [
        { field: "name", message: "must not be empty" },
        { field: "name", message: "is too long" },
        { field: "member_ids[2]", message: "is not a member" },
      ],
    });
    expect(p.code).toBe("validation_failed");
    expect(p.fields.name).toBe("must not be empty; is too long");
    expect(describeProblem(p)).toBe("The request is invalid.");
    expect(otherFieldErrors(p, ["name"])).toEqual(["member_ids[2]: is not a member"]);
  });

  it("reads Retry-After from the header, else the body", () => {
    const headers = new Headers({ "retry-after": "900" });
    expect(toProblem(429, { code: "rate_limited", detail: "too many attempts" }, headers).retryAfter).toBe(900);
    expect(toProblem(429, { code: "rate_limited", retry_after: 30 }).retryAfter).toBe(30);
    expect(describeProblem(toProblem(429, { code: "rate_limited" }, headers))).toBe("Too many attempts. Try again in 15 minutes.");
    expect(waitText(1)).toBe("1 second");
    expect(waitText(89)).toBe("89 seconds");
    expect(waitText(7200)).toBe("2 hours");
  });

  it("says what a 412 means", () => {
    const p = toProblem(412, { code: "precondition_failed", detail: "the resource has changed since it was read" });
    expect(describeProblem(p)).toMatch(/changed by someone else.*reload/i);
  });

  it("survives bodies that are not problem documents", () => {
    const p = toProblem(502, "<html>bad gateway</html>");
    expect(p.code).toBe("internal");
    expect(p.detail).toBe("Unexpected answer (502).");
    expect(toProblem(503, undefined).detail).toMatch(/busy/);
  });

  it("keeps licence conflicts and the change-password token", () => {
    const conflicts = [{ member_id: "m1", reason: "already_licensed" }];
    expect(toProblem(409, { code: "licence_conflict", conflicts }).conflicts).toEqual(conflicts);
    expect(toProblem(403, { code: "password_expired", access_token: "tok" }).accessToken).toBe("tok");
  });
});

describe("sign-in outcomes", () => {
  it("maps every answer of the sign-in to what the screen does", () => {
    expect(signInOutcome(toProblem(401, { code: "unauthorized" })).kind).toBe("wrong_credentials");
    expect(signInOutcome(toProblem(403, { code: "email_unverified" })).kind).toBe("verify_email");
    expect(signInOutcome(toProblem(403, { code: "password_expired", access_token: "t" }))).toEqual({
      kind: "change_password",
      changeToken: "t",
    });
    expect(signInOutcome(toProblem(429, { code: "rate_limited" }, new Headers({ "retry-after": "60" })))).toEqual({
      kind: "wait",
      seconds: 60,
    });
    const tenants = [
      { id: "7c1c8a52-7d1f-4b7e-9a55-0d0c3f7f2a01", name: "Acme" },
      { id: "0b8e1f8e-33a4-4c55-8f0e-6a9d2b1c4d02", name: "Globex" },
    ];
    const several = { code: "validation_failed", errors: [{ field: "tenant_id", message: "is required" }] };
    expect(signInOutcome(toProblem(400, { ...several, tenants }))).toEqual({ kind: "choose_tenant", tenants });
    // Without the tenants to choose from there is nothing to pick: the field error is shown.
    expect(signInOutcome(toProblem(400, several)).kind).toBe("refused");
    const disabled = signInOutcome(toProblem(403, { code: "account_disabled", detail: "the account is disabled" }));
    expect(disabled.kind).toBe("refused");
  });
});
