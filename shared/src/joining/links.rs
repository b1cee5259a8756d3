//! Join links: creating one (its code shown once), listing, revoking, and the state a link is in.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::keys::{JOIN_LINK_PREFIX, Key, tenant_partition};
use crate::model::roles::Permission;
use crate::model::user::{StoredToken, TokenPurpose};
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, Update, s, to_item};
use crate::validate;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The most uses a link may allow.
pub const MAX_USES: i64 = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinLink {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: Option<String>,
    /// Where requests land; the root department when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<Uuid>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Absent when the link never expires (the join condition tests for that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_epoch: Option<i64>,
    /// Absent when uses are unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub revoked: bool,
    pub code_hash: String,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinLinkState {
    Active,
    Expired,
    UsedUp,
    Revoked,
}

impl JoinLink {
    pub fn state_at(&self, now: OffsetDateTime) -> JoinLinkState {
        if self.revoked {
            JoinLinkState::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            JoinLinkState::Expired
        } else if self.max_uses.is_some_and(|m| self.uses >= m) {
            JoinLinkState::UsedUp
        } else {
            JoinLinkState::Active
        }
    }

    fn view(&self, now: OffsetDateTime, code: Option<String>, app: &App) -> JoinLinkView {
        JoinLinkView {
            id: self.id,
            tenant_id: self.tenant_id,
            label: self.label.clone(),
            department_id: self.department_id,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            uses: self.uses,
            state: self.state_at(now),
            created_by: self.created_by,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            url: code.as_deref().map(|c| join_url(app, c)),
            code,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JoinLinkView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: Option<String>,
    pub department_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub state: JoinLinkState,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Only in the answer to creation: the code is stored as a hash and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

pub fn join_url(app: &App, code: &str) -> String {
    format!("{}/join?code={code}", app.config.app_url)
}

/// 128 random bits as 26 lowercase base32 characters: easy to read out, impossible to guess.
fn new_code() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes = crypto::random_bytes::<16>();
    let mut bits: u32 = 0;
    let mut held = 0;
    let mut code = String::with_capacity(26);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 5 {
            held -= 5;
            code.push(char::from(ALPHABET[((bits >> held) & 31) as usize]));
        }
    }
    if held > 0 {
        code.push(char::from(ALPHABET[((bits << (5 - held)) & 31) as usize]));
    }
    code
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinLink {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub department_id: Option<Uuid>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub max_uses: Option<i64>,
}

/// Creates a join link; the answer carries the code and URL, once.
pub async fn create_link(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateJoinLink,
) -> ApiResult<JoinLinkView> {
    let now = app.now();
    let label = check_new_link(&input, now)?;
    let mut batch = Batch::new();
    let department = input
        .department_id
        .map(|d| batch.read_item(Key::department(tenant_id, d)));
    let (access, _, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::InvitationsWrite),
        batch,
    )
    .await?;
    if department.is_some_and(|slot| read.take_item(slot).is_none()) {
        return Err(ApiError::invalid(
            "department_id",
            "is not a department of this tenant",
        ));
    }
    let code = new_code();
    let link = new_link(tenant_id, &input, label, access.caller.user_id, &code, now);
    let mut tx = Transaction::new();
    add_link(&mut tx, &link)?;
    let view = link.view(now, None, app);
    let change = Change {
        tenant_id,
        action: "join_link.create",
        target_type: "join_link",
        target_id: link.id,
        before: None,
        after: audit::snapshot(&view),
    };
    audit::record(app, &mut tx, &access.caller, change)?;
    app.store.transact(tx).await?;
    Ok(link.view(now, Some(code), app))
}

/// The new link's label, once the body is valid: an expiry in the future, 1 to [`MAX_USES`] uses.
fn check_new_link(input: &CreateJoinLink, now: OffsetDateTime) -> ApiResult<Option<String>> {
    let mut checks = Checks::new();
    let label = validate::optional_text(
        &mut checks,
        "label",
        input.label.as_deref(),
        validate::MAX_SHORT_TEXT,
    );
    if let Some(expires_at) = input.expires_at {
        checks.check(expires_at > now, "expires_at", "must be in the future");
    }
    if let Some(max) = input.max_uses {
        validate::range(&mut checks, "max_uses", max, 1, MAX_USES);
    }
    checks.finish()?;
    Ok(label)
}

/// A new, unused link whose `code` is stored only as its hash.
fn new_link(
    tenant_id: Uuid,
    input: &CreateJoinLink,
    label: Option<String>,
    created_by: Uuid,
    code: &str,
    now: OffsetDateTime,
) -> JoinLink {
    JoinLink {
        id: Uuid::now_v7(),
        tenant_id,
        label,
        department_id: input.department_id,
        expires_at: input.expires_at,
        expires_epoch: input.expires_at.map(OffsetDateTime::unix_timestamp),
        max_uses: input.max_uses.map(|m| m.clamp(1, MAX_USES) as u32),
        uses: 0,
        revoked: false,
        code_hash: crypto::token_hash(code),
        created_by,
        created_at: now,
        revoked_at: None,
    }
}

/// The link, its code's token item and (when it names one) a check that the department exists.
fn add_link(tx: &mut Transaction, link: &JoinLink) -> ApiResult<()> {
    let tenant_id = link.tenant_id;
    tx.put(
        to_item(link, &Key::join_link(tenant_id, link.id), &[])?,
        Some((
            Condition::absent(),
            ApiError::internal("join link id collision"),
        )),
    )?;
    let token = StoredToken {
        purpose: TokenPurpose::JoinLink,
        user_id: None,
        tenant_id: Some(tenant_id),
        target_id: Some(link.id),
        expires_at: link.expires_at,
        // Kept 30 days past the expiry so the code answers "expired", not "unknown".
        ttl: link.expires_epoch.map(|e| e + 30 * 24 * 3600),
        session_epoch: None,
        email: None,
        // A join link's code is handed around: it reached nobody in particular and proves nothing.
        delivered: None,
    };
    tx.put(
        to_item(&token, &Key::token(&link.code_hash), &[])?,
        Some((Condition::absent(), ApiError::internal("code collision"))),
    )?;
    if let Some(d) = link.department_id {
        tx.check(
            &Key::department(tenant_id, d),
            Condition::exists(),
            ApiError::invalid("department_id", "is not a department of this tenant"),
        )?;
    }
    Ok(())
}

/// The tenant's join links, oldest first, with their state (one query).
pub async fn list_links(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<JoinLinkView>> {
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::InvitationsWrite),
        Batch::new(),
    )
    .await?;
    let now = app.now();
    let query = Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(JOIN_LINK_PREFIX.into()),
    )
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|l: JoinLink| l.view(now, None, app))
}

/// Revokes a join link: its code stops working at once. Revoking twice changes nothing.
pub async fn revoke_link(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    join_link_id: Uuid,
) -> ApiResult<()> {
    let mut batch = Batch::new();
    let link = batch.read::<JoinLink>(Key::join_link(tenant_id, join_link_id));
    let (access, _, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::InvitationsWrite),
        batch,
    )
    .await?;
    let before = read.take(link)?.ok_or(ApiError::NotFound)?;
    if before.revoked {
        return Ok(());
    }
    let now = app.now();
    let mut after = before.clone();
    after.revoked = true;
    after.revoked_at = Some(now);
    let mut tx = Transaction::new();
    tx.update(
        &Key::join_link(tenant_id, join_link_id),
        Update::new("SET revoked = :true, revoked_at = :now")
            .value(":true", AttributeValue::Bool(true))
            .value(":now", s(crate::model::time::rfc3339(now))),
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    let change = Change {
        tenant_id,
        action: "join_link.revoke",
        target_type: "join_link",
        target_id: join_link_id,
        before: audit::snapshot(&before.view(now, None, app)),
        after: audit::snapshot(&after.view(now, None, app)),
    };
    audit::record(app, &mut tx, &access.caller, change)?;
    app.store.transact(tx).await
}

#[cfg(test)]
pub(super) mod fixtures {
    use super::*;
    use crate::invitations::fixtures::NOW;

    /// An active link of `tenant_id` without expiry or use limit.
    pub fn link(tenant_id: Uuid) -> JoinLink {
        let input = CreateJoinLink {
            label: None,
            department_id: None,
            expires_at: None,
            max_uses: None,
        };
        new_link(tenant_id, &input, None, Uuid::nil(), "code", NOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitations::fixtures::NOW;

    fn input() -> CreateJoinLink {
        CreateJoinLink {
            label: Some("Front desk".into()),
            department_id: None,
            expires_at: None,
            max_uses: None,
        }
    }

    #[test]
    fn codes_carry_128_bits_in_26_characters() {
        let a = new_code();
        let b = new_code();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
    }

    #[test]
    fn a_link_is_revoked_expired_used_up_or_active_in_that_order() {
        let mut link = new_link(Uuid::nil(), &input(), None, Uuid::nil(), "code", NOW);
        assert_eq!(link.state_at(NOW), JoinLinkState::Active);
        link.max_uses = Some(2);
        link.uses = 2;
        assert_eq!(link.state_at(NOW), JoinLinkState::UsedUp);
        link.expires_at = Some(NOW);
        assert_eq!(link.state_at(NOW), JoinLinkState::Expired);
        link.revoked = true;
        assert_eq!(link.state_at(NOW), JoinLinkState::Revoked);
    }

    #[test]
    fn a_new_link_expires_in_the_future_and_allows_one_to_max_uses() {
        let code = |input: &CreateJoinLink| check_new_link(input, NOW).err().map(|e| e.code());
        let past = CreateJoinLink {
            expires_at: Some(NOW),
            ..input()
        };
        assert_eq!(code(&past), Some("validation_failed"));
        for max_uses in [0, MAX_USES + 1] {
            let uses = CreateJoinLink {
                max_uses: Some(max_uses),
                ..input()
            };
            assert_eq!(code(&uses), Some("validation_failed"));
        }
        let fine = CreateJoinLink {
            expires_at: Some(NOW + time::Duration::days(1)),
            max_uses: Some(MAX_USES),
            ..input()
        };
        assert_eq!(
            check_new_link(&fine, NOW).ok(),
            Some(Some("Front desk".into()))
        );
    }

    #[test]
    fn a_new_link_stores_its_codes_hash_and_its_expiry_as_epoch() {
        let expires = NOW + time::Duration::days(1);
        let with_expiry = CreateJoinLink {
            expires_at: Some(expires),
            max_uses: Some(5),
            ..input()
        };
        let link = new_link(Uuid::nil(), &with_expiry, None, Uuid::nil(), "code", NOW);
        assert_eq!(link.code_hash, crypto::token_hash("code"));
        assert_eq!(link.expires_epoch, Some(expires.unix_timestamp()));
        assert_eq!(
            (link.max_uses, link.uses, link.revoked),
            (Some(5), 0, false)
        );
    }
}
