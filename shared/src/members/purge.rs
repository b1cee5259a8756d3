//! The scheduled recycle-bin purge: removes what belongs to members whose retention has ended, so
//! their email can be used again. DynamoDB's TTL removes the same items eventually; this job makes
//! it prompt. Safe to run twice or concurrently: every delete is conditioned on the entry still
//! being the expired bin entry it read. An entry that cannot be read (or whose user-in-tenant
//! guard cannot) is logged by its key and left for later: it holds up no other tenant.

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::members::MemberView;
use crate::model::keys::{GSI4, Key, PURGE_QUEUE};
use crate::model::member::Member;
use crate::model::member::UserInTenant;
use crate::queue::{self, Conflicts, Due, DueQueue, Handled, Tally};
use crate::store::{Condition, Transaction, num, readable, s};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Default, Serialize)]
pub struct PurgeReport {
    pub purged: usize,
    /// Restored or purged meanwhile: nothing to do.
    pub skipped: usize,
    /// Entries left because they (or their guard) could not be read (logged with their key).
    pub unreadable: usize,
}

/// What the job did with one bin entry.
pub enum Purged {
    Purged,
    /// Left as it is: its guard could not be read.
    GuardUnreadable,
}

impl Tally for PurgeReport {
    type Outcome = Purged;
    fn count(&mut self, item: Handled<Purged>) {
        match item {
            Handled::Done(Purged::Purged) => self.purged += 1,
            Handled::Skipped => self.skipped += 1,
            Handled::Done(Purged::GuardUnreadable) | Handled::Unreadable => self.unreadable += 1,
        }
    }
}

/// The queue is sorted by purge time: everything before "now" is due.
fn due(now: OffsetDateTime) -> DueQueue {
    DueQueue {
        job: "recycle-purge",
        index: GSI4,
        partition: PURGE_QUEUE,
        due: Due::Through(now),
        conflicts: Conflicts::Stop,
    }
}

/// Purges every bin entry whose purge time has passed, oldest first, one page at a time.
pub async fn run(app: &App) -> ApiResult<PurgeReport> {
    let now = app.now();
    queue::drain(app, &due(now), |entry: Member| async move {
        Ok(if purge_one(app, &entry, now.unix_timestamp()).await? {
            Purged::Purged
        } else {
            Purged::GuardUnreadable
        })
    })
    .await
}

/// Purges one entry; false when its guard cannot be read (the entry is left as it is: deleting
/// the member without knowing whose the guard is could leave the email blocked for good).
async fn purge_one(app: &App, entry: &Member, now: i64) -> ApiResult<bool> {
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
            &guard_key,
            Some((
                Condition::new("member_id = :member").value(":member", s(entry.id.to_string())),
                ApiError::NotFound,
            )),
        )?;
    }
    for key in entry
        .scim
        .iter()
        .flat_map(|p| p.guard_keys(entry.tenant_id))
    {
        tx.delete(
            &key,
            Some((
                Condition::new("attribute_not_exists(pk) OR member_id = :member")
                    .value(":member", s(entry.id.to_string())),
                ApiError::NotFound,
            )),
        )?;
    }
    let view = MemberView::from(entry);
    let event = EventType::MemberPurged;
    events::record(
        app,
        &mut tx,
        &Caller::system(),
        entry.tenant_id,
        event,
        &view,
    )?;
    app.store.transact(tx).await?;
    Ok(true)
}
