//! The bulk requests: assign, revoke and renew licences of many members. Each reads the members
//! named, plans the request (`plan`), and writes the plan (`apply`).

use super::apply::{LicenceResult, apply};
use super::plan::{MAX_PERIOD_DAYS, Pool, Request, plan};
use super::read::load;
use crate::app::App;
use crate::auth::Requester;
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::time::{rfc3339, whole_seconds};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// The most members one request names.
pub const MAX_BULK: usize = 1000;

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

/// The ids named, each once (1 to [`MAX_BULK`] of them).
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
    let request = Request::Assign { expires_at };
    let plan = plan(
        members,
        request,
        input.skip_conflicts,
        Pool::of(&tenant),
        now,
    )?;
    let what = json!({"expires_at": rfc3339(expires_at)});
    apply(
        app,
        &access,
        &tenant,
        plan,
        &rfc3339(now),
        "licence.assign",
        what,
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
    let now = app.now();
    let plan = plan(
        members,
        Request::Revoke,
        input.skip_conflicts,
        Pool::of(&tenant),
        now,
    )?;
    apply(
        app,
        &access,
        &tenant,
        plan,
        &rfc3339(now),
        "licence.revoke",
        json!({}),
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
    let request = Request::Renew {
        period_days: input.period_days,
    };
    let plan = plan(
        members,
        request,
        input.skip_conflicts,
        Pool::of(&tenant),
        now,
    )?;
    let what = json!({"period_days": input.period_days});
    apply(
        app,
        &access,
        &tenant,
        plan,
        &rfc3339(now),
        "licence.renew",
        what,
    )
    .await
}

fn validate_period(checks: &mut Checks, days: i64) {
    crate::validate::range(checks, "period_days", days, 1, MAX_PERIOD_DAYS);
}
