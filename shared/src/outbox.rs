//! Mail that public answers queue instead of sending (SPEC.md §9.1). A password-reset request, a
//! verification resend or a join writes one outbox item in its transaction, whatever the address,
//! and answers; the `mail-outbox` worker, fed from the table's stream, looks the address up, mints
//! the link and sends the mail. So the answer costs the same whether or not the address has an
//! account (its time tells nothing), and no link token is ever stored in the clear: the worker
//! stores only its hash, as everywhere else.
//!
//! The worker spends an item by deleting it in the transaction that stores the link, so a
//! redelivered record mails nothing twice; a mail whose send then fails is logged and lost (the
//! person asks again), never sent with a link that was not stored.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::mail::{Mail, html_escape};
use crate::model::keys::Key;
use crate::model::tenant::Tenant;
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::store::{Condition, Query, SortRange, Transaction, from_item, to_item};
use crate::users::{UserLink, add_user_link, password_link};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the stream filter (template.yaml) matches the outbox's new items by.
pub const KIND: &str = "outbox_mail";

/// Outbox items live a day at most: one the worker never saw is not worth sending later.
const TTL_SECONDS: i64 = 24 * 3600;

/// Reset links a user asks for themselves work for an hour.
const RESET_LINK_HOURS: i64 = 1;

/// What to mail, decided by the worker once it knows the address's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// A password-reset link to the address's account, if it has one.
    ResetPassword { email: String },
    /// A fresh verification link to the address's account, if nobody proved it yet.
    Verification { email: String },
    /// Someone asked to join `tenant_id` with an address that has an account: its owner is told
    /// to sign in and ask again.
    SignInToJoin { email: String, tenant_id: Uuid },
}

#[derive(Debug, Serialize, Deserialize)]
struct Queued {
    kind: String,
    id: Uuid,
    #[serde(flatten)]
    intent: Intent,
    ttl: i64,
}

/// Adds the outbox item for `intent` to `tx`.
pub(crate) fn queue(app: &App, tx: &mut Transaction, intent: Intent) -> ApiResult<()> {
    let id = Uuid::now_v7();
    let queued = Queued {
        kind: KIND.into(),
        id,
        intent,
        ttl: app.now().unix_timestamp() + TTL_SECONDS,
    };
    tx.put(
        to_item(&queued, &Key::outbox_mail(id), &[])?,
        Some((
            Condition::absent(),
            ApiError::internal("outbox id collision"),
        )),
    )
}

/// Queues `intent` on its own: one transaction, the whole write of a public answer that mails.
pub(crate) async fn queue_now(app: &App, intent: Intent) -> ApiResult<()> {
    let mut tx = Transaction::new();
    queue(app, &mut tx, intent)?;
    app.store.transact(tx).await
}

/// What the worker did with the records it was given.
#[derive(Debug, Default, Serialize)]
pub struct OutboxReport {
    pub mailed: usize,
    pub nothing_to_send: usize,
    pub skipped: usize,
}

/// The worker: each stream record of a new outbox item (Lambda's event JSON) is delivered.
pub async fn handle_stream(app: &App, event: serde_json::Value) -> ApiResult<OutboxReport> {
    let mut report = OutboxReport::default();
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    for record in records {
        let image = &record["dynamodb"]["NewImage"];
        let id = image["id"]["S"]
            .as_str()
            .and_then(|v| Uuid::parse_str(v).ok());
        match (image["kind"]["S"].as_str(), id) {
            (Some(KIND), Some(id)) => deliver(app, id, &mut report).await?,
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

/// Reads the item (gone: another delivery spent it), decides the mail, and spends the item in
/// the transaction that stores the mail's link.
async fn deliver(app: &App, id: Uuid, report: &mut OutboxReport) -> ApiResult<()> {
    let key = Key::outbox_mail(id);
    let Some(item) = app.store.get(&key).await? else {
        report.skipped += 1;
        return Ok(());
    };
    let queued: Queued = from_item(item)?;
    let mut tx = Transaction::new();
    tx.delete(
        &key,
        Some((Condition::exists(), ApiError::Conflict("spent".into()))),
    )?;
    let mail = match plan(app, &mut tx, &queued.intent).await? {
        Some(mail) => mail,
        None => {
            report.nothing_to_send += 1;
            return spend(app, tx).await;
        }
    };
    spend(app, tx).await?;
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(outbox = %id, error = %err, "an outbox mail failed");
        return Ok(());
    }
    report.mailed += 1;
    Ok(())
}

/// Commits the spending transaction; a concurrent delivery that spent it first wins quietly.
async fn spend(app: &App, tx: Transaction) -> ApiResult<()> {
    match app.store.transact(tx).await {
        Err(ApiError::Conflict(_)) => Ok(()),
        other => other,
    }
}

/// The mail `intent` comes to now, with its link added to `tx`; none when the address has no
/// account to mail about.
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
        Intent::SignInToJoin { email, tenant_id } => {
            let tenant = app.store.get(&Key::tenant(*tenant_id)).await?;
            let tenant: Option<Tenant> = tenant.map(from_item).transpose()?;
            Ok(tenant.map(|t| sign_in_to_join_mail(app, &t, email)))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_item_names_its_intent_and_nothing_secret() {
        let queued = Queued {
            kind: KIND.into(),
            id: Uuid::nil(),
            intent: Intent::SignInToJoin {
                email: "ada@example.com".into(),
                tenant_id: Uuid::nil(),
            },
            ttl: 1,
        };
        let item = to_item(&queued, &Key::outbox_mail(Uuid::nil()), &[]).expect("item");
        assert_eq!(item["kind"].as_s().ok().map(String::as_str), Some(KIND));
        assert_eq!(
            item["intent"].as_s().ok().map(String::as_str),
            Some("sign_in_to_join")
        );
        let back: Queued = from_item(item).expect("read back");
        assert_eq!(back.intent, queued.intent);
    }
}
