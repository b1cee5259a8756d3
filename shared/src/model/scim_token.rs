//! A SCIM provisioning token of one tenant: what an identity provider (Okta, Entra ID) presents as
//! its static bearer token on `/scim/v2/{tenant}`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimToken {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: String,
    /// Hex SHA-256 of the whole token.
    pub token_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Uuid,
}
