//! Work that public answers queue instead of doing (SPEC.md §9.1). A password-reset request, a
//! verification resend or an anonymous join writes one outbox item, whatever the address, and
//! answers; the `mail-outbox` worker (`outbox_worker`), fed from the table's stream, looks the
//! address up and does the rest. So the answer does the same work whether or not the address
//! has an account (its time tells nothing), and no link token is ever stored in the clear: the
//! worker stores only its hash, as everywhere else.
//!
//! This module is the queue only: what an item says and how it is written. It knows no domain
//! module, so every domain can queue and the worker can call every domain.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::model::user::User;
use crate::store::{Condition, Transaction, to_item};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What the stream filter (template.yaml) matches the outbox's new items by.
pub const KIND: &str = "outbox_mail";

/// Outbox items live a day at most: one the worker never saw is not worth sending later.
const TTL_SECONDS: i64 = 24 * 3600;

/// What to do, decided by the worker once it knows the address's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// A password-reset link to the address's account, if it has one.
    ResetPassword { email: String },
    /// A fresh verification link to the address's account, if nobody proved it yet.
    Verification { email: String },
    /// Someone asked to join `tenant_id` with an address that has an account: its owner is told
    /// to sign in and ask again.
    SignInToJoin { email: String, tenant_id: Uuid },
    /// A new person asked to join through a public door: the worker files the request (or, when
    /// the address has an account by then, mails its owner as for `SignInToJoin`).
    Join(Box<QueuedJoin>),
}

/// A new person's request to join, checked by the answer (body, the tenant's required fields,
/// room under the cap, the password hashed) and filed by the worker under the same conditions
/// a synchronous request would meet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedJoin {
    pub tenant_id: Uuid,
    /// Where the request lands (the root when it has gone by then).
    pub department_id: Uuid,
    /// The join link it came through; none through the join number.
    pub link_id: Option<Uuid>,
    /// The account to create, unproven, its password already hashed.
    pub user: User,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// Where the request came from, for the audit entry.
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An outbox item as stored.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub kind: String,
    pub id: Uuid,
    #[serde(flatten)]
    pub intent: Intent,
    pub ttl: i64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::from_item;

    fn round_trip(intent: Intent) -> (crate::store::Item, Intent) {
        let queued = Queued {
            kind: KIND.into(),
            id: Uuid::nil(),
            intent,
            ttl: 1,
        };
        let item = to_item(&queued, &Key::outbox_mail(Uuid::nil()), &[]).expect("item");
        assert_eq!(item["kind"].as_s().ok().map(String::as_str), Some(KIND));
        let back: Queued = from_item(item.clone()).expect("read back");
        (item, back.intent)
    }

    #[test]
    fn an_outbox_item_names_its_intent_and_nothing_secret() {
        let intent = Intent::SignInToJoin {
            email: "ada@example.com".into(),
            tenant_id: Uuid::nil(),
        };
        let (item, back) = round_trip(intent);
        assert_eq!(
            item["intent"].as_s().ok().map(String::as_str),
            Some("sign_in_to_join")
        );
        assert!(matches!(back, Intent::SignInToJoin { email, .. } if email == "ada@example.com"));
    }

    #[test]
    fn a_queued_join_keeps_the_account_it_will_create() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let mut user = User::new(now, "ada@example.com".into(), "Ada".into(), "en".into());
        user.password_hash = Some("$argon2id$hash".into());
        let join = QueuedJoin {
            tenant_id: Uuid::now_v7(),
            department_id: Uuid::now_v7(),
            link_id: None,
            user,
            position: Some("Engineer".into()),
            work_number: None,
            location: None,
            requested_at: now,
            source_ip: Some("192.0.2.1".into()),
            user_agent: None,
        };
        let (item, back) = round_trip(Intent::Join(Box::new(join.clone())));
        assert_eq!(item["intent"].as_s().ok().map(String::as_str), Some("join"));
        let Intent::Join(back) = back else {
            panic!("not a join: {back:?}")
        };
        assert_eq!(
            (back.tenant_id, back.user.id, back.requested_at),
            (join.tenant_id, join.user.id, now)
        );
        assert_eq!(back.user.password_hash, join.user.password_hash);
        assert_eq!(back.position.as_deref(), Some("Engineer"));
    }
}
