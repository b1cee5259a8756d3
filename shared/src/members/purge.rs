//! The scheduled recycle-bin purge: removes what belongs to members whose retention has ended, so
//! their email can be used again. DynamoDB's TTL removes the same items eventually; this job makes
//! it prompt. Safe to run twice or concurrently: every delete is conditioned on the entry still
//! being the expired bin entry it read. An entry that cannot be read (or whose user-in-tenant
//! guard cannot) is logged by its key and left for later: it holds up no other tenant.

use super::UserInTenant;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{GSI4, Key, PURGE_QUEUE};
use crate::model::time::rfc3339;
use crate::store::{Condition, Query, SortRange, Transaction, num, readable, s};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Default, Serialize)]
pub struct PurgeReport {
    pub purged: usize,
    pub skipped: usize,
    /// Entries left because they (or their guard) could not be read (logged with their key).
    pub unreadable: usize,
}

#[derive(Debug, Deserialize)]
struct BinEntry {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
}

/// Purges every bin entry whose purge time has passed, oldest first, one page at a time.
pub async fn run(app: &App) -> ApiResult<PurgeReport> {
    let now = app.now();
    let mut report = PurgeReport::default();
    // The queue is sorted by purge time: everything before "now" is due.
    let mut query = Query::new(
        Some(GSI4),
        PURGE_QUEUE.into(),
        SortRange::Between(String::new() + "0", format!("{}~", rfc3339(now))),
    );
    query.limit = 100;
    loop {
        let page = app.store.query(query.clone()).await?;
        for item in page.items {
            let Some(entry) = readable::<BinEntry>(item, "recycle-purge") else {
                report.unreadable += 1;
                continue;
            };
            match purge_one(app, &entry, now.unix_timestamp()).await {
                Ok(true) => report.purged += 1,
                Ok(false) => report.unreadable += 1,
                // Restored or purged meanwhile: nothing to do.
                Err(ApiError::NotFound) => report.skipped += 1,
                Err(err) => return Err(err),
            }
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(report),
        }
    }
}

/// Purges one entry; false when its guard cannot be read (the entry is left as it is: deleting
/// the member without knowing whose the guard is could leave the email blocked for good).
async fn purge_one(app: &App, entry: &BinEntry, now: i64) -> ApiResult<bool> {
    let guard_key = Key::user_in_tenant(entry.tenant_id, entry.user_id);
    let guard = match app.store.get(&guard_key).await? {
        None => None,
        Some(item) => match readable::<UserInTenant>(item, "recycle-purge") {
            Some(guard) => Some(guard),
            None => return Ok(false),
        },
    };
    let mut tx = Transaction::new();
    tx.delete(
        app.table(),
        &Key::member(entry.tenant_id, entry.id),
        Some((
            Condition::new("#status = :deleted AND #ttl <= :now")
                .name("#status", "status")
                .name("#ttl", "ttl")
                .value(":deleted", s("deleted"))
                .value(":now", num(now)),
            ApiError::NotFound,
        )),
    )?;
    // The guard goes only while it still points at this member: the email may already belong to
    // a new member of the tenant.
    let guard_is_ours = guard.is_some_and(|g| g.member_id == entry.id);
    if guard_is_ours {
        tx.delete(
            app.table(),
            &guard_key,
            Some((
                Condition::new("member_id = :member").value(":member", s(entry.id.to_string())),
                ApiError::NotFound,
            )),
        )?;
    }
    app.store.transact(tx).await?;
    Ok(true)
}
