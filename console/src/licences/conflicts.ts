// The seed's conflict dialog (seed 000 §2.3 ④): a bulk licence assignment or renewal that some
// selected accounts cannot take answers `licence_conflict` with each of them and why; the admin
// removes those accounts and goes on with the rest.
import type { LicenceConflict } from "../api/problem";
import type { components } from "../api/schema";

type Reason = components["schemas"]["LicenceConflictReason"];

export const REASONS: Record<Reason, string> = {
  unknown: "not a member of this organisation",
  deleted: "in the recycle bin",
  disabled: "disabled",
  not_a_member: "a join request, not a member yet",
  already_licensed: "already holds a licence",
  no_licence: "holds no licence",
  not_expiring: "licence does not expire within 30 days",
  renewal_queued: "a renewal is already queued",
};

export interface Account {
  id: string;
  name: string;
  email: string;
}

export interface ConflictRow extends Account {
  reason: string;
}

/** The accounts in conflict, named as the admin selected them. */
export function conflictRows(conflicts: LicenceConflict[], selected: Account[]): ConflictRow[] {
  const byId = new Map(selected.map((a) => [a.id, a]));
  return conflicts.map((c) => {
    const account = byId.get(c.member_id) ?? { id: c.member_id, name: "Unknown account", email: c.member_id };
    return { ...account, reason: REASONS[c.reason] ?? c.reason };
  });
}

/** The selection without the accounts in conflict: what "remove and go on" sends. */
export function withoutConflicts(selected: Account[], conflicts: LicenceConflict[]): Account[] {
  const out = new Set(conflicts.map((c) => c.member_id));
  return selected.filter((a) => !out.has(a.id));
}
