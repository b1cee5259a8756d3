//! The consistency checker: reads the whole table and verifies every invariant Roster relies on.
//!
//! - Each tenant's `member_count`, `join_request_count`, `invitation_count`, `quota_used`,
//!   `seats_used` and `owner_count` against the members and invitations they count.
//! - Each department's `member_count` and `child_count`, its id path, depth and name path against
//!   its parent's, and every listed member's tree key (gsi2) against its department's id path.
//! - Every guard against what it guards, both ways: `EMAIL#` (users), `USERMEMBER#` (members),
//!   `DEPTNAME#` (departments), `INVITEEMAIL#`/`INVITEPHONE#` (pending invitations), `SCIMUSER#`
//!   and `SCIMEXTID#` (provisioned members); search terms against the listed members they name;
//!   the licence queue entries (gsi6, gsi7) against each member's licence.
//! - The event log against the changes it tells, both ways (see `events.rs`).
//!
//! A scan is not a snapshot: a write racing it can show as a finding that is gone a moment later,
//! so a finding is confirmed by a second look before it counts (`check` reads again the tenants
//! it found something in). `repair` fixes counters, guards and search terms with conditioned
//! writes that never overwrite a concurrent change (see `repair.rs`); id paths, tree keys and
//! licence queue entries are reported for a person to look at.

mod events;
mod finding;
mod guards;
mod repair;
mod rules;
mod snapshot;

pub use finding::{Finding, Fix};
pub use repair::apply;
pub use rules::{TenantCounts, findings};
pub use snapshot::Snapshot;

use crate::app::App;
use crate::error::ApiResult;
use serde::Serialize;

/// What a run of the checker found (and repaired).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub items_scanned: u64,
    pub tenants: usize,
    pub findings: Vec<Finding>,
    /// Findings a repair fixed (each confirmed gone by a second scan).
    pub repaired: usize,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Scans the table and reports every broken invariant. What a first scan finds is confirmed by a
/// second one, so a write racing the first does not count.
pub async fn check(app: &App) -> ApiResult<Report> {
    let first = scan(app).await?;
    if first.is_clean() {
        return Ok(first);
    }
    let second = scan(app).await?;
    let confirmed: Vec<Finding> = second
        .findings
        .into_iter()
        .filter(|f| {
            first
                .findings
                .iter()
                .any(|seen| seen.rule == f.rule && seen.pk == f.pk && seen.sk == f.sk)
        })
        .collect();
    Ok(Report {
        findings: confirmed,
        ..second
    })
}

/// Checks, repairs what can be repaired, and checks again: the report lists what is left.
pub async fn repair(app: &App) -> ApiResult<Report> {
    let found = check(app).await?;
    if found.is_clean() {
        return Ok(found);
    }
    repair::apply(app, &found.findings).await?;
    let after = check(app).await?;
    Ok(Report {
        repaired: found.findings.len().saturating_sub(after.findings.len()),
        ..after
    })
}

/// The scheduled job: checks (and repairs, when the deployment says so) and reports the findings
/// in the log, one line each, with the count as a CloudWatch metric (embedded metric format).
pub async fn run(app: &App) -> ApiResult<Report> {
    // Boxed: the scan's future is deep, and a Lambda's main holds it on its stack.
    let report = if app.config.consistency_repair {
        Box::pin(repair(app)).await?
    } else {
        Box::pin(check(app)).await?
    };
    for finding in &report.findings {
        tracing::warn!(
            rule = %finding.rule,
            pk = %finding.pk,
            sk = %finding.sk,
            detail = %finding.detail,
            "broken invariant"
        );
    }
    println!(
        "{}",
        metric_line(&report, app.now().unix_timestamp() * 1000)
    );
    Ok(report)
}

/// The embedded-metric-format line CloudWatch turns into `Roster/BrokenInvariants`.
fn metric_line(report: &Report, timestamp_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "Roster",
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "BrokenInvariants", "Unit": "Count"},
                    {"Name": "RepairedInvariants", "Unit": "Count"}
                ]
            }]
        },
        "BrokenInvariants": report.findings.len(),
        "RepairedInvariants": report.repaired,
    })
}

async fn scan(app: &App) -> ApiResult<Report> {
    let snapshot = Snapshot::read(&app.store).await?;
    Ok(Report {
        items_scanned: snapshot.items,
        tenants: snapshot
            .tenants
            .values()
            .filter(|p| p.tenant.is_some())
            .count(),
        findings: findings(&snapshot, app.now().unix_timestamp()),
        repaired: 0,
    })
}

#[cfg(test)]
mod tests;
