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

/// A presented token, never shown in logs.
#[derive(Clone)]
pub struct PresentedToken(String);

impl PresentedToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The token id it names, when it has the shape of a SCIM token at all.
    pub fn token_id(&self) -> Option<Uuid> {
        let rest = self.0.strip_prefix("scim.")?;
        let (id, secret) = rest.split_once('.')?;
        (!secret.is_empty() && self.0.len() <= 256).then_some(())?;
        Uuid::parse_str(id).ok()
    }

    /// Whether this is the token `stored` holds the hash of (in constant time).
    pub(crate) fn proves(&self, stored: &ScimToken) -> bool {
        let presented = crate::crypto::token_hash(&self.0);
        presented.len() == stored.token_hash.len()
            && presented
                .bytes()
                .zip(stored.token_hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedToken(..)")
    }
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
