//! The webhook workers: `webhook-dispatch`, fed from the stream's new items of the tenants' event
//! logs, and `webhook-retry`, the schedule that takes the deliveries due again.

use super::delivery::{
    Delivery, DeliveryStatus, Dispatched, attempt_and_record, dispatch, retry_soon,
};
use crate::app::App;
use crate::error::ApiResult;
use crate::events::sequencer::{LOGGED_KIND, Logged};
use crate::model::keys::{GSI4, Key, WEBHOOK_RETRY_QUEUE, event_log};
use crate::queue::{self, Conflicts, Due, DueQueue, Handled, Tally};
use crate::store::{Query, SortRange, from_item};
use crate::worker_events::StreamEvent;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct DispatchReport {
    pub events: usize,
    pub delivered: usize,
    pub skipped: usize,
}

/// Every new event of a tenant's log goes to the endpoints that hear it.
pub async fn handle_stream(app: &App, event: StreamEvent) -> ApiResult<DispatchReport> {
    let mut report = DispatchReport::default();
    let mut done = Dispatched::default();
    for record in &event.records {
        let logged: Option<Logged> = serde_dynamo::from_item(record.change.new_image.clone()).ok();
        match logged.filter(|l| l.kind == LOGGED_KIND) {
            Some(logged) => {
                report.events += 1;
                dispatch(app, &logged.event()?, &mut done).await?;
            }
            None => report.skipped += 1,
        }
    }
    report.delivered = done.delivered + retry_soon(app, done.to_retry).await?;
    Ok(report)
}

/// Gives every event of the tenant's log to its endpoints, as the stream would have by now (the
/// tests, which do not play the stream): what was delivered before is not sent again.
pub async fn dispatch_log(app: &App, tenant_id: uuid::Uuid) -> ApiResult<DispatchReport> {
    let mut report = DispatchReport::default();
    let mut done = Dispatched::default();
    let log = Query::new(None, event_log(Some(tenant_id)), SortRange::All);
    for item in app.store.query_all(log).await? {
        let logged: Logged = from_item(item)?;
        report.events += 1;
        dispatch(app, &logged.event()?, &mut done).await?;
    }
    report.delivered = done.delivered + retry_soon(app, done.to_retry).await?;
    Ok(report)
}

#[derive(Debug, Default, Serialize)]
pub struct RetryReport {
    pub delivered: usize,
    pub failed_again: usize,
    /// Their endpoint was deleted or disabled: given up.
    pub given_up: usize,
    pub skipped: usize,
    pub unreadable: usize,
}

/// What became of one due delivery.
pub enum Retried {
    Delivered,
    FailedAgain,
    GivenUp,
}

impl Tally for RetryReport {
    type Outcome = Option<Retried>;
    fn count(&mut self, item: Handled<Option<Retried>>) {
        match item {
            Handled::Done(Some(Retried::Delivered)) => self.delivered += 1,
            Handled::Done(Some(Retried::FailedAgain)) => self.failed_again += 1,
            Handled::Done(Some(Retried::GivenUp)) => self.given_up += 1,
            Handled::Done(None) | Handled::Skipped => self.skipped += 1,
            Handled::Unreadable => self.unreadable += 1,
        }
    }
}

/// The schedule: every delivery due again is attempted once more.
pub async fn retry_due(app: &App) -> ApiResult<RetryReport> {
    let queue = DueQueue {
        job: "webhook-retry",
        index: GSI4,
        partition: WEBHOOK_RETRY_QUEUE,
        due: Due::Through(app.now()),
        conflicts: Conflicts::Stop,
    };
    queue::drain(app, &queue, |delivery: Delivery| async move {
        retry(app, delivery).await
    })
    .await
}

async fn retry(app: &App, delivery: Delivery) -> ApiResult<Option<Retried>> {
    if delivery.status != DeliveryStatus::Pending {
        return Ok(None);
    }
    let key = Key::webhook(delivery.tenant_id, delivery.endpoint_id);
    let endpoint = match app.store.get(&key).await? {
        Some(item) => from_item::<super::Endpoint>(item)?,
        None => return give_up(app, &delivery, "the endpoint was deleted").await,
    };
    if !endpoint.enabled {
        return give_up(app, &delivery, "the endpoint is disabled").await;
    }
    Ok(
        match attempt_and_record(app, &endpoint, &delivery, true).await? {
            Some(d) if d.status == DeliveryStatus::Succeeded => Some(Retried::Delivered),
            Some(_) => Some(Retried::FailedAgain),
            None => None,
        },
    )
}

async fn give_up(app: &App, delivery: &Delivery, why: &str) -> ApiResult<Option<Retried>> {
    Ok(super::delivery::abandon(app, delivery, why)
        .await?
        .then_some(Retried::GivenUp))
}
