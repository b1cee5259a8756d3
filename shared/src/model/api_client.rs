//! A machine client of one tenant (client-credentials grant).

use crate::model::roles::Permissions;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiClient {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub permissions: Permissions,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Uuid,
}
