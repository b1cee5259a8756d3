//! An endpoint's health: a success clears its failing streak; the first failure starts one; an
//! endpoint whose every attempt has failed for 5 days is disabled (SPEC.md §9.2), with the event
//! `webhook_endpoint.disabled` in the same transaction and a mail to the tenant's owners.

use super::{Endpoint, EndpointView};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::mail::{Mail, html_escape};
use crate::model::keys::{MEMBER_PREFIX, tenant_partition};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::Role;
use crate::model::time::rfc3339;
use crate::store::{Condition, Query, SortRange, Transaction, Update, from_item, num, s};
use time::Duration;

/// How long an endpoint may fail every attempt before it is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// Notes what an attempt through `endpoint` (as read before it) found.
pub(crate) async fn note(app: &App, endpoint: &Endpoint, succeeded: bool) -> ApiResult<()> {
    let now = app.now();
    match (succeeded, endpoint.failing_since) {
        (true, None) => Ok(()),
        (true, Some(_)) => mark(app, endpoint, Update::new("REMOVE failing_since")).await,
        (false, None) => {
            let update = Update::new("SET failing_since = if_not_exists(failing_since, :now)")
                .value(":now", s(rfc3339(now)));
            mark(app, endpoint, update).await
        }
        (false, Some(since)) if endpoint.enabled && now - since >= DISABLE_AFTER => {
            disable(app, endpoint).await
        }
        (false, Some(_)) => Ok(()),
    }
}

/// Updates the endpoint's streak, unless it was deleted meanwhile.
async fn mark(app: &App, endpoint: &Endpoint, update: Update) -> ApiResult<()> {
    let mut tx = Transaction::new();
    tx.update(
        &endpoint.key(),
        update,
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    match app.store.transact(tx).await {
        Err(ApiError::NotFound) => Ok(()),
        other => other,
    }
}

/// Disables the endpoint (if still enabled), with its event and audit entry; then mails the
/// tenant's owners.
async fn disable(app: &App, endpoint: &Endpoint) -> ApiResult<()> {
    let now = app.now();
    let reason = format!(
        "every delivery failed for {} days",
        DISABLE_AFTER.whole_days()
    );
    let mut after = endpoint.clone();
    after.enabled = false;
    after.disabled_reason = Some(reason.clone());
    after.updated_at = now;
    after.version += 1;
    let mut tx = Transaction::new();
    tx.update(
        &endpoint.key(),
        Update::new(
            "SET enabled = :false, disabled_reason = :why, updated_at = :now ADD version :one",
        )
        .value(
            ":false",
            aws_sdk_dynamodb::types::AttributeValue::Bool(false),
        )
        .value(":why", s(&reason))
        .value(":now", s(rfc3339(now)))
        .value(":one", num(1)),
        Some((
            Condition::new("enabled = :true")
                .value(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true)),
            ApiError::Conflict("disabled meanwhile".into()),
        )),
    )?;
    let view = EndpointView::from(&after);
    let system = Caller::system();
    let event = EventType::WebhookEndpointDisabled;
    events::record(app, &mut tx, &system, endpoint.tenant_id, event, &view)?;
    audit::record(
        app,
        &mut tx,
        &system,
        Change {
            tenant_id: endpoint.tenant_id,
            action: "webhook.disable",
            target_type: "webhook",
            target_id: endpoint.id,
            before: audit::snapshot(&EndpointView::from(endpoint)),
            after: audit::snapshot(&view),
        },
    )?;
    match app.store.transact(tx).await {
        Ok(()) => {}
        Err(ApiError::Conflict(_)) => return Ok(()),
        Err(err) => return Err(err),
    }
    tell_owners(app, &after).await
}

/// Mails each active owner of the tenant that the endpoint was disabled (a failed mail is
/// logged: the event and the console say it too).
async fn tell_owners(app: &App, endpoint: &Endpoint) -> ApiResult<()> {
    let query = Query::new(
        None,
        tenant_partition(endpoint.tenant_id),
        SortRange::Prefix(MEMBER_PREFIX.into()),
    );
    for item in app.store.query_all(query).await? {
        let member: Member = from_item(item)?;
        if member.role != Role::Owner || member.status != MemberStatus::Active {
            continue;
        }
        let mail = Mail {
            to: member.email.clone(),
            subject: "A webhook endpoint of yours was disabled".into(),
            text: format!(
                "Hello {},\n\nevery delivery to the webhook endpoint {} failed for {} days, so Roster \
                 disabled it. Fix the receiver, then enable it again: {}/settings/webhooks\n",
                member.name,
                endpoint.url,
                DISABLE_AFTER.whole_days(),
                app.config.app_url
            ),
            html: format!(
                "<p>Hello {},</p><p>every delivery to the webhook endpoint <code>{}</code> failed for \
                 {} days, so Roster disabled it.</p><p>Fix the receiver, then enable it again.</p>",
                html_escape(&member.name),
                html_escape(&endpoint.url),
                DISABLE_AFTER.whole_days()
            ),
        };
        if let Err(err) = app.mail().send(mail).await {
            tracing::error!(endpoint = %endpoint.id, error = ?err, "the disabled endpoint's mail failed");
        }
    }
    Ok(())
}
