//! Seat licences ("VIP"): a tenant owns `seats_total` seats; a member holds at most one licence
//! with an expiry, and optionally one queued renewal period. `seats_used` counts licences and
//! queued renewals (a renewal holds its seat from the moment it is queued, so renewals can never
//! oversubscribe the pool) and moves in the same transaction as the members it counts, under the
//! condition that it stays within `seats_total`.
//!
//! Bulk operations check every member first and refuse the whole request with the list of
//! conflicts (or skip them with `skip_conflicts`); then they write in transactions of up to 100
//! actions, and put back what an earlier transaction wrote if a later one fails, so a request
//! takes effect entirely or not at all.

pub mod expiry;

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Access, Need, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks, LicenceConflict};
use crate::members::MemberView;
use crate::model::keys::{GSI6, Key, licences_partition};
pub use crate::model::licence::{EXPIRING_DAYS, Licence, Renewal};
pub use crate::model::licence::{LicenceFilter, LicenceView};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::model::time::{rfc3339, whole_seconds};
use crate::store::{
    Condition, MAX_TRANSACTION_ACTIONS, Query, SortRange, Transaction, from_item, num, s,
};
use crate::tenants::Seats;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const MAX_BULK: usize = 1000;
pub const MAX_PERIOD_DAYS: i64 = 3650;

#[derive(Debug, Serialize)]
pub struct LicenceSummary {
    pub total: u32,
    pub used: u32,
    pub available: u32,
    pub expiring_within_30_days: u64,
}

/// The pool: total, used (licences and queued renewals), available, and how many licences expire
/// within 30 days (a count over one key range of the tenant's licence index).
pub async fn summary(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
) -> ApiResult<LicenceSummary> {
    let (_, tenant, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, &[]).await?;
    let now = app.now();
    let expiring = app
        .store
        .count(Query::new(
            Some(GSI6),
            licences_partition(tenant_id),
            SortRange::Between(
                "0".into(),
                format!(
                    "{}#~",
                    rfc3339(whole_seconds(now + Duration::days(EXPIRING_DAYS)))
                ),
            ),
        ))
        .await?;
    Ok(LicenceSummary {
        total: tenant.seats_total,
        used: tenant.seats_used,
        available: tenant.seats_total.saturating_sub(tenant.seats_used),
        expiring_within_30_days: expiring,
    })
}

fn seats(tenant: &Tenant, delta: i64) -> Seats {
    let used = (i64::from(tenant.seats_used) + delta).max(0) as u32;
    Seats {
        total: tenant.seats_total,
        used,
        available: tenant.seats_total.saturating_sub(used),
    }
}

#[derive(Debug, Serialize)]
pub struct LicenceResult {
    /// Members changed by this request.
    pub member_ids: Vec<Uuid>,
    /// Members left out because of `skip_conflicts`, with the reason.
    pub skipped: Vec<LicenceConflict>,
    pub seats: Seats,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    pub member_ids: Vec<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default)]
    pub skip_conflicts: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    pub member_ids: Vec<Uuid>,
    #[serde(default)]
    pub skip_conflicts: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewInput {
    pub member_ids: Vec<Uuid>,
    pub period_days: i64,
    #[serde(default)]
    pub skip_conflicts: bool,
}

fn unique_ids(checks: &mut Checks, ids: &[Uuid]) -> Vec<Uuid> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        checks.fail("member_ids", format!("must hold 1 to {MAX_BULK} ids"));
    }
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    unique
}

/// The members named, read with the caller and the tenant (batches of 100 keys); each is a
/// member, or the reason it cannot be one here.
async fn load(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> ApiResult<(Access, Tenant, Vec<Result<Member, LicenceConflict>>)> {
    let keys: Vec<Key> = ids.iter().map(|m| Key::member(tenant_id, *m)).collect();
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::LicencesWrite),
        &keys,
    )
    .await?;
    let mut members = Vec::with_capacity(ids.len());
    for (id, item) in ids.iter().zip(items) {
        let conflict = |reason| {
            Err(LicenceConflict {
                member_id: *id,
                reason,
            })
        };
        members.push(match item {
            None => conflict("unknown"),
            Some(item) => {
                let member: Member = from_item(item)?;
                match member.status {
                    MemberStatus::Deleted => conflict("deleted"),
                    MemberStatus::Pending | MemberStatus::Rejected => conflict("not_a_member"),
                    _ => Ok(member),
                }
            }
        });
    }
    Ok((access, tenant, members))
}

/// One member's change: the update, the state it expects, the state it leaves (what putting it
/// back is conditioned on), the update that puts it back, and the seats it moves.
struct Edit {
    member_id: Uuid,
    key: Key,
    forward: Condition,
    guard: Condition,
    written: Condition,
    backward: Condition,
    seats: i64,
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

fn licence_value(licence: &Licence) -> ApiResult<aws_sdk_dynamodb::types::AttributeValue> {
    serde_dynamo::to_attribute_value(licence).map_err(ApiError::internal)
}

/// SET licence and its index keys.
fn set_licence(
    licence: &Licence,
    tenant_id: Uuid,
    member_id: Uuid,
    now: &str,
) -> ApiResult<Condition> {
    let mut c = Condition::new(
        "SET licence = :licence, gsi6pk = :g6pk, gsi6sk = :g6sk, gsi7pk = :g7pk, gsi7sk = :g7sk, \
         updated_at = :now ADD version :one",
    )
    .value(":licence", licence_value(licence)?)
    .value(":now", s(now))
    .value(":one", num(1));
    for (attr, value) in licence.index_keys(tenant_id, member_id) {
        let placeholder = match attr {
            "gsi6pk" => ":g6pk",
            "gsi6sk" => ":g6sk",
            "gsi7pk" => ":g7pk",
            _ => ":g7sk",
        };
        c = c.value(placeholder, s(value));
    }
    Ok(c)
}

fn remove_licence(now: &str) -> Condition {
    Condition::new(
        "REMOVE licence, gsi6pk, gsi6sk, gsi7pk, gsi7sk SET updated_at = :now ADD version :one",
    )
    .value(":now", s(now))
    .value(":one", num(1))
}

/// The member still holds exactly the licence read (or none, when `licence` is None).
fn holds(licence: Option<&Licence>) -> ApiResult<Condition> {
    Ok(match licence {
        None => Condition::new("attribute_exists(pk) AND attribute_not_exists(licence)"),
        Some(l) => Condition::new(if l.renewal.is_some() {
            "licence.expires_epoch = :held AND attribute_exists(licence.renewal)"
        } else {
            "licence.expires_epoch = :held AND attribute_not_exists(licence.renewal)"
        })
        .value(":held", num(l.expires_epoch)),
    })
}

/// The member holds exactly `licence` as written (each of its fields, and its renewal's), or
/// none when `licence` is None: what undoing a write is conditioned on.
fn holds_exactly(licence: Option<&Licence>) -> ApiResult<Condition> {
    let Some(l) = licence else {
        return holds(None);
    };
    // The stored forms of the timestamps, as the write serialised them.
    let field = |map: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        map.get(name)
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("licence without {name}")))
    };
    let AttributeValue::M(stored) = licence_value(l)? else {
        return Err(ApiError::internal("a licence is stored as a map"));
    };
    let mut c = holds(Some(l))?;
    c.expression
        .push_str(" AND licence.assigned_at = :assigned");
    c = c.value(":assigned", field(&stored, "assigned_at")?);
    if let Some(AttributeValue::M(renewal)) = stored.get("renewal") {
        c.expression.push_str(
            " AND licence.renewal.expires_at = :renewal_expires \
             AND licence.renewal.queued_at = :renewal_queued",
        );
        c = c
            .value(":renewal_expires", field(renewal, "expires_at")?)
            .value(":renewal_queued", field(renewal, "queued_at")?);
    }
    Ok(c)
}

/// Assigns licences expiring at `expires_at` to active members without one.
pub async fn assign(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: AssignInput,
) -> ApiResult<LicenceResult> {
    let now = app.now();
    let mut checks = Checks::new();
    let ids = unique_ids(&mut checks, &input.member_ids);
    checks.check(
        input.expires_at > now,
        "expires_at",
        "must be in the future",
    );
    checks.finish()?;
    let expires_at = whole_seconds(input.expires_at);
    let (access, tenant, members) = load(app, requester, tenant_id, &ids).await?;
    let (members, skipped) = sort_out(members, input.skip_conflicts, |m| {
        if m.status == MemberStatus::Disabled {
            Some("disabled")
        } else if m.licence.is_some() {
            Some("already_licensed")
        } else {
            None
        }
    })?;
    let stamp = rfc3339(now);
    let mut edits = Vec::with_capacity(members.len());
    for m in &members {
        let licence = Licence::new(now, expires_at);
        edits.push(Edit {
            member_id: m.id,
            key: m.key(),
            forward: set_licence(&licence, tenant_id, m.id, &stamp)?,
            guard: Condition::new(
                "attribute_exists(pk) AND attribute_not_exists(licence) AND #status = :active",
            )
            .name("#status", "status")
            .value(":active", s("active")),
            written: holds_exactly(Some(&licence))?,
            backward: remove_licence(&stamp),
            seats: 1,
        });
    }
    apply(
        app,
        &access,
        &tenant,
        edits,
        "licence.assign",
        json!({"expires_at": rfc3339(expires_at)}),
        skipped,
    )
    .await
}

/// Takes licences (and queued renewals) back into the pool.
pub async fn revoke(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: RevokeInput,
) -> ApiResult<LicenceResult> {
    let mut checks = Checks::new();
    let ids = unique_ids(&mut checks, &input.member_ids);
    checks.finish()?;
    let (access, tenant, members) = load(app, requester, tenant_id, &ids).await?;
    let (members, skipped) = sort_out(members, input.skip_conflicts, |m| {
        m.licence.is_none().then_some("no_licence")
    })?;
    let stamp = rfc3339(app.now());
    let mut edits = Vec::with_capacity(members.len());
    for m in &members {
        let Some(licence) = &m.licence else { continue };
        edits.push(Edit {
            member_id: m.id,
            key: m.key(),
            forward: remove_licence(&stamp),
            guard: holds(Some(licence))?,
            written: holds_exactly(None)?,
            backward: set_licence(licence, tenant_id, m.id, &stamp)?,
            seats: -licence.seats_held(),
        });
    }
    apply(
        app,
        &access,
        &tenant,
        edits,
        "licence.revoke",
        json!({}),
        skipped,
    )
    .await
}

/// Queues the next period for licences expiring within 30 days (feature `licence_renewal`).
/// Each queued renewal takes a seat now, so all of them together must fit in the free seats.
pub async fn renew(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: RenewInput,
) -> ApiResult<LicenceResult> {
    let mut checks = Checks::new();
    let ids = unique_ids(&mut checks, &input.member_ids);
    validate_period(&mut checks, input.period_days);
    checks.finish()?;
    let (access, tenant, members) = load(app, requester, tenant_id, &ids).await?;
    if !tenant.feature_flags.licence_renewal {
        return Err(ApiError::FeatureNotEnabled(
            "licence renewal is not enabled for this tenant; a platform admin can switch it on",
        ));
    }
    let now = app.now();
    let (members, skipped) = sort_out(members, input.skip_conflicts, |m| renewal_conflict(m, now))?;
    let stamp = rfc3339(now);
    let mut edits = Vec::with_capacity(members.len());
    for m in &members {
        let Some(licence) = &m.licence else { continue };
        let mut renewed = licence.clone();
        renewed.renewal = Some(Renewal {
            period_days: input.period_days.clamp(1, MAX_PERIOD_DAYS) as u32,
            expires_at: licence.expires_at + Duration::days(input.period_days),
            queued_at: now,
        });
        edits.push(Edit {
            member_id: m.id,
            key: m.key(),
            forward: set_licence(&renewed, tenant_id, m.id, &stamp)?,
            guard: holds(Some(licence))?,
            written: holds_exactly(Some(&renewed))?,
            backward: set_licence(licence, tenant_id, m.id, &stamp)?,
            seats: 1,
        });
    }
    apply(
        app,
        &access,
        &tenant,
        edits,
        "licence.renew",
        json!({"period_days": input.period_days}),
        skipped,
    )
    .await
}

fn validate_period(checks: &mut Checks, days: i64) {
    crate::validate::range(checks, "period_days", days, 1, MAX_PERIOD_DAYS);
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

/// Writes the edits in transactions of at most 100 actions: members, the tenant's seat counter
/// (conditioned to stay within the pool when seats are taken) and one audit entry each.
async fn apply(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    edits: Vec<Edit>,
    action: &str,
    what: serde_json::Value,
    skipped: Vec<LicenceConflict>,
) -> ApiResult<LicenceResult> {
    let taking: i64 = edits.iter().map(|e| e.seats).filter(|s| *s > 0).sum();
    let available = i64::from(tenant.seats_total) - i64::from(tenant.seats_used);
    if taking > available {
        return Err(ApiError::InsufficientSeats(format!(
            "{taking} seats are needed and {available} are free"
        )));
    }
    let per_tx = MAX_TRANSACTION_ACTIONS - 2;
    let chunks: Vec<&[Edit]> = edits.chunks(per_tx).collect();
    let mut applied: Vec<&[Edit]> = Vec::new();
    for chunk in &chunks {
        let mut tx = Transaction::new();
        for e in chunk.iter() {
            tx.update(
                app.table(),
                &e.key,
                e.forward.clone(),
                Some((
                    e.guard.clone(),
                    ApiError::Conflict(format!(
                        "member {} changed at the same time; retry",
                        e.member_id
                    )),
                )),
            )?;
        }
        let delta: i64 = chunk.iter().map(|e| e.seats).sum();
        seat_update(app, &mut tx, tenant, delta)?;
        audit::record(
            app,
            &mut tx,
            &access.caller,
            Change {
                tenant_id: tenant.id,
                action,
                target_type: "members",
                target_id: tenant.id,
                before: None,
                after: Some(json!({
                    "member_ids": chunk.iter().map(|e| e.member_id).collect::<Vec<_>>(),
                    "seats": delta,
                    "set": what,
                })),
            },
        )?;
        if let Err(err) = app.store.transact(tx).await {
            undo(app, tenant, &applied).await;
            return Err(err);
        }
        applied.push(chunk);
    }
    let delta: i64 = edits.iter().map(|e| e.seats).sum();
    Ok(LicenceResult {
        member_ids: edits.iter().map(|e| e.member_id).collect(),
        skipped,
        seats: seats(tenant, delta),
    })
}

/// Moves `seats_used` by `delta`; taking seats is conditioned on the pool covering them, giving
/// them back on the count covering what is given back.
fn seat_update(app: &App, tx: &mut Transaction, tenant: &Tenant, delta: i64) -> ApiResult<()> {
    let condition = if delta > 0 {
        Some((
            // No arithmetic in conditions: the limit is computed from the total read, and the
            // total must still be that one.
            Condition::new("seats_used <= :limit AND seats_total = :total")
                .value(":limit", num(i64::from(tenant.seats_total) - delta))
                .value(":total", num(tenant.seats_total)),
            ApiError::InsufficientSeats("not enough free seats (they were taken meanwhile)".into()),
        ))
    } else {
        (delta < 0).then(|| {
            (
                Condition::counters_cover(&[("seats_used", delta)]),
                ApiError::Conflict("the licences changed at the same time; retry".into()),
            )
        })
    };
    tx.update(
        app.table(),
        &Key::tenant(tenant.id),
        Condition::new("ADD seats_used :d").value(":d", num(delta)),
        condition,
    )
}

/// Puts applied chunks back after a later one failed. Each member is put back only while it is
/// still as this request left it: one changed meanwhile (by another request or the expiry job)
/// keeps its new state and is left out, with its seats, and the rest of its chunk is put back.
async fn undo(app: &App, tenant: &Tenant, applied: &[&[Edit]]) {
    for chunk in applied {
        let mut left: Vec<&Edit> = chunk.iter().collect();
        while !left.is_empty() {
            match undo_edits(app, tenant, &left).await {
                Ok(()) => break,
                Err(ApiError::LicenceConflict { conflicts }) => {
                    for c in &conflicts {
                        tracing::warn!(member = %c.member_id, "licence undo left out: changed meanwhile");
                    }
                    let before = left.len();
                    left.retain(|e| !conflicts.iter().any(|c| c.member_id == e.member_id));
                    if left.len() == before {
                        tracing::error!(
                            members = before,
                            "licence undo failed: no member to leave out"
                        );
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, members = left.len(), "licence undo failed");
                    break;
                }
            }
        }
    }
}

/// One transaction putting `edits` back, with their seats. A member no longer as written fails
/// it with a `LicenceConflict` naming that member.
async fn undo_edits(app: &App, tenant: &Tenant, edits: &[&Edit]) -> ApiResult<()> {
    let mut tx = Transaction::new();
    for e in edits {
        tx.update(
            app.table(),
            &e.key,
            e.backward.clone(),
            Some((
                e.written.clone(),
                ApiError::LicenceConflict {
                    conflicts: vec![LicenceConflict {
                        member_id: e.member_id,
                        reason: "changed",
                    }],
                },
            )),
        )?;
    }
    let delta: i64 = edits.iter().map(|e| e.seats).sum();
    seat_update(app, &mut tx, tenant, -delta)?;
    app.store.transact(tx).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLicence {
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// One member's licence: assigns one (a seat from the pool) or moves its expiry.
pub async fn set_for_member(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
    input: SetLicence,
) -> ApiResult<MemberView> {
    let now = app.now();
    let mut checks = Checks::new();
    checks.check(
        input.expires_at > now,
        "expires_at",
        "must be in the future",
    );
    checks.finish()?;
    let expires_at = whole_seconds(input.expires_at);
    let (access, tenant, mut members) = load(app, requester, tenant_id, &[member_id]).await?;
    let before = match members.pop() {
        Some(Ok(m)) => m,
        Some(Err(c)) if c.reason == "unknown" || c.reason == "deleted" => {
            return Err(ApiError::NotFound);
        }
        Some(Err(c)) => return Err(ApiError::LicenceConflict { conflicts: vec![c] }),
        None => return Err(ApiError::NotFound),
    };
    if before.licence.is_none() && before.status == MemberStatus::Disabled {
        return Err(ApiError::LicenceConflict {
            conflicts: vec![LicenceConflict {
                member_id,
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
    let taking = i64::from(before.licence.is_none());
    if taking > 0 && tenant.seats_used >= tenant.seats_total {
        return Err(ApiError::InsufficientSeats(
            "no free seat: every seat of the pool is in use".into(),
        ));
    }
    let stamp = rfc3339(now);
    let mut tx = Transaction::new();
    tx.update(
        app.table(),
        &before.key(),
        set_licence(&licence, tenant_id, member_id, &stamp)?,
        Some((
            holds(before.licence.as_ref())?,
            ApiError::Conflict("the member's licence changed at the same time; retry".into()),
        )),
    )?;
    if taking > 0 {
        seat_update(app, &mut tx, &tenant, 1)?;
    }
    let mut after = before.clone();
    after.licence = Some(licence);
    after.updated_at = now;
    after.version += 1;
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: if taking > 0 {
                "licence.assign"
            } else {
                "licence.update"
            },
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&before.licence.as_ref().map(LicenceView::from)),
            after: audit::snapshot(&view.licence),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// Takes one member's licence (and queued renewal) back into the pool; no licence, no change.
pub async fn revoke_for_member(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<()> {
    let (access, tenant, mut members) = load(app, requester, tenant_id, &[member_id]).await?;
    let before = match members.pop() {
        Some(Ok(m)) => m,
        _ => return Err(ApiError::NotFound),
    };
    let Some(licence) = &before.licence else {
        return Ok(());
    };
    let stamp = rfc3339(app.now());
    let mut tx = Transaction::new();
    tx.update(
        app.table(),
        &before.key(),
        remove_licence(&stamp),
        Some((
            holds(Some(licence))?,
            ApiError::Conflict("the member's licence changed at the same time; retry".into()),
        )),
    )?;
    seat_update(app, &mut tx, &tenant, -licence.seats_held())?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "licence.revoke",
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&LicenceView::from(licence)),
            after: None,
        },
    )?;
    app.store.transact(tx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_tells_none_active_and_expiring_apart() {
        let now = OffsetDateTime::now_utc();
        let soon = Licence::new(now, now + Duration::days(10));
        let later = Licence::new(now, now + Duration::days(90));
        assert!(LicenceFilter::None.matches(None, now));
        assert!(!LicenceFilter::None.matches(Some(&soon), now));
        assert!(LicenceFilter::Active.matches(Some(&later), now));
        assert!(LicenceFilter::Expiring.matches(Some(&soon), now));
        assert!(!LicenceFilter::Expiring.matches(Some(&later), now));
        let mut renewed = soon.clone();
        renewed.renewal = Some(Renewal {
            period_days: 30,
            expires_at: soon.expires_at + Duration::days(30),
            queued_at: now,
        });
        assert_eq!(renewed.seats_held(), 2);
        assert_eq!(soon.seats_held(), 1);
    }
}
