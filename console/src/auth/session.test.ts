import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { session } from "./session";

const login = (expiresIn = 900) => ({
  access_token: "first",
  token_type: "Bearer" as const,
  expires_in: expiresIn,
  tenant_id: null,
  member_id: null,
  platform_admin: false,
});

describe("session renewal", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    session.end(null);
    vi.useRealTimers();
  });

  it("renews once however many requests were answered 401 together", async () => {
    let calls = 0;
    session.renewWith(async () => {
      calls += 1;
      session.replaceToken("second", 900);
      return true;
    });
    session.start(login(), "a@example.com");
    const answers = await Promise.all([session.renew(), session.renew(), session.renew()]);
    expect(answers).toEqual([true, true, true]);
    expect(calls).toBe(1);
    expect(session.token()).toBe("second");
  });

  it("ends the session, saying it expired, when the cookie refreshes nothing", async () => {
    session.renewWith(async () => false);
    session.start(login(), "a@example.com");
    expect(await session.renew()).toBe(false);
    expect(session.current()).toBeNull();
    expect(session.endReason()).toBe("expired");
  });

  it("renews a minute before the access token expires", async () => {
    const renew = vi.fn(async () => {
      session.replaceToken("next", 900);
      return true;
    });
    session.renewWith(renew);
    session.start(login(900), "a@example.com");
    await vi.advanceTimersByTimeAsync(838_000);
    expect(renew).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(renew).toHaveBeenCalledTimes(1);
    expect(session.token()).toBe("next");
  });

  it("a signed-out session renews nothing", async () => {
    const renew = vi.fn(async () => true);
    session.renewWith(renew);
    session.start(login(), "a@example.com");
    session.end("signed_out");
    await vi.advanceTimersByTimeAsync(900_000);
    expect(await session.renew()).toBe(false);
    expect(renew).not.toHaveBeenCalled();
  });
});
