//! Repairs, each a conditioned write that cannot overwrite a change made since the check:
//!
//! - Counters are recounted per tenant: the tenant and its departments are read first, then the
//!   members and invitations they count, and each counter is set on the condition that it still
//!   holds what was read. Every change to what a counter counts moves the counter in the same
//!   transaction, so a change made after that first read fails the condition (and the repair
//!   waits for the next run); changes that cancel out leave both the counter and the count as
//!   they were.
//! - A missing guard or search term is put where none exists, while what it guards is unchanged.
//! - A guard or term naming nothing is deleted while it still names the same holder and that
//!   holder is still absent (or unchanged).

use super::finding::{Finding, Fix};
use super::rules::{TenantCounts, department_counts};
use super::snapshot::Snapshot;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{DEPARTMENT_PREFIX, Key, MEMBER_PREFIX, tenant_partition};
use crate::store::{Condition, Query, SortRange, Transaction, Update, num, s};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Carries out the repairs of `findings`; one whose condition fails is skipped (logged).
pub async fn apply(app: &App, findings: &[Finding]) -> ApiResult<()> {
    let mut recount: BTreeSet<Uuid> = BTreeSet::new();
    for finding in findings {
        let outcome = match &finding.fix {
            None => continue,
            Some(Fix::Counters(tenant_id)) => {
                recount.insert(*tenant_id);
                continue;
            }
            Some(fix) => app.store.transact(write(fix)?).await,
        };
        skip_unless_unavailable(outcome, finding)?;
    }
    for tenant_id in recount {
        recount_tenant(app, tenant_id).await?;
    }
    Ok(())
}

/// A repair whose condition failed is left for the next run: something changed meanwhile.
fn skip_unless_unavailable(outcome: ApiResult<()>, finding: &Finding) -> ApiResult<()> {
    match outcome {
        Err(err @ ApiError::Unavailable { .. }) => Err(err),
        Err(err) => {
            tracing::warn!(rule = %finding.rule, pk = %finding.pk, sk = %finding.sk, error = %err, "repair skipped");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

fn write(fix: &Fix) -> ApiResult<Transaction> {
    let changed = || ApiError::Conflict("changed since the check".into());
    let mut tx = Transaction::new();
    match fix {
        Fix::Counters(_) => {}
        Fix::Put {
            item,
            target,
            target_version,
        } => {
            tx.put(item.clone(), Some((Condition::absent(), changed())))?;
            tx.check(target, Condition::version_is(*target_version), changed())?;
        }
        Fix::Delete {
            key,
            holder_attr,
            holder,
            target,
            target_version,
        } => {
            let names_the_same = match holder {
                Some(id) => Condition::new("#holder = :holder").value(":holder", s(id.to_string())),
                None => Condition::new("attribute_not_exists(#holder)"),
            }
            .name("#holder", holder_attr);
            tx.delete(key, Some((names_the_same, changed())))?;
            let unchanged = match target_version {
                Some(version) => Condition::version_is(*version),
                None => Condition::absent(),
            };
            if target != key {
                tx.check(target, unchanged, changed())?;
            }
        }
    }
    Ok(tx)
}

/// Sets the tenant's counters and its departments' to what they count (see the module's comment
/// for why the order of the reads makes this safe).
async fn recount_tenant(app: &App, tenant_id: Uuid) -> ApiResult<()> {
    let snapshot = read_counted(app, tenant_id).await?;
    let Some(part) = snapshot.tenants.get(&tenant_id) else {
        return Ok(());
    };
    let Some(tenant) = &part.tenant else {
        return Ok(());
    };
    let differences = TenantCounts::of(part).differences(tenant);
    if !differences.is_empty() {
        let outcome = app
            .store
            .transact(set_counters(tenant_id, &differences)?)
            .await;
        log_recount(outcome, "tenant", tenant_id)?;
    }
    for department in &part.departments {
        let (members, children) = department_counts(department, part);
        if (members, children) == (department.member_count, department.child_count) {
            continue;
        }
        let mut tx = Transaction::new();
        tx.update(
            &department.key(),
            Update::new("SET member_count = :m, child_count = :c")
                .value(":m", num(members))
                .value(":c", num(children)),
            Some((
                Condition::new("member_count = :sm AND child_count = :sc")
                    .value(":sm", num(department.member_count))
                    .value(":sc", num(department.child_count)),
                ApiError::Conflict("counted meanwhile".into()),
            )),
        )?;
        let outcome = app.store.transact(tx).await;
        log_recount(outcome, "department", department.id)?;
    }
    Ok(())
}

/// The tenant's counters (the tenant and its departments) first, then what they count (members
/// and invitations).
async fn read_counted(app: &App, tenant_id: Uuid) -> ApiResult<Snapshot> {
    let mut snapshot = Snapshot::default();
    let partition = || tenant_partition(tenant_id);
    let counters_first = [
        Query::new(None, partition(), SortRange::Prefix("TENANT".into())),
        Query::new(
            None,
            partition(),
            SortRange::Prefix(DEPARTMENT_PREFIX.into()),
        ),
    ];
    let counted = [
        Query::new(None, partition(), SortRange::Prefix(MEMBER_PREFIX.into())),
        Query::new(None, partition(), SortRange::Prefix("INVITE#".into())),
    ];
    for query in counters_first.into_iter().chain(counted) {
        for item in app.store.query_all(query).await? {
            snapshot.add(item);
        }
    }
    Ok(snapshot)
}

/// Sets each differing counter of the tenant to what it counts, while every one still holds
/// what was read.
fn set_counters(tenant_id: Uuid, differences: &[(&str, u32, u32)]) -> ApiResult<Transaction> {
    let mut update = Vec::new();
    let mut condition = Vec::new();
    let mut set = Update::new("");
    let mut held = Condition::new("");
    for (i, (counter, stored, expected)) in differences.iter().enumerate() {
        update.push(format!("#c{i} = :e{i}"));
        // A counter never written reads as 0.
        condition.push(if *stored == 0 {
            format!("(#c{i} = :s{i} OR attribute_not_exists(#c{i}))")
        } else {
            format!("#c{i} = :s{i}")
        });
        set = set
            .name(&format!("#c{i}"), counter)
            .value(&format!(":e{i}"), num(*expected));
        held = held
            .name(&format!("#c{i}"), counter)
            .value(&format!(":s{i}"), num(*stored));
    }
    set.expression = format!("SET {}", update.join(", "));
    held.expression = condition.join(" AND ");
    let mut tx = Transaction::new();
    tx.update(
        &Key::tenant(tenant_id),
        set,
        Some((held, ApiError::Conflict("counted meanwhile".into()))),
    )?;
    Ok(tx)
}

fn log_recount(outcome: ApiResult<()>, what: &str, id: Uuid) -> ApiResult<()> {
    match outcome {
        Err(err @ ApiError::Unavailable { .. }) => Err(err),
        Err(err) => {
            tracing::warn!(what, %id, error = %err, "recount skipped: changed meanwhile");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}
