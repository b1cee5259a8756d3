//! The scheduled tenant purge: removes every item and file of a deleted tenant whose grace period
//! is over, and nobody else's.
//!
//! What goes: the files under `tenants/<t>/`; the tenant's partition (departments, members and
//! their guards, invitations, join links, jobs and their row markers) with what its items point
//! at outside it (each member's search terms, each invitation's and join link's token); its
//! audit log and login log; its API clients and SCIM tokens (each one item, keyed by its id outside
//! the partition, found through the tenant's gsi1 list; only a hash of a token's secret is stored,
//! in that same item, so nothing else is left to answer for it); the sessions acting in it (found
//! through the tenant's gsi2 list), each with the spent-token markers of its partition; its events
//! (pending, its log with each event's copy in the platform's log, its sequence); last, the
//! tenant item and its join-number guard, with the `tenant.purged` event, which the platform's
//! log alone keeps (its id and the time, for 30 days).
//! What stays: users. A user is a person's own account, not the tenant's: they keep their other
//! memberships, their address and their password, and one left with no membership can still sign
//! in, accept an invitation or ask to join elsewhere.
//!
//! Resumable: the purge first leaves a mark (so the tenant can no longer be restored), then
//! deletes page by page, each page's outside items before the items that name them, so a run
//! stopped anywhere leaves nothing unreachable; the next run reads what is left and goes on.
//! A run deletes at most a budget of items per tenant and leaves the rest for the next run.

use super::deletion;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::events::EventType;
use crate::events::sequencer::platform_copy;
use crate::invitations::Invitation;
use crate::joining::JoinLink;
use crate::model::Member;
use crate::model::keys::{
    GSI1, GSI2, GSI4, Key, MEMBER_PREFIX, TENANT_PURGE_QUEUE, api_clients_of, audit_partition,
    event_log, login_partition, pending_events_of, scim_tokens_of, sessions_in, tenant_partition,
};
use crate::model::tenant::Tenant;
use crate::queue::{self, Conflicts, Due, DueQueue, Handled, Tally};
use crate::store::{Condition, Item, Query, SortRange, Transaction, from_item, key_of, s, to_item};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde::Serialize;
use time::OffsetDateTime;

/// Items a run deletes per tenant before leaving the rest to the next run (an hourly schedule
/// with a 15-minute timeout: about a minute of BatchWriteItem).
pub const ITEMS_PER_RUN: usize = 50_000;

/// Items read (and deleted) per page.
const PAGE: u32 = 500;

#[derive(Debug, Default, Serialize)]
pub struct TenantPurgeReport {
    /// Tenants removed completely.
    pub purged: usize,
    /// Tenants this run began or went on with but left for the next (budget spent).
    pub unfinished: usize,
    /// Restored meanwhile, or not yet due: nothing done.
    pub skipped: usize,
    pub unreadable: usize,
    pub items_deleted: usize,
    pub files_deleted: usize,
}

/// What a run did with one tenant.
#[derive(Debug, Default)]
pub struct Purged {
    pub finished: bool,
    pub items_deleted: usize,
    pub files_deleted: usize,
}

impl Tally for TenantPurgeReport {
    type Outcome = Option<Purged>;
    fn count(&mut self, item: Handled<Option<Purged>>) {
        match item {
            Handled::Done(Some(done)) => {
                if done.finished {
                    self.purged += 1;
                } else {
                    self.unfinished += 1;
                }
                self.items_deleted += done.items_deleted;
                self.files_deleted += done.files_deleted;
            }
            Handled::Done(None) | Handled::Skipped => self.skipped += 1,
            Handled::Unreadable => self.unreadable += 1,
        }
    }
}

fn due(now: OffsetDateTime) -> DueQueue {
    DueQueue {
        job: "tenant-purge",
        index: GSI4,
        partition: TENANT_PURGE_QUEUE,
        due: Due::ThroughSecond(now),
        conflicts: Conflicts::Stop,
    }
}

/// Purges every deleted tenant whose grace period is over, each up to [`ITEMS_PER_RUN`] items.
pub async fn run(app: &App) -> ApiResult<TenantPurgeReport> {
    run_with_budget(app, ITEMS_PER_RUN).await
}

/// [`run`] with another budget per tenant (tests stop a purge midway with a small one).
pub async fn run_with_budget(app: &App, budget: usize) -> ApiResult<TenantPurgeReport> {
    let now = app.now();
    queue::drain(app, &due(now), |tenant: Tenant| async move {
        if !deletion::due(&tenant, now) {
            return Ok(None);
        }
        match purge(app, &tenant, budget).await {
            // Restored just before the purge could leave its mark: nothing was removed.
            Err(ApiError::Conflict(_)) => Ok(None),
            other => other.map(Some),
        }
    })
    .await
}

/// Purges one due tenant, up to `budget` items.
async fn purge(app: &App, tenant: &Tenant, budget: usize) -> ApiResult<Purged> {
    mark(app, tenant).await?;
    let mut done = Purged {
        files_deleted: delete_files(app, tenant).await?,
        ..Purged::default()
    };
    let partitions = [
        Query::new(None, tenant_partition(tenant.id), SortRange::All),
        Query::new(None, audit_partition(tenant.id), SortRange::All),
        Query::new(None, login_partition(tenant.id), SortRange::All),
        Query::new(Some(GSI1), api_clients_of(tenant.id), SortRange::All),
        Query::new(Some(GSI1), scim_tokens_of(tenant.id), SortRange::All),
        Query::new(Some(GSI2), sessions_in(tenant.id), SortRange::All),
        Query::new(None, pending_events_of(Some(tenant.id)), SortRange::All),
        Query::new(None, event_log(Some(tenant.id)), SortRange::All),
        Query::new(
            None,
            Key::event_sequence(Some(tenant.id)).pk,
            SortRange::All,
        ),
    ];
    for query in partitions {
        let mut query = query;
        query.limit = PAGE;
        loop {
            if done.items_deleted >= budget {
                return Ok(done);
            }
            let page = app.store.query(query.clone()).await?;
            let keys = with_spent_markers(app, doomed(tenant, page.items)?).await?;
            done.items_deleted += keys.len();
            app.store.delete_many(&keys).await?;
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    remove_tenant(app, tenant).await?;
    done.finished = true;
    tracing::info!(
        tenant = %tenant.id,
        items = done.items_deleted,
        files = done.files_deleted,
        "tenant purged"
    );
    Ok(done)
}

/// The purge's mark, written while the tenant is still deleted and due: a restore racing the
/// purge fails on it (see [`deletion::restore`]).
async fn mark(app: &App, tenant: &Tenant) -> ApiResult<()> {
    let mut tx = Transaction::new();
    tx.put(
        to_item(
            &PurgeMark {
                tenant_id: tenant.id,
            },
            &Key::tenant_purge_mark(tenant.id),
            &[],
        )?,
        None,
    )?;
    tx.check(
        &Key::tenant(tenant.id),
        Condition::new("#status = :deleting")
            .name("#status", "status")
            .value(":deleting", s("deleting")),
        ApiError::Conflict("restored meanwhile".into()),
    )?;
    app.store.transact(tx).await
}

#[derive(Serialize)]
struct PurgeMark {
    tenant_id: uuid::Uuid,
}

/// The keys of a page of the tenant's items to delete, each item's outside items first: a
/// member's search terms, an invitation's or a join link's token. The tenant item and the purge
/// mark go last, with [`remove_tenant`].
fn doomed(tenant: &Tenant, items: Vec<Item>) -> ApiResult<Vec<Key>> {
    let last = [Key::tenant(tenant.id), Key::tenant_purge_mark(tenant.id)];
    let mut outside = Vec::new();
    let mut own = Vec::new();
    for item in items {
        let key = key_of(&item)?;
        if last.contains(&key) {
            continue;
        }
        if key.pk == tenant_partition(tenant.id) {
            if key.sk.starts_with(MEMBER_PREFIX) {
                let member: Member = from_item(item)?;
                outside.extend(member.term_keys());
            } else if key.sk.starts_with("INVITE#") {
                let invitation: Invitation = from_item(item)?;
                outside.extend(invitation.link_keys());
            } else if key.sk.starts_with(crate::model::keys::JOIN_LINK_PREFIX) {
                let link: JoinLink = from_item(item)?;
                outside.push(Key::token(&link.code_hash));
            }
        } else if key.pk == event_log(Some(tenant.id)) {
            outside.extend(platform_copy(item)?);
        }
        own.push(key);
    }
    outside.extend(own);
    Ok(outside)
}

/// `keys` with, before each session's item, the rest of its partition (the markers of the
/// refresh tokens it spent), so a run stopped between them leaves nothing unreachable.
async fn with_spent_markers(app: &App, keys: Vec<Key>) -> ApiResult<Vec<Key>> {
    let mut all = Vec::with_capacity(keys.len());
    for key in keys {
        if key.is_session() {
            let markers = app
                .store
                .query_all(Query::new(None, key.pk.clone(), SortRange::All))
                .await?;
            for marker in markers {
                let marker = key_of(&marker)?;
                if marker != key {
                    all.push(marker);
                }
            }
        }
        all.push(key);
    }
    Ok(all)
}

/// The files under `tenants/<t>/`, 1,000 to a DeleteObjects; how many were deleted.
async fn delete_files(app: &App, tenant: &Tenant) -> ApiResult<usize> {
    let prefix = format!("tenants/{}/", tenant.id);
    let mut deleted = 0;
    loop {
        let listed = app
            .s3()
            .list_objects_v2()
            .bucket(&app.config.bucket)
            .prefix(&prefix)
            .max_keys(1000)
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        let objects: Vec<ObjectIdentifier> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if objects.is_empty() {
            return Ok(deleted);
        }
        deleted += objects.len();
        app.s3()
            .delete_objects()
            .bucket(&app.config.bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(ApiError::internal)?,
            )
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
    }
}

/// What `tenant.purged` tells: which tenant, and when. Nothing else of the tenant is kept.
#[derive(Serialize)]
struct PurgedTenant {
    id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    purged_at: OffsetDateTime,
}

/// Last: the tenant item, its purge mark and its join-number guard, in one transaction with the
/// `tenant.purged` event (in the platform's log alone: the tenant's is gone).
async fn remove_tenant(app: &App, tenant: &Tenant) -> ApiResult<()> {
    let mut tx = Transaction::new();
    let purged = PurgedTenant {
        id: tenant.id,
        purged_at: app.now(),
    };
    crate::events::record_for_platform(app, &mut tx, tenant.id, EventType::TenantPurged, &purged)?;
    tx.delete(
        &Key::tenant(tenant.id),
        Some((
            Condition::new("#status = :deleting")
                .name("#status", "status")
                .value(":deleting", s("deleting")),
            ApiError::Conflict("restored meanwhile".into()),
        )),
    )?;
    tx.delete(&Key::tenant_purge_mark(tenant.id), None)?;
    if let Some(number) = &tenant.join_number {
        tx.delete(
            &Key::join_number(number),
            Some((
                Condition::new("attribute_not_exists(pk) OR tenant_id = :t")
                    .value(":t", s(tenant.id.to_string())),
                ApiError::internal("a join number guard names another tenant"),
            )),
        )?;
    }
    app.store.transact(tx).await
}
