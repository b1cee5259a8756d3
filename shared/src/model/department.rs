//! A department of a tenant's tree, as stored.

use crate::error::ApiResult;
use crate::model::item::{Item, counter, to_item};
use crate::model::keys::{Key, subtree_prefix};
use crate::model::tenant::{Branding, ContactVisibility};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Deepest level below the root. Keeps id paths (and the member index keys built from them) far
/// below DynamoDB's 1 KB sort-key limit.
pub const MAX_DEPTH: u32 = 15;

/// Overrides of the tenant's settings; `None` inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentSettings {
    pub branding: Option<Branding>,
    pub ip_allowlist: Option<Vec<String>>,
    pub contact_visibility: Option<ContactVisibility>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// Names from the root, `/`-separated.
    pub path: String,
    /// Ids from the root, `/`-separated: the prefix of its members' tree keys.
    pub id_path: String,
    pub depth: u32,
    #[serde(deserialize_with = "counter")]
    pub member_count: u32,
    #[serde(deserialize_with = "counter")]
    pub child_count: u32,
    pub settings: DepartmentSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
    /// The identity provider's id for the department as a SCIM Group (`externalId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_external_id: Option<String>,
}

impl Department {
    pub fn key(&self) -> Key {
        Key::department(self.tenant_id, self.id)
    }

    pub fn to_item(&self) -> ApiResult<Item> {
        to_item(self, &self.key(), &[])
    }

    /// Whether `other` lies in this department's subtree (itself included).
    pub fn contains(&self, other: &Department) -> bool {
        other.id == self.id || other.id_path.starts_with(&subtree_prefix(&self.id_path))
    }
}
