//! A SCIM provisioning token of one tenant: what an identity provider (Okta, Entra ID) presents as
//! its static bearer token on `/scim/v2/{tenant}`.

use crate::model::roles::{Permission, Permissions};
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
    /// What the token acts with (a subset of what its minter held, SPEC §9.1). Tokens minted
    /// before permissions were stored have none and act with [`default_permissions`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
}

impl ScimToken {
    /// The permissions SCIM requests with this token act with.
    pub fn permissions(&self) -> Permissions {
        self.permissions.clone().unwrap_or_else(default_permissions)
    }
}

/// What a token is minted with when its minter names nothing: read, provision and deprovision
/// members, push the department tree.
pub fn default_permissions() -> Permissions {
    Permissions::Only(vec![
        Permission::MembersRead,
        Permission::MembersWrite,
        Permission::DepartmentsWrite,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_stored_without_permissions_acts_with_the_default_set() {
        let stored = json!({
            "id": Uuid::nil(), "tenant_id": Uuid::nil(), "label": "Okta", "token_hash": "00",
            "created_at": "2026-01-01T00:00:00Z", "created_by": Uuid::nil()
        });
        let token: ScimToken = serde_json::from_value(stored).unwrap();
        assert_eq!(token.permissions, None);
        assert_eq!(token.permissions(), default_permissions());
        let narrow = ScimToken {
            permissions: Some(Permissions::Only(vec![Permission::MembersRead])),
            ..token
        };
        assert_eq!(
            narrow.permissions(),
            Permissions::Only(vec![Permission::MembersRead])
        );
    }
}
