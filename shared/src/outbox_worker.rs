//! The `mail-outbox` worker, fed from the table's stream: does what public answers queued (see
//! [`crate::outbox`]) once it knows the address's account — mints and mails a link, files a new
//! person's join request, or tells an address's owner that someone asked with it.
//!
//! It spends an item by deleting it in the transaction that does its work, so a redelivered
//! record does nothing twice; a mail whose send then fails is logged and lost (the person asks
//! again), never sent with a link that was not stored. A queued join that its transaction's
//! conditions refuse (the link or the cap filled meanwhile, the address got an account) is spent
//! alone and the person is told why.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::mail::{Mail, html_escape};
use crate::model::keys::Key;
use crate::model::tenant::Tenant;
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::outbox::{Intent, KIND, Queued, QueuedJoin};
use crate::store::{Condition, Query, SortRange, Transaction, from_item};
use crate::users::{UserLink, add_user_link, password_link};
use crate::worker_events::{Named, StreamEvent};
use serde::Serialize;
use uuid::Uuid;

/// Reset links a user asks for themselves work for an hour.
const RESET_LINK_HOURS: i64 = 1;

/// What the worker did with the records it was given.
#[derive(Debug, Default, Serialize)]
pub struct OutboxReport {
    pub mailed: usize,
    pub nothing_to_send: usize,
    /// Queued joins their transaction's conditions refused.
    pub refused: usize,
    pub skipped: usize,
}

/// The worker: each stream record of a new outbox item is delivered.
pub async fn handle_stream(app: &App, event: StreamEvent) -> ApiResult<OutboxReport> {
    let mut report = OutboxReport::default();
    for record in &event.records {
        match Named::of(record) {
            Named {
                kind, id: Some(id), ..
            } if kind == KIND => deliver(app, id, &mut report).await?,
            _ => report.skipped += 1,
        }
    }
    Ok(report)
}

/// Delivers every item still in the outbox, oldest first (the local stack and the tests, which
/// do not play the stream to this worker).
pub async fn drain(app: &App) -> ApiResult<OutboxReport> {
    let mut report = OutboxReport::default();
    let query = Query::new(None, Key::OUTBOX.into(), SortRange::All);
    for item in app.store.query_all(query).await? {
        let queued: Queued = from_item(item)?;
        deliver(app, queued.id, &mut report).await?;
    }
    Ok(report)
}

/// Reads the item (gone: another delivery spent it), plans its work, and commits the work with
/// the item's spending; then sends the mail.
async fn deliver(app: &App, id: Uuid, report: &mut OutboxReport) -> ApiResult<()> {
    let key = Key::outbox_mail(id);
    let Some(item) = app.store.get(&key).await? else {
        report.skipped += 1;
        return Ok(());
    };
    let queued: Queued = from_item(item)?;
    let mut tx = spending(&key)?;
    let planned = plan(app, &mut tx, &queued.intent).await?;
    if let Err(err) = app.store.transact(tx).await {
        let Intent::Join(join) = &queued.intent else {
            return spent_elsewhere(err);
        };
        if !err.status().is_client_error() || app.store.get(&key).await?.is_none() {
            return spent_elsewhere(err);
        }
        report.refused += 1;
        let refusal = refusal_mail(app, join, &err).await?;
        if let Err(err) = app.store.transact(spending(&key)?).await {
            return spent_elsewhere(err);
        }
        return send(app, id, refusal, report).await;
    }
    send(app, id, planned, report).await
}

/// The transaction that spends the item at `key` (once: a second spending conflicts).
fn spending(key: &Key) -> ApiResult<Transaction> {
    let mut tx = Transaction::new();
    tx.delete(
        key,
        Some((Condition::exists(), ApiError::Conflict("spent".into()))),
    )?;
    Ok(tx)
}

/// A spending that failed: a concurrent delivery spent the item first (quietly done), or the
/// store failed (the stream retries the record).
fn spent_elsewhere(err: ApiError) -> ApiResult<()> {
    match err {
        ApiError::Conflict(_) => Ok(()),
        other => Err(other),
    }
}

async fn send(app: &App, id: Uuid, mail: Option<Mail>, report: &mut OutboxReport) -> ApiResult<()> {
    let Some(mail) = mail else {
        report.nothing_to_send += 1;
        return Ok(());
    };
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(outbox = %id, error = %err, "an outbox mail failed");
        return Ok(());
    }
    report.mailed += 1;
    Ok(())
}

/// The mail `intent` comes to now, with its work added to `tx`; none when there is nobody to
/// mail.
async fn plan(app: &App, tx: &mut Transaction, intent: &Intent) -> ApiResult<Option<Mail>> {
    match intent {
        Intent::ResetPassword { email } => match account_of(app, email).await? {
            Some(user) => reset_mail(app, tx, &user).map(Some),
            None => Ok(None),
        },
        Intent::Verification { email } => match account_of(app, email).await? {
            Some(user) if !user.email_verified => {
                crate::users::proof::add_verification(app, tx, &user).map(Some)
            }
            _ => Ok(None),
        },
        Intent::SignInToJoin { email, tenant_id } => sign_in_to_join(app, *tenant_id, email).await,
        Intent::Join(join) => plan_join(app, tx, join).await,
    }
}

/// A queued join: the owner of an address that has an account is told to sign in; otherwise the
/// account and the request are filed with the account's verification link. A tenant deleting by
/// now takes nothing and mails nobody.
async fn plan_join(app: &App, tx: &mut Transaction, join: &QueuedJoin) -> ApiResult<Option<Mail>> {
    if account_of(app, &join.user.email).await?.is_some() {
        return sign_in_to_join(app, join.tenant_id, &join.user.email).await;
    }
    match crate::joining::file_queued(app, tx, join).await {
        Ok(()) => crate::users::proof::add_verification(app, tx, &join.user).map(Some),
        Err(ApiError::NotFound) => Ok(None),
        Err(err) => Err(err),
    }
}

/// What a person whose queued join was refused at commit is told: to sign in when the address
/// got an account meanwhile, else why the request was not filed.
async fn refusal_mail(app: &App, join: &QueuedJoin, refusal: &ApiError) -> ApiResult<Option<Mail>> {
    let email = &join.user.email;
    if account_of(app, email).await?.is_some() {
        return sign_in_to_join(app, join.tenant_id, email).await;
    }
    let Some(tenant) = reachable_tenant(app, join.tenant_id).await? else {
        return Ok(None);
    };
    let why = match refusal {
        ApiError::InvitationUsed | ApiError::InvitationExpired => {
            "the join link no longer takes requests (it was used up, revoked or expired)"
        }
        ApiError::QuotaExceeded(_) => {
            "the organization has as many pending join requests as it takes; ask again once they are decided"
        }
        _ => "it changed while your request waited; please ask again",
    };
    Ok(Some(request_not_filed_mail(&tenant, email, why)))
}

async fn sign_in_to_join(app: &App, tenant_id: Uuid, email: &str) -> ApiResult<Option<Mail>> {
    let tenant = reachable_tenant(app, tenant_id).await?;
    Ok(tenant.map(|t| sign_in_to_join_mail(app, &t, email)))
}

/// The tenant, unless it is gone or deleting.
async fn reachable_tenant(app: &App, tenant_id: Uuid) -> ApiResult<Option<Tenant>> {
    let tenant = app.store.get(&Key::tenant(tenant_id)).await?;
    let tenant: Option<Tenant> = tenant.map(from_item).transpose()?;
    Ok(tenant.and_then(|t| t.reachable().ok()))
}

/// The account an address names, if any.
async fn account_of(app: &App, email: &str) -> ApiResult<Option<User>> {
    let Some(guard) = app.store.get(&Key::email(email)).await? else {
        return Ok(None);
    };
    let guard: EmailGuard = from_item(guard)?;
    let user = app.store.get(&Key::user(guard.user_id)).await?;
    user.map(from_item).transpose()
}

fn reset_mail(app: &App, tx: &mut Transaction, user: &User) -> ApiResult<Mail> {
    let lifetime = time::Duration::hours(RESET_LINK_HOURS);
    let link = UserLink::to_user(user, TokenPurpose::ResetPassword, lifetime);
    let token = add_user_link(app, tx, link, None)?;
    let link = password_link(app, &token);
    Ok(Mail {
        to: user.email.clone(),
        subject: "Reset your Roster password".into(),
        text: format!(
            "Hello {},\n\nsomeone asked to reset the password of this address's Roster account.\nChoose a new password (the link works once, for one hour):\n{link}\n\nIf it was not you, ignore this mail: your password stays as it is.\n",
            user.name
        ),
        html: format!(
            "<p>Hello {},</p><p>someone asked to reset the password of this address's Roster account.</p><p><a href=\"{}\">Choose a new password</a> (the link works once, for one hour).</p><p>If it was not you, ignore this mail: your password stays as it is.</p>",
            html_escape(&user.name),
            html_escape(&link)
        ),
    })
}

/// To an address that has an account, when someone asked to join with it without signing in.
fn sign_in_to_join_mail(app: &App, tenant: &Tenant, email: &str) -> Mail {
    let sign_in = format!("{}/sign-in", app.config.app_url);
    Mail {
        to: email.to_string(),
        subject: format!("Join {} on Roster", tenant.name),
        text: format!(
            "Hello,\n\nsomeone asked to join {} on Roster with this address, which already has an account. If it was you, sign in ({sign_in}) and open the join link again.\n\nIf it was not you, ignore this mail.\n",
            tenant.name
        ),
        html: format!(
            "<p>Hello,</p><p>someone asked to join <b>{}</b> on Roster with this address, which already has an account. If it was you, <a href=\"{}\">sign in</a> and open the join link again.</p><p>If it was not you, ignore this mail.</p>",
            html_escape(&tenant.name),
            html_escape(&sign_in)
        ),
    }
}

/// To a new person whose request to join `tenant` was not filed, and why.
fn request_not_filed_mail(tenant: &Tenant, email: &str, why: &str) -> Mail {
    Mail {
        to: email.to_string(),
        subject: format!("Your request to join {} was not filed", tenant.name),
        text: format!(
            "Hello,\n\nyour request to join {} on Roster was not filed: {why}.\n\nIf you did not ask, ignore this mail.\n",
            tenant.name
        ),
        html: format!(
            "<p>Hello,</p><p>your request to join <b>{}</b> on Roster was not filed: {}.</p><p>If you did not ask, ignore this mail.</p>",
            html_escape(&tenant.name),
            html_escape(why)
        ),
    }
}
