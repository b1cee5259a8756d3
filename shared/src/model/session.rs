//! A person's session (SPEC.md §9.4): what one sign-in started, kept going by refresh tokens
//! (each used once: a refresh spends it for the next), until it is ended (sign-out, the person
//! ending it from their list, a spent refresh token presented again), idles out or reaches its
//! end. Only the SHA-256 of a refresh token is stored.

use crate::crypto;
use crate::error::ApiResult;
use crate::model::item::{Item, to_item};
use crate::model::keys::{GSI1, GSI2, Key, sessions_in, sessions_of};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A session ends 12 hours after its last use (sign-in or refresh)...
pub const IDLE_SECONDS: i64 = 12 * 3600;
/// ...and 7 days after its sign-in, however much it is used.
pub const MAX_SECONDS: i64 = 7 * 24 * 3600;

/// What the session's access tokens act as, as at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionScope {
    /// A platform operator.
    Platform,
    /// A member in their tenant (`tenant_id`, `member_id`).
    Tenant,
    /// A person acting in no tenant.
    User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub scope: SessionScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    /// The user's session epoch the session lives under: a password change or reset, an email
    /// change or proof replaces the user's, which ends the session (SPEC.md §8.1).
    #[serde(default)]
    pub user_session: u64,
    /// The same for the membership (an admin disabled or deleted it).
    #[serde(default)]
    pub member_session: u64,
    /// The hex SHA-256 of the one refresh token that continues the session.
    pub refresh_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    /// The end however much it is used: [`MAX_SECONDS`] after the sign-in.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Where it was last used from (the sign-in, then each refresh).
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Epoch seconds of [`Session::ends_at`]: DynamoDB deletes the item late, so reads check it.
    pub ttl: i64,
}

impl Session {
    /// When the session ends unless used before: idle, or at its end, whichever comes first.
    pub fn ends_at(&self) -> OffsetDateTime {
        (self.last_used_at + time::Duration::seconds(IDLE_SECONDS)).min(self.expires_at)
    }

    /// The item, with its index attributes (a user's sessions on gsi1, a tenant's on gsi2).
    pub fn item(&self) -> ApiResult<Item> {
        let mut indexes = vec![
            (GSI1.pk, sessions_of(self.user_id)),
            (GSI1.sk, self.id.to_string()),
        ];
        if let Some(tenant_id) = self.tenant_id {
            indexes.extend([
                (GSI2.pk, sessions_in(tenant_id)),
                (GSI2.sk, self.id.to_string()),
            ]);
        }
        to_item(self, &Key::session(self.id), &indexes)
    }

    /// The key of the membership a tenant session acts as.
    pub fn member_key(&self) -> Option<Key> {
        match (self.scope, self.tenant_id, self.member_id) {
            (SessionScope::Tenant, Some(t), Some(m)) => Some(Key::member(t, m)),
            _ => None,
        }
    }
}

/// The marker a refresh leaves of the token it spent, until the session's end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpentRefresh {
    pub session_id: Uuid,
    pub ttl: i64,
}

impl SpentRefresh {
    pub fn item(&self, token_hash: &str) -> ApiResult<Item> {
        to_item(self, &Key::spent_refresh(self.session_id, token_hash), &[])
    }
}

/// The longest refresh token taken: longer ones are refused unread.
const MAX_REFRESH_TOKEN: usize = 128;

/// A new refresh token of `session_id`: the session's id (not secret: it names the session, so
/// the session and the token's spent marker are read together in one request), a dot, then 256
/// random bits.
pub fn new_refresh_token(session_id: Uuid) -> String {
    format!("{}.{}", session_id.simple(), crypto::new_token())
}

/// The session a presented refresh token names, if it has the shape of one.
pub fn refresh_token_session(token: &str) -> Option<Uuid> {
    if token.len() > MAX_REFRESH_TOKEN {
        return None;
    }
    let (session, secret) = token.split_once('.')?;
    if secret.len() < 43 {
        return None;
    }
    Uuid::try_parse(session).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_names_its_session() {
        let id = Uuid::now_v7();
        let token = new_refresh_token(id);
        assert_eq!(refresh_token_session(&token), Some(id));
        assert_ne!(new_refresh_token(id), token);
        for bad in [
            "",
            "x",
            "abc.def",
            &format!("{id}"),
            &format!("{token}{}", "a".repeat(90)),
        ] {
            assert_eq!(refresh_token_session(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_session_ends_idle_or_at_its_end() {
        let start = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let mut session = Session {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            scope: SessionScope::User,
            tenant_id: None,
            member_id: None,
            user_session: 0,
            member_session: 0,
            refresh_hash: String::new(),
            created_at: start,
            last_used_at: start,
            expires_at: start + time::Duration::seconds(MAX_SECONDS),
            ip_address: None,
            user_agent: None,
            ttl: 0,
        };
        assert_eq!(session.ends_at(), start + time::Duration::hours(12));
        session.last_used_at = start + time::Duration::hours(160);
        assert_eq!(session.ends_at(), session.expires_at);
    }
}
