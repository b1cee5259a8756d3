//! What makes a member findable: its search terms, and the copies of the user's name, email and
//! phone that follow the user's record (with the directory and name-order keys built from them).

use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::model::member::Member;
use crate::model::member::SearchTerm;
use crate::store::{Condition, Item, Transaction, Update, s, to_item};
use aws_sdk_dynamodb::types::AttributeValue;

/// The search terms a change of name or email removes and adds; terms both have stay put (a key
/// may appear once per transaction).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TermChanges {
    pub removed: Vec<Key>,
    pub added: Vec<Key>,
}

/// What a SCIM guard holds: the member it names.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ScimGuard {
    pub member_id: uuid::Uuid,
}

impl Member {
    /// The guards of a provisioned member's SCIM `userName` and `externalId`.
    pub(crate) fn scim_guard_keys(&self) -> Vec<Key> {
        self.scim
            .as_ref()
            .map(|p| p.guard_keys(self.tenant_id))
            .unwrap_or_default()
    }

    /// Adds to `tx` the guards `after` holds and `before` did not, and removes those it dropped:
    /// a `userName` or `externalId` another member holds fails the transaction as `uniqueness`.
    pub(crate) fn swap_scim_guards(
        before: Option<&Member>,
        after: &Member,
        tx: &mut Transaction,
    ) -> ApiResult<()> {
        let old = before.map(Member::scim_guard_keys).unwrap_or_default();
        let new = after.scim_guard_keys();
        for key in old.iter().filter(|k| !new.contains(k)) {
            tx.delete(key, None)?;
        }
        for key in new.iter().filter(|k| !old.contains(k)) {
            tx.put(
                to_item(
                    &ScimGuard {
                        member_id: after.id,
                    },
                    key,
                    &[],
                )?,
                Some((
                    Condition::absent(),
                    ApiError::Scim {
                        scim_type: "uniqueness",
                        detail: "another member of the tenant has this userName or externalId"
                            .into(),
                    },
                )),
            )?;
        }
        Ok(())
    }

    /// Adds the member's search terms to `tx`.
    pub fn add_search_terms(&self, tx: &mut Transaction) -> ApiResult<()> {
        for item in self.search_term_items()? {
            tx.put(item, None)?;
        }
        Ok(())
    }

    /// The items that make the member findable by search.
    pub fn search_term_items(&self) -> ApiResult<Vec<Item>> {
        self.term_keys()
            .iter()
            .map(|key| self.search_term_item(key))
            .collect()
    }

    fn search_term_item(&self, key: &Key) -> ApiResult<Item> {
        let [(_, directory_place), (_, name_place)] = self.name_order_keys();
        let term = SearchTerm {
            member_id: self.id,
            directory_place: Some(directory_place),
            name_place: Some(name_place),
        };
        to_item(&term, key, &[])
    }

    /// The terms that move when the member's name and email become `name` and `email`.
    pub(super) fn term_changes(&self, name: &str, email: &str) -> TermChanges {
        let old = self.term_keys();
        let new = Member {
            name: name.to_string(),
            email: email.to_string(),
            ..self.clone()
        }
        .term_keys();
        TermChanges {
            removed: old.iter().filter(|k| !new.contains(k)).cloned().collect(),
            added: new.into_iter().filter(|k| !old.contains(k)).collect(),
        }
    }

    /// Adds to `tx` what follows from the user's new name or phone: the member's copy, its
    /// directory and name-order keys, and its search terms.
    pub(crate) fn follow_user(
        &self,
        tx: &mut Transaction,
        name: &str,
        email: &str,
        email_verified: bool,
        phone: Option<&str>,
    ) -> ApiResult<()> {
        tx.update(
            &self.key(),
            self.user_copy_update(name, email, email_verified, phone),
            Some((Condition::exists(), ApiError::NotFound)),
        )?;
        if self.status.in_directory() && (name != self.name || email != self.email) {
            let changes = self.term_changes(name, email);
            for key in &changes.removed {
                tx.delete(key, None)?;
            }
            // Every term the member keeps carries the new name's place in name order too.
            let renamed = Member {
                name: name.to_string(),
                email: email.to_string(),
                ..self.clone()
            };
            for item in renamed.search_term_items()? {
                tx.put(item, None)?;
            }
        }
        Ok(())
    }

    /// The update that sets the member's copy of the user's fields, and (in the directory) the
    /// directory and name-order keys built from the name.
    fn user_copy_update(
        &self,
        name: &str,
        email: &str,
        email_verified: bool,
        phone: Option<&str>,
    ) -> Update {
        let mut update = Update::new(
            // The member's ETag changes with what it shows.
            "SET #name = :name, email = :email, email_verified = :verified, phone = :phone \
             ADD version :one",
        )
        .value(":one", AttributeValue::N("1".into()))
        .name("#name", "name")
        .value(":name", s(name))
        .value(":email", s(email))
        .value(":verified", AttributeValue::Bool(email_verified))
        .value(":phone", phone.map_or(AttributeValue::Null(true), s));
        if self.status.in_directory() {
            let renamed = Member {
                name: name.to_string(),
                ..self.clone()
            };
            update = update.set_all(&renamed.name_order_keys());
        }
        update
    }
}

#[cfg(test)]
mod tests {
    use crate::members::policy::tests::member;
    use crate::model::keys::Key;
    use crate::model::roles::{Permissions, Role};

    #[test]
    fn a_new_surname_moves_only_its_term() {
        let ada = member(Role::Member, Permissions::none());
        let changes = ada.term_changes("Ada Byron", &ada.email);
        let term = |t: &str| Key::search_term(ada.tenant_id, t, ada.id);
        assert_eq!(changes.removed, vec![term("lovelace")]);
        assert_eq!(changes.added, vec![term("byron")]);
    }

    #[test]
    fn the_same_name_and_email_move_nothing() {
        let ada = member(Role::Member, Permissions::none());
        let changes = ada.term_changes(&ada.name, &ada.email);
        assert!(changes.removed.is_empty() && changes.added.is_empty());
    }
}
