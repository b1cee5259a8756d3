//! What a bulk licence request does, decided from what was read: for each member the licence it
//! holds before and after, the members left out and why, and the seats the request moves. No
//! store here: the request's writes are built from the plan.

use crate::error::{ApiError, ApiResult, LicenceConflict};
use crate::events::EventType;
use crate::members::MemberView;
use crate::model::keys::Key;
use crate::model::licence::{Licence, Renewal};
use crate::model::member::{Member, MemberStatus};
use crate::model::tenant::Tenant;
use crate::tenants::Seats;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The longest licence period, in days.
pub const MAX_PERIOD_DAYS: i64 = 3650;

/// What a bulk request does to each member's licence.
#[derive(Debug, Clone, Copy)]
pub enum Request {
    /// A licence expiring then (whole seconds) for each active member without one.
    Assign { expires_at: OffsetDateTime },
    /// Licences and queued renewals back into the pool.
    Revoke,
    /// The next period queued for each licence expiring within 30 days.
    Renew { period_days: i64 },
}

/// The tenant's seat pool as read.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub total: u32,
    pub used: u32,
}

impl Pool {
    pub fn of(tenant: &Tenant) -> Self {
        Self {
            total: tenant.seats_total,
            used: tenant.seats_used,
        }
    }

    pub fn available(self) -> i64 {
        i64::from(self.total) - i64::from(self.used)
    }

    /// The pool once `delta` seats have moved.
    pub fn after(self, delta: i64) -> Seats {
        let used = (i64::from(self.used) + delta).max(0) as u32;
        Seats {
            total: self.total,
            used,
            available: self.total.saturating_sub(used),
        }
    }
}

/// One member's change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub member_id: Uuid,
    pub key: Key,
    pub before: Option<Licence>,
    pub after: Option<Licence>,
    /// Seats it takes (positive) or gives back (negative).
    pub seats: i64,
    /// Its event, with the member as the API shows it once written.
    pub event: (EventType, Value),
    /// The event of putting it back (a later chunk of the request failed).
    pub undo_event: (EventType, Value),
}

#[derive(Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Members left out because of `skip_conflicts`, with the reason.
    pub skipped: Vec<LicenceConflict>,
    /// How far `seats_used` moves once every change is written.
    pub seat_delta: i64,
}

/// Plans `request` for the members read (each a member or the reason it cannot be one here).
/// Refuses the whole request when a member cannot take it and the client did not ask to skip
/// conflicts, or when the seats it takes exceed the free ones.
pub fn plan(
    members: Vec<Result<Member, LicenceConflict>>,
    request: Request,
    skip_conflicts: bool,
    pool: Pool,
    now: OffsetDateTime,
) -> ApiResult<Plan> {
    let (fine, skipped) = sort_out(members, skip_conflicts, |m| conflict(request, m, now))?;
    let changes: Vec<Change> = fine
        .iter()
        .filter_map(|m| change(request, m, now))
        .collect();
    let taking: i64 = changes.iter().map(|c| c.seats).filter(|s| *s > 0).sum();
    let available = pool.available();
    if taking > available {
        return Err(ApiError::InsufficientSeats(format!(
            "{taking} seats are needed and {available} are free"
        )));
    }
    Ok(Plan {
        seat_delta: changes.iter().map(|c| c.seats).sum(),
        changes,
        skipped,
    })
}

/// Splits into the members that can take the change and the conflicts; refuses the request
/// when there are conflicts and the client did not ask to skip them.
fn sort_out(
    members: Vec<Result<Member, LicenceConflict>>,
    skip_conflicts: bool,
    check: impl Fn(&Member) -> Option<&'static str>,
) -> ApiResult<(Vec<Member>, Vec<LicenceConflict>)> {
    let mut fine = Vec::new();
    let mut conflicts = Vec::new();
    for m in members {
        match m {
            Ok(member) => match check(&member) {
                Some(reason) => conflicts.push(LicenceConflict {
                    member_id: member.id,
                    reason,
                }),
                None => fine.push(member),
            },
            Err(conflict) => conflicts.push(conflict),
        }
    }
    if !conflicts.is_empty() && !skip_conflicts {
        return Err(ApiError::LicenceConflict { conflicts });
    }
    Ok((fine, conflicts))
}

/// Why a member cannot take `request`, if it cannot.
fn conflict(request: Request, m: &Member, now: OffsetDateTime) -> Option<&'static str> {
    match request {
        Request::Assign { .. } if m.status == MemberStatus::Disabled => Some("disabled"),
        Request::Assign { .. } => m.licence.is_some().then_some("already_licensed"),
        Request::Revoke => m.licence.is_none().then_some("no_licence"),
        Request::Renew { .. } => renewal_conflict(m, now),
    }
}

/// Why a member's licence cannot be renewed now, if it cannot.
fn renewal_conflict(m: &Member, now: OffsetDateTime) -> Option<&'static str> {
    match &m.licence {
        None => Some("no_licence"),
        Some(l) if l.renewal.is_some() => Some("renewal_queued"),
        Some(l) if !l.expiring(now) => Some("not_expiring"),
        Some(_) if m.status == MemberStatus::Disabled => Some("disabled"),
        Some(_) => None,
    }
}

/// The change `request` makes to a member without a conflict.
fn change(request: Request, m: &Member, now: OffsetDateTime) -> Option<Change> {
    let (after, seats) = match (request, &m.licence) {
        (Request::Assign { expires_at }, _) => (Some(Licence::new(now, expires_at)), 1),
        (Request::Revoke, Some(held)) => (None, -held.seats_held()),
        (Request::Renew { period_days }, Some(held)) => {
            let mut renewed = held.clone();
            renewed.renewal = Some(Renewal {
                period_days: period_days.clamp(1, MAX_PERIOD_DAYS) as u32,
                expires_at: held.expires_at + Duration::days(period_days),
                queued_at: now,
            });
            // The renewal holds its seat from now on.
            (Some(renewed), 1)
        }
        (Request::Revoke | Request::Renew { .. }, None) => return None,
    };
    let (done, undone) = match request {
        Request::Assign { .. } => (EventType::LicenceAssigned, EventType::LicenceRevoked),
        Request::Revoke => (EventType::LicenceRevoked, EventType::LicenceAssigned),
        Request::Renew { .. } => (EventType::LicenceRenewed, EventType::MemberUpdated),
    };
    let shown = |licence: &Option<Licence>| {
        let member = Member {
            licence: licence.clone(),
            updated_at: now,
            ..m.clone()
        };
        serde_json::to_value(MemberView::from(&member)).unwrap_or_default()
    };
    Some(Change {
        member_id: m.id,
        key: m.key(),
        event: (done, shown(&after)),
        undo_event: (undone, shown(&m.licence)),
        before: m.licence.clone(),
        after,
        seats,
    })
}

/// What setting one member's licence to expire at `expires_at` does: the licence it holds
/// afterwards, and whether it takes a seat (it had none).
pub fn plan_for_member(
    before: &Member,
    expires_at: OffsetDateTime,
    pool: Pool,
    now: OffsetDateTime,
) -> ApiResult<(Licence, bool)> {
    if before.licence.is_none() && before.status == MemberStatus::Disabled {
        return Err(ApiError::LicenceConflict {
            conflicts: vec![LicenceConflict {
                member_id: before.id,
                reason: "disabled",
            }],
        });
    }
    let licence = match &before.licence {
        Some(held) => Licence {
            expires_at,
            expires_epoch: expires_at.unix_timestamp(),
            ..held.clone()
        },
        None => Licence::new(now, expires_at),
    };
    let taking = before.licence.is_none();
    if taking && pool.used >= pool.total {
        return Err(ApiError::InsufficientSeats(
            "no free seat: every seat of the pool is in use".into(),
        ));
    }
    Ok((licence, taking))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::member::{MemberSource, Person};
    use crate::model::roles::{Permissions, Role};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);

    fn member(licence: Option<Licence>) -> Member {
        let person = Person {
            user_id: Uuid::now_v7(),
            email: "ada@example.test".into(),
            name: "Ada".into(),
            phone: None,
            email_verified: true,
        };
        Member {
            licence,
            ..Member::new(
                Uuid::now_v7(),
                Uuid::now_v7(),
                person,
                Role::Member,
                Permissions::none(),
                MemberSource::Console,
                NOW,
            )
        }
    }

    fn licensed(days_left: i64) -> Member {
        member(Some(Licence::new(NOW, NOW + Duration::days(days_left))))
    }

    fn renewal_queued() -> Member {
        let mut m = licensed(10);
        if let Some(l) = m.licence.as_mut() {
            l.renewal = Some(Renewal {
                period_days: 30,
                expires_at: l.expires_at + Duration::days(30),
                queued_at: NOW,
            });
        }
        m
    }

    fn pool(total: u32, used: u32) -> Pool {
        Pool { total, used }
    }

    const ASSIGN: Request = Request::Assign {
        expires_at: datetime!(2025-06-01 00:00:00 UTC),
    };

    #[test]
    fn assigning_takes_a_seat_per_member_while_the_pool_covers_them() {
        let members = vec![Ok(member(None)), Ok(member(None))];
        let plan = plan(members, ASSIGN, false, pool(5, 3), NOW).unwrap();
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(plan.seat_delta, 2);
        assert!(plan.skipped.is_empty());
        let change = &plan.changes[0];
        assert_eq!(change.before, None);
        assert_eq!(
            change.after,
            Some(Licence::new(NOW, datetime!(2025-06-01 00:00:00 UTC)))
        );
        assert_eq!(pool(5, 3).after(plan.seat_delta).available, 0);
    }

    #[test]
    fn assigning_more_than_the_free_seats_is_refused_whole() {
        let members = vec![Ok(member(None)), Ok(member(None)), Ok(member(None))];
        match plan(members, ASSIGN, false, pool(5, 3), NOW) {
            Err(ApiError::InsufficientSeats(m)) => {
                assert_eq!(m, "3 seats are needed and 2 are free")
            }
            other => panic!("expected insufficient seats, got {other:?}"),
        }
    }

    #[test]
    fn conflicts_refuse_the_request_unless_skipped() {
        let held = licensed(90);
        let gone = LicenceConflict {
            member_id: Uuid::now_v7(),
            reason: "unknown",
        };
        let members = || vec![Ok(member(None)), Ok(held.clone()), Err(gone.clone())];
        match plan(members(), ASSIGN, false, pool(5, 0), NOW) {
            Err(ApiError::LicenceConflict { conflicts }) => {
                let reasons: Vec<_> = conflicts.iter().map(|c| c.reason).collect();
                assert_eq!(reasons, ["already_licensed", "unknown"]);
            }
            other => panic!("expected a licence conflict, got {other:?}"),
        }
        let skipping = plan(members(), ASSIGN, true, pool(5, 0), NOW).unwrap();
        assert_eq!(skipping.changes.len(), 1);
        assert_eq!(skipping.seat_delta, 1);
        assert_eq!(
            skipping.skipped,
            [
                LicenceConflict {
                    member_id: held.id,
                    reason: "already_licensed"
                },
                gone
            ]
        );
    }

    #[test]
    fn a_disabled_member_gets_no_new_licence() {
        let disabled = Member {
            status: MemberStatus::Disabled,
            ..member(None)
        };
        let plan = plan(vec![Ok(disabled)], ASSIGN, true, pool(5, 0), NOW).unwrap();
        assert!(plan.changes.is_empty());
        assert_eq!(plan.skipped[0].reason, "disabled");
        assert_eq!(plan.seat_delta, 0);
    }

    #[test]
    fn renewing_queues_a_period_and_takes_a_seat_but_not_twice() {
        let expiring = licensed(10);
        let queued = renewal_queued();
        let far = licensed(90);
        let members = vec![Ok(expiring.clone()), Ok(queued.clone()), Ok(far.clone())];
        let request = Request::Renew { period_days: 30 };
        let plan = plan(members, request, true, pool(5, 4), NOW).unwrap();
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.seat_delta, 1);
        let renewal = plan.changes[0]
            .after
            .as_ref()
            .and_then(|l| l.renewal.clone());
        assert_eq!(
            renewal,
            Some(Renewal {
                period_days: 30,
                expires_at: NOW + Duration::days(40),
                queued_at: NOW,
            })
        );
        let reasons: Vec<_> = plan
            .skipped
            .iter()
            .map(|c| (c.member_id, c.reason))
            .collect();
        assert_eq!(
            reasons,
            [(queued.id, "renewal_queued"), (far.id, "not_expiring")]
        );
    }

    #[test]
    fn renewals_need_free_seats_like_licences() {
        let members = vec![Ok(licensed(10)), Ok(licensed(5))];
        let request = Request::Renew { period_days: 30 };
        assert!(matches!(
            plan(members, request, false, pool(5, 4), NOW),
            Err(ApiError::InsufficientSeats(_))
        ));
    }

    #[test]
    fn revoking_gives_back_the_licence_and_its_queued_renewal() {
        let single = licensed(90);
        let renewed = renewal_queued();
        let none = member(None);
        let members = vec![Ok(single.clone()), Ok(renewed.clone()), Ok(none.clone())];
        let plan = plan(members, Request::Revoke, true, pool(5, 5), NOW).unwrap();
        let seats: Vec<_> = plan
            .changes
            .iter()
            .map(|c| (c.member_id, c.seats))
            .collect();
        assert_eq!(seats, [(single.id, -1), (renewed.id, -2)]);
        assert!(plan.changes.iter().all(|c| c.after.is_none()));
        assert_eq!(plan.changes[1].before, renewed.licence);
        assert_eq!(plan.seat_delta, -3);
        assert_eq!(plan.skipped[0].reason, "no_licence");
        assert_eq!(pool(5, 5).after(plan.seat_delta).used, 2);
    }

    #[test]
    fn setting_one_member_moves_its_expiry_or_takes_a_free_seat() {
        let later = datetime!(2025-09-01 00:00:00 UTC);
        let held = licensed(10);
        let (moved, taking) = plan_for_member(&held, later, pool(1, 1), NOW).unwrap();
        assert!(
            !taking,
            "moving an expiry takes no seat, even from a full pool"
        );
        assert_eq!(moved.expires_at, later);
        assert_eq!(moved.expires_epoch, later.unix_timestamp());
        assert_eq!(moved.assigned_at, NOW);
        let (new, taking) = plan_for_member(&member(None), later, pool(2, 1), NOW).unwrap();
        assert!(taking);
        assert_eq!(new, Licence::new(NOW, later));
        assert!(matches!(
            plan_for_member(&member(None), later, pool(1, 1), NOW),
            Err(ApiError::InsufficientSeats(_))
        ));
        let disabled = Member {
            status: MemberStatus::Disabled,
            ..member(None)
        };
        assert!(matches!(
            plan_for_member(&disabled, later, pool(2, 0), NOW),
            Err(ApiError::LicenceConflict { .. })
        ));
    }
}
