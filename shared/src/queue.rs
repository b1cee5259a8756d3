//! Due-queue drains: the scheduled jobs (licence expiry, invitation expiry, the recycle-bin purge)
//! each work through a queue of every tenant's due items, kept in a secondary index whose sort
//! keys start with the RFC 3339 time the item falls due. A drain reads the queue up to the job's
//! bound (never a scan), a page at a time, oldest first, hands each readable item to the job's
//! step, and counts what each step did. An item that cannot be read is logged by its key and
//! counted, and never holds up the other tenants' items.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Index;
use crate::model::time::{rfc3339, whole_seconds};
use crate::store::{Query, SortRange, readable};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::future::Future;
use time::OffsetDateTime;

/// Items read per page of a queue.
pub const PAGE: u32 = 100;

/// Where a queue stops being due: the last sort key a drain reads.
#[derive(Debug, Clone, Copy)]
pub enum Due {
    /// Every key stamped in `now`'s whole second or earlier (`<second>#~`): the whole current
    /// second is read, so its step checks each item against `now`.
    ThroughSecond(OffsetDateTime),
    /// Every key that sorts at or before `now`'s own stamp (`<now>~`, fractions of a second
    /// included): keys stamped in the current second sort after a fractional stamp and are left
    /// for the next run unless `now` is a whole second.
    Through(OffsetDateTime),
}

impl Due {
    /// The last sort key that is due.
    pub fn last_key(self) -> String {
        match self {
            Due::ThroughSecond(now) => format!("{}#~", rfc3339(whole_seconds(now))),
            Due::Through(now) => format!("{}~", rfc3339(now)),
        }
    }
}

/// What a drain does with a step's `Conflict`.
#[derive(Debug, Clone, Copy)]
pub enum Conflicts {
    /// The error stops the drain and is its result.
    Stop,
    /// A tenant counter out of step with what it counts (data from before decrements were
    /// conditioned) is left for the operator, not a reason to stop every tenant: logged with
    /// this message and the item counted as skipped.
    PassOver(&'static str),
}

/// A queue of due items of every tenant.
#[derive(Debug, Clone)]
pub struct DueQueue {
    /// The job's name in logs.
    pub job: &'static str,
    pub index: Index,
    pub partition: &'static str,
    pub due: Due,
    pub conflicts: Conflicts,
}

impl DueQueue {
    /// The first page's query: the due part of the queue, oldest first.
    pub fn query(&self) -> Query {
        let mut query = Query::new(
            Some(self.index),
            self.partition.into(),
            SortRange::Between("0".into(), self.due.last_key()),
        );
        query.limit = PAGE;
        query
    }
}

/// What became of one item of a queue.
#[derive(Debug)]
pub enum Handled<O> {
    /// The job's step took it: what it did.
    Done(O),
    /// It changed since the queue listed it (handled by another run, changed by a request): the
    /// step's write found it no longer as read.
    Skipped,
    /// It could not be read (logged with its key).
    Unreadable,
}

/// A job's report, counted item by item.
pub trait Tally: Default + Debug {
    /// What the job's step did with one item.
    type Outcome;
    fn count(&mut self, item: Handled<Self::Outcome>);
}

/// Drains `queue`: every readable item due goes through `step`, in queue order. A step's
/// `NotFound` counts the item skipped, a `Conflict` is what `queue.conflicts` says, and any other
/// error stops the drain and is its result (logged with what was done until then).
pub async fn drain<T, R, F, Fut>(app: &App, queue: &DueQueue, mut step: F) -> ApiResult<R>
where
    T: DeserializeOwned,
    R: Tally,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = ApiResult<R::Outcome>>,
{
    let mut report = R::default();
    let mut query = queue.query();
    loop {
        let page = app.store.query(query.clone()).await?;
        for item in page.items {
            let Some(record) = readable::<T>(item, queue.job) else {
                report.count(Handled::Unreadable);
                continue;
            };
            match (step(record).await, queue.conflicts) {
                (Ok(outcome), _) => report.count(Handled::Done(outcome)),
                (Err(ApiError::NotFound), _) => report.count(Handled::Skipped),
                (Err(ApiError::Conflict(reason)), Conflicts::PassOver(message)) => {
                    tracing::error!(job = queue.job, %reason, "{message}");
                    report.count(Handled::Skipped);
                }
                (Err(err), _) => {
                    tracing::error!(job = queue.job, error = %err, ?report, "due queue stopped");
                    return Err(err);
                }
            }
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    tracing::info!(job = queue.job, ?report, "due queue drained");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keys::GSI4;
    use time::macros::datetime;

    /// What the index answers for `BETWEEN "0" AND <last key>`: sort keys compare as bytes.
    fn reads(queue: &DueQueue, sort_key: &str) -> bool {
        let SortRange::Between(first, last) = queue.query().range else {
            panic!("a drain reads a key range");
        };
        first.as_str() <= sort_key && sort_key <= last.as_str()
    }

    fn queue(due: Due) -> DueQueue {
        DueQueue {
            job: "test",
            index: GSI4,
            partition: "QUEUE",
            due,
            conflicts: Conflicts::Stop,
        }
    }

    const TENANT_MEMBER: &str =
        "0190a6b4-0000-7000-8000-000000000001#0190a6b4-0000-7000-8000-000000000002";

    #[test]
    fn a_drain_reads_its_queue_a_page_at_a_time_from_the_start() {
        let q = queue(Due::ThroughSecond(datetime!(2025-03-01 12:00:00.5 UTC))).query();
        assert_eq!(q.index, Some(GSI4));
        assert_eq!(q.partition, "QUEUE");
        assert_eq!(q.limit, PAGE);
        assert!(q.cursor.is_none() && !q.newest_first);
    }

    #[test]
    fn through_the_second_reads_everything_stamped_in_now_s_second_and_stops_after_it() {
        let due = queue(Due::ThroughSecond(datetime!(2025-03-01 12:00:00.5 UTC)));
        assert_eq!(due.due.last_key(), "2025-03-01T12:00:00Z#~");
        assert!(reads(
            &due,
            &format!("2000-01-01T00:00:00Z#{TENANT_MEMBER}")
        ));
        assert!(reads(
            &due,
            &format!("2025-03-01T11:59:59Z#{TENANT_MEMBER}")
        ));
        assert!(reads(
            &due,
            &format!("2025-03-01T12:00:00Z#{TENANT_MEMBER}")
        ));
        assert!(!reads(
            &due,
            &format!("2025-03-01T12:00:01Z#{TENANT_MEMBER}")
        ));
        assert!(!reads(
            &due,
            &format!("2026-01-01T00:00:00Z#{TENANT_MEMBER}")
        ));
    }

    #[test]
    fn through_now_stops_at_now_s_own_stamp() {
        let fractional = queue(Due::Through(datetime!(2025-03-01 12:00:00.5 UTC)));
        assert_eq!(fractional.due.last_key(), "2025-03-01T12:00:00.5Z~");
        assert!(reads(
            &fractional,
            &format!("2025-03-01T11:59:59Z#{TENANT_MEMBER}")
        ));
        // Whole-second stamps of the current second sort after the fractional stamp.
        assert!(!reads(
            &fractional,
            &format!("2025-03-01T12:00:00Z#{TENANT_MEMBER}")
        ));
        assert!(!reads(
            &fractional,
            &format!("2025-03-01T12:00:01Z#{TENANT_MEMBER}")
        ));
        let whole = queue(Due::Through(datetime!(2025-03-01 12:00:00 UTC)));
        assert!(reads(
            &whole,
            &format!("2025-03-01T12:00:00Z#{TENANT_MEMBER}")
        ));
        assert!(!reads(
            &whole,
            &format!("2025-03-01T12:00:01Z#{TENANT_MEMBER}")
        ));
    }
}
