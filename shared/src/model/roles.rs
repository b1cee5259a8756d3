//! Roles and permissions: what a member, an API client or an operator may hold.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "members.read")]
    MembersRead,
    #[serde(rename = "members.write")]
    MembersWrite,
    #[serde(rename = "departments.write")]
    DepartmentsWrite,
    #[serde(rename = "invitations.write")]
    InvitationsWrite,
    #[serde(rename = "licences.write")]
    LicencesWrite,
    #[serde(rename = "imports.run")]
    ImportsRun,
    #[serde(rename = "exports.run")]
    ExportsRun,
    #[serde(rename = "settings.write")]
    SettingsWrite,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "api_clients.write")]
    ApiClientsWrite,
    #[serde(rename = "customers.write")]
    CustomersWrite,
    #[serde(rename = "events.read")]
    EventsRead,
    #[serde(rename = "webhooks.write")]
    WebhooksWrite,
}

/// `"all"` or a chosen list, as clients send and read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permissions {
    All,
    Only(Vec<Permission>),
}

impl Permissions {
    pub fn none() -> Self {
        Self::Only(Vec::new())
    }

    pub fn allows(&self, permission: Permission) -> bool {
        match self {
            Self::All => true,
            Self::Only(list) => list.contains(&permission),
        }
    }

    /// Whether these permissions hold every one of `other`: what a caller must hold to give
    /// `other` to anything it creates (a member's role, an API client, a SCIM token), and what an
    /// actor must hold to act on a member holding `other` (SPEC §8.2, §9.1). `"all"` is covered
    /// only by `"all"`.
    pub fn covers(&self, other: &Permissions) -> bool {
        match other {
            Self::All => *self == Self::All,
            Self::Only(list) => list.iter().all(|p| self.allows(*p)),
        }
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_str("all"),
            Self::Only(list) => list.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<Permission>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Self::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"all\" or a list of permissions, got \"{w}\""
            ))),
            Raw::List(mut list) => {
                list.sort();
                list.dedup();
                Ok(Self::Only(list))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_all_or_a_list() {
        let all: Permissions = serde_json::from_str("\"all\"").unwrap();
        assert!(all.allows(Permission::AuditRead));
        let some: Permissions =
            serde_json::from_str(r#"["departments.write","departments.write"]"#).unwrap();
        assert_eq!(some, Permissions::Only(vec![Permission::DepartmentsWrite]));
        assert!(!some.allows(Permission::AuditRead));
        assert!(serde_json::from_str::<Permissions>("\"everything\"").is_err());
        assert!(serde_json::from_str::<Permissions>(r#"["root"]"#).is_err());
        assert_eq!(serde_json::to_string(&all).unwrap(), "\"all\"");
    }

    #[test]
    fn all_covers_everything_and_a_list_only_its_own() {
        let list = |l: &[Permission]| Permissions::Only(l.to_vec());
        assert!(Permissions::All.covers(&Permissions::All));
        assert!(Permissions::All.covers(&list(&[Permission::AuditRead])));
        let mine = list(&[Permission::MembersRead, Permission::MembersWrite]);
        assert!(mine.covers(&list(&[Permission::MembersRead])));
        assert!(mine.covers(&Permissions::none()));
        assert!(!mine.covers(&list(&[Permission::MembersRead, Permission::AuditRead])));
        assert!(!mine.covers(&Permissions::All));
    }
}
