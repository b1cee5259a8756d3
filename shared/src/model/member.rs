//! A member: one person's membership of one tenant, and the keys and index attributes it is
//! stored under (see [`crate::model::keys`]).

use crate::error::ApiResult;
use crate::model::item::{Item, to_item};
use crate::model::keys::{
    GSI1, GSI2, GSI3, GSI4, GSI5, Key, PURGE_QUEUE, directory_partition, directory_position,
    join_request_position, join_requests_partition, last_login_partition, last_login_position,
    memberships_of, name_partition, recycle_bin_partition, tenant_partition, tree_partition,
    tree_position,
};
use crate::model::licence::Licence;
use crate::model::roles::{Permissions, Role};
use crate::model::time::rfc3339;
use crate::model::user::User;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

pub const DEFAULT_DIRECTORY_NUMBER: u32 = 10_000;

/// Name words a member is found by, at most. A rename removes and adds up to this many term items
/// in one transaction with the member, its email term and the audit entry, inside DynamoDB's 100
/// actions; real names have far fewer distinct words (a 200-character name could have more only
/// with words of one or two letters).
pub const MAX_NAME_TERMS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Disabled,
    Deleted,
    /// A join request awaiting an admin (join link, or an invitation that needs approval).
    Pending,
    /// A join request an admin turned down; approving it later re-examines it.
    Rejected,
}

impl MemberStatus {
    /// Active and disabled members are the tenant's members proper: in the directory, the tree,
    /// search and the counts. Join requests and recycle-bin entries are not.
    pub fn in_directory(self) -> bool {
        matches!(self, Self::Active | Self::Disabled)
    }

    /// A join request, pending or rejected.
    pub fn is_join_request(self) -> bool {
        matches!(self, Self::Pending | Self::Rejected)
    }
}

/// How a join request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinVia {
    Invitation,
    JoinLink,
    JoinNumber,
}

/// The story of a join request, kept on the member it became.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequestInfo {
    pub via: JoinVia,
    #[serde(default)]
    pub invitation_id: Option<Uuid>,
    #[serde(default)]
    pub join_link_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub decided_by: Option<Uuid>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl JoinRequestInfo {
    /// A request made `now` through an invitation or a join link (or the join number: neither),
    /// awaiting its decision.
    pub fn pending(
        via: JoinVia,
        invitation_id: Option<Uuid>,
        join_link_id: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            via,
            invitation_id,
            join_link_id,
            requested_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberSource {
    Console,
    Import,
    Invitation,
    JoinLink,
    JoinNumber,
    Api,
    /// Provisioned by the tenant's identity provider through SCIM.
    Scim,
}

/// What the tenant's identity provider provisioned through SCIM, kept as it sent it so it reads it
/// back unchanged (RFC 7643 §4.1). The member's own fields (email, name, phone, position, work
/// number, status) stay the truth; this holds the identifiers and the shapes only SCIM has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimProfile {
    /// `userName`: unique in the tenant, case-insensitively (its guard holds it folded).
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ScimName>,
    /// Whether the provider sent a `displayName` (its value is the member's name).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_display_name: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ScimValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<ScimValue>,
}

impl ScimProfile {
    /// The guards that keep its `userName` and `externalId` unique in the tenant.
    pub fn guard_keys(&self, tenant_id: Uuid) -> Vec<Key> {
        let mut keys = vec![Key::scim_user_name(tenant_id, &self.user_name)];
        keys.extend(
            self.external_id
                .as_deref()
                .map(|e| Key::scim_external_id(tenant_id, e)),
        );
        keys
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

/// One value of a multi-valued SCIM attribute (`emails`, `phoneNumbers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimValue {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// Lowercase, as the user's.
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
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
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub purge_at: Option<OffsetDateTime>,
    /// purge_at as epoch seconds while in the recycle bin: DynamoDB's TTL removes the entry.
    #[serde(default)]
    pub ttl: Option<i64>,
    /// The member's seat licence, if any (with a queued renewal, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<Licence>,
    /// Set when the member came in through a join request (pending, rejected or decided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_request: Option<JoinRequestInfo>,
    /// The user's proof of address, carried for the directory (follows the user's record).
    #[serde(default)]
    pub email_verified: bool,
    /// Changes when an admin disables or deletes the member: the membership's tokens issued
    /// before carry the old value and stop working, even once it is enabled or restored.
    #[serde(default)]
    pub session_epoch: u64,
    /// Set while the tenant's identity provider manages the member through SCIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimProfile>,
    pub version: u64,
}

/// Lowercase without accents: what search compares.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// The terms a member is found by: the email (always) and every distinct word of the name, in
/// the name's order up to [`MAX_NAME_TERMS`]. (Every term an earlier rule stored, the first eight
/// in alphabetical order, is among these, so a rename or a delete removes them all.)
pub fn search_terms(email: &str, name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in fold(name)
        .split(|c: char| c.is_whitespace() || c == '-' || c == ',' || c == '.')
        .filter(|w| !w.is_empty())
    {
        if words.len() < MAX_NAME_TERMS && !words.iter().any(|kept| kept == word) {
            words.push(word.to_string());
        }
    }
    let mut terms = vec![fold(email)];
    terms.extend(words);
    terms.sort();
    terms.dedup();
    terms
}

/// The account a new member belongs to, as far as the member keeps a copy of it.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: Uuid,
    /// Lowercase, as the user's.
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub email_verified: bool,
}

impl From<&User> for Person {
    fn from(user: &User) -> Self {
        Self {
            user_id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            phone: user.phone.clone(),
            email_verified: user.email_verified,
        }
    }
}

impl Member {
    /// The one way a member comes to be: `person` joins `tenant_id` in `department_id`, active,
    /// with `role` and `permissions`, at the default directory number, without organisation
    /// fields, licence or join request. Callers set what differs with struct update syntax.
    pub fn new(
        tenant_id: Uuid,
        department_id: Uuid,
        person: Person,
        role: Role,
        permissions: Permissions,
        source: MemberSource,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            user_id: person.user_id,
            email: person.email,
            name: person.name,
            phone: person.phone,
            department_id,
            position: None,
            work_number: None,
            location: None,
            directory_number: DEFAULT_DIRECTORY_NUMBER,
            role,
            permissions,
            status: MemberStatus::Active,
            source,
            api_client_id: None,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            deleted_at: None,
            purge_at: None,
            ttl: None,
            licence: None,
            join_request: None,
            email_verified: person.email_verified,
            session_epoch: 0,
            scim: None,
            version: 1,
        }
    }
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

    /// The stored item with its index attributes: memberships by user (gsi1), the department tree
    /// (gsi2, from the department's id path), the directory or the recycle bin (gsi3) and name
    /// order (gsi4).
    /// The sort keys a listed member's name places it by: directory order (gsi3) and name order
    /// (gsi4). Puts write them with the item; a change of name sets them with the store's
    /// `Update::set_all`.
    pub fn name_order_keys(&self) -> [(&'static str, String); 2] {
        let folded = fold(&self.name);
        [
            (
                GSI3.sk,
                directory_position(self.directory_number, &folded, self.id),
            ),
            (GSI4.sk, format!("{folded}#{}", self.id)),
        ]
    }

    pub fn to_item(&self, department_id_path: &str) -> ApiResult<Item> {
        let mut extra = vec![
            (GSI1.pk, memberships_of(self.user_id)),
            (GSI1.sk, tenant_partition(self.tenant_id)),
            (GSI2.pk, tree_partition(self.tenant_id)),
            (GSI2.sk, tree_position(department_id_path, self.id)),
        ];
        match (self.status, self.deleted_at) {
            (MemberStatus::Pending | MemberStatus::Rejected, _) => {
                extra.push((GSI3.pk, join_requests_partition(self.tenant_id)));
                extra.push((GSI3.sk, join_request_position(self.status, self.id)));
            }
            (MemberStatus::Deleted, Some(deleted_at)) => {
                extra.push((GSI3.pk, recycle_bin_partition(self.tenant_id)));
                extra.push((GSI3.sk, format!("{}#{}", rfc3339(deleted_at), self.id)));
                let purge_at = self.purge_at.unwrap_or(deleted_at);
                extra.push((GSI4.pk, PURGE_QUEUE.to_string()));
                extra.push((
                    GSI4.sk,
                    format!("{}#{}#{}", rfc3339(purge_at), self.tenant_id, self.id),
                ));
            }
            _ => {
                let [directory, by_name] = self.name_order_keys();
                extra.push((GSI3.pk, directory_partition(self.tenant_id)));
                extra.push(directory);
                extra.push((GSI4.pk, name_partition(self.tenant_id)));
                extra.push(by_name);
                let last_login = self.last_login_at.map(rfc3339);
                extra.push((GSI5.pk, last_login_partition(self.tenant_id)));
                extra.push((GSI5.sk, last_login_position(last_login.as_deref(), self.id)));
            }
        }
        if let Some(licence) = self.licence.as_ref().filter(|_| self.status.in_directory()) {
            extra.extend(licence.index_keys(self.tenant_id, self.id));
        }
        let mut item = to_item(self, &self.key(), &extra)?;
        if !self.status.in_directory() {
            // Deleted members and join requests stay out of the tree index: departments and
            // listings do not see them.
            item.remove(GSI2.pk);
            item.remove(GSI2.sk);
        }
        Ok(item)
    }

    pub(crate) fn term_keys(&self) -> Vec<Key> {
        search_terms(&self.email, &self.name)
            .iter()
            .map(|t| Key::search_term(self.tenant_id, t, self.id))
            .collect()
    }
}

/// The guard that keeps one member per user per tenant, pointing at the member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserInTenant {
    pub member_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SearchTerm {
    pub(crate) member_id: Uuid,
    /// The member's places in directory order and in name order (its gsi3sk and gsi4sk), so a
    /// search sorts what its terms name without reading the members. Rewritten with the terms
    /// whenever the name or the directory number changes; absent on terms written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) directory_place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name_place: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_found_by_every_word_and_by_the_email() {
        let name = "Zoë de la Cruz y Álvarez-Montenegro Bernadotte af Wisborg van der Zwaan";
        let terms = search_terms("Zoe.Cruz@Example.com", name);
        assert!(
            terms.contains(&"zoe.cruz@example.com".to_string()),
            "{terms:?}"
        );
        for word in [
            "zoe",
            "de",
            "la",
            "cruz",
            "y",
            "alvarez",
            "montenegro",
            "bernadotte",
            "af",
            "wisborg",
            "van",
            "der",
            "zwaan",
        ] {
            assert!(terms.contains(&word.to_string()), "{word} in {terms:?}");
        }
        assert_eq!(terms.len(), 14);
    }

    #[test]
    fn name_words_stop_at_the_bound_and_the_email_stays() {
        let name: Vec<String> = (0..60).map(|n| format!("w{n:02}")).collect();
        let terms = search_terms("a@b.test", &name.join(" "));
        assert_eq!(terms.len(), MAX_NAME_TERMS + 1);
        assert!(terms.contains(&"a@b.test".to_string()));
        // The name's first words are kept, whatever their alphabetical order.
        assert!(terms.contains(&"w00".to_string()) && terms.contains(&"w39".to_string()));
        assert!(!terms.contains(&"w40".to_string()));
    }

    #[test]
    fn the_terms_an_earlier_rule_stored_are_among_these() {
        let name = "Maria Anna Sofia Beatrix Carlota Theresa Josepha Walburga Eugenia";
        let mut earlier = search_terms("maria@x.test", name);
        earlier.truncate(8);
        let now = search_terms("maria@x.test", name);
        assert!(
            earlier.iter().all(|t| now.contains(t)),
            "{earlier:?} vs {now:?}"
        );
    }
}
