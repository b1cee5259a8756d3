//! Members: a user's membership in one tenant. This issue needs the record (authorization reads it
//! on every request) and the owner a new tenant starts with.

use crate::auth::{Permissions, Role};
use crate::error::ApiResult;
use crate::keys::{
    GSI1, GSI2, Key, memberships_of, tenant_partition, tree_partition, tree_position,
};
use crate::store::{Item, to_item};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub const DEFAULT_DIRECTORY_NUMBER: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Disabled,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberSource {
    Console,
    Import,
    Invitation,
    JoinLink,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// Lowercase, as the user's.
    pub email: String,
    pub name: String,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    pub directory_number: u32,
    pub role: Role,
    pub permissions: Permissions,
    pub status: MemberStatus,
    pub source: MemberSource,
    pub api_client_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    pub version: u64,
}

impl Member {
    /// Owners hold every permission, admins what they were given, members none (they read the
    /// directory of their tenant).
    pub fn effective_permissions(&self) -> Permissions {
        match self.role {
            Role::Owner => Permissions::All,
            Role::Admin => self.permissions.clone(),
            Role::Member => Permissions::none(),
        }
    }

    pub fn key(&self) -> Key {
        Key::member(self.tenant_id, self.id)
    }

    /// The stored item with its index attributes: memberships by user (gsi1) and the department
    /// tree (gsi2), which needs the id path of the member's department.
    pub fn to_item(&self, department_id_path: &str) -> ApiResult<Item> {
        to_item(
            self,
            &self.key(),
            &[
                (GSI1.pk, memberships_of(self.user_id)),
                (GSI1.sk, tenant_partition(self.tenant_id)),
                (GSI2.pk, tree_partition(self.tenant_id)),
                (GSI2.sk, tree_position(department_id_path, self.id)),
            ],
        )
    }
}

/// The guard that keeps one member per user per tenant, pointing at the member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserInTenant {
    pub member_id: Uuid,
}
