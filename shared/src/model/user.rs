//! A person's account (one per email address, across tenants), the guard that makes an address
//! belong to one account, platform operators, and single-use tokens as stored.

use crate::crypto;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub language: String,
    /// argon2id; absent until the user sets a password.
    pub password_hash: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub password_changed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Someone proved they read mail sent to `email` (used a single-use link mailed there). An
    /// account without proof cannot sign in, and whoever attaches its address by authority takes
    /// it over (see [`claim_address`]).
    #[serde(default)]
    pub email_verified: bool,
    /// Replaced whenever every session of the user must end (password set or changed, email
    /// changed, address proven or claimed): tokens and mailed links carry the value they were
    /// issued under and die with it.
    #[serde(default)]
    pub session_epoch: u64,
    /// The password was chosen by an admin (an import's password column): the first sign-in
    /// only allows changing it. Setting a password of one's own clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub password_must_change: bool,
    pub version: u64,
}

/// A new session epoch: random, so it can be set without reading the old one; never 0 (the
/// epoch of a user whose sessions never ended).
pub fn new_session_epoch() -> u64 {
    u64::from_le_bytes(crypto::random_bytes::<8>()).max(1)
}

/// The guard that makes an email belong to one user. It also says whether the address is proven,
/// so an admin attaching it learns that from the read it makes anyway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailGuard {
    pub user_id: Uuid,
    #[serde(default)]
    pub verified: bool,
}

/// A platform operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformAdmin {
    pub user_id: Uuid,
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What a one-time token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// First password of a new account (the link in a new owner's mail).
    SetPassword,
    /// A reset requested by the user or an admin.
    ResetPassword,
    /// The link of an invitation mail (`target_id`: the invitation).
    Invitation,
    /// A join link's code (`target_id`: the join link).
    JoinLink,
    /// Proof of address for an account whose holder chose a password no mail confirmed yet.
    VerifyEmail,
    /// A change of sign-in address (`email`: the new address), applied by its requester.
    EmailChange,
}

impl TokenPurpose {
    /// Links mailed to a user's address: using one proves the address and sets the password.
    pub const PROOF: [Self; 3] = [Self::SetPassword, Self::ResetPassword, Self::VerifyEmail];
}

/// A token as stored: only its hash is the key; the item says what the token opens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredToken {
    pub purpose: TokenPurpose,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<Uuid>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Epoch seconds after which DynamoDB may delete the item (and reads treat it as gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// For a user's links: the user's session epoch when it was mailed (the link dies with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_epoch: Option<u64>,
    /// For an email change: the new address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Where the link was sent: what using it can prove (see [`crate::users::proof`]). Absent on
    /// links that were not sent anywhere (a join link's code) and on links stored before links
    /// recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Delivery>,
}

/// The channel a link went through and the address it reached. A link proves at most that its
/// holder reads that address: a mailed link that email, a texted link that phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", content = "address", rename_all = "snake_case")]
pub enum Delivery {
    Email(String),
    Phone(String),
}

impl User {
    pub fn new(now: OffsetDateTime, email: String, name: String, language: String) -> Self {
        Self {
            id: Uuid::now_v7(),
            email,
            name,
            phone: None,
            language,
            password_hash: None,
            password_changed_at: None,
            created_at: now,
            updated_at: now,
            email_verified: false,
            session_epoch: 0,
            password_must_change: false,
            version: 1,
        }
    }
}
