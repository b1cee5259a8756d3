//! The signed-in person's own profile: who they are, the membership their token acts in, all
//! their memberships (GET /v1/me), and their edits (PATCH /v1/me).

use super::account::{UserView, commit_with_memberships, memberships, own_user};
use super::email_change;
use super::password_check::check_current_password;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{CallerKind, Requester};
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::keys::Key;
use crate::model::member::MemberStatus;
use crate::model::roles::{Permissions, Role};
use crate::model::user::User;
use crate::store::{Condition, Transaction, to_item};
use crate::validate;
use serde::{Deserialize, Serialize};

use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct MembershipView {
    pub tenant_id: Uuid,
    pub member_id: Uuid,
    pub role: Role,
    pub status: MemberStatus,
    pub department_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct CurrentView {
    pub tenant_id: Uuid,
    pub member_id: Uuid,
    pub role: Role,
    pub permissions: Permissions,
}

#[derive(Debug, Serialize)]
pub struct MeView {
    pub user: UserView,
    pub platform_admin: bool,
    pub current: Option<CurrentView>,
    pub memberships: Vec<MembershipView>,
}

/// The caller's identity, the membership their token acts in, and all their memberships.
pub async fn me(app: &App, requester: &Requester) -> ApiResult<MeView> {
    let (authorized, user) = own_user(app, requester, false).await?;
    let memberships = memberships(app, user.id)
        .await?
        .into_iter()
        .filter(|m| m.status != MemberStatus::Deleted)
        .map(|m| MembershipView {
            tenant_id: m.tenant_id,
            member_id: m.id,
            role: m.role,
            status: m.status,
            department_id: m.department_id,
        })
        .collect();
    let current = authorized.caller.member().map(|m| CurrentView {
        tenant_id: m.tenant_id,
        member_id: m.id,
        role: m.role,
        permissions: m.effective_permissions(),
    });
    Ok(MeView {
        user: UserView::from(&user),
        platform_admin: authorized.caller.is_platform(),
        current,
        memberships,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    #[serde(default)]
    pub name: Option<String>,
    /// A new sign-in email: needs `current_password`.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub current_password: Option<String>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default)]
    pub language: Option<String>,
}

/// What PATCH /v1/me did: the profile as it now is and, when a new address was asked for, the
/// address waiting for its link (answered 202: nothing about the address has changed yet).
#[derive(Debug, Serialize)]
pub struct MeUpdate {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_email: Option<String>,
}

/// Only the user edits their own name, email, phone and language. A new email needs the current
/// password and takes effect only through the link mailed to it (see `email_change`).
pub async fn update_me(app: &App, requester: &Requester, patch: MePatch) -> ApiResult<MeUpdate> {
    let (authorized, before) = own_user(app, requester, false).await?;
    let copied_to_members = patch.name.is_some() || patch.phone.is_some();
    let edit = ProfileEdit::checked(patch)?;
    let new_email = edit.email.clone().filter(|e| *e != before.email);
    let mut tx = Transaction::new();
    if new_email.is_some() {
        let password = edit.current_password.as_deref().unwrap_or_default();
        let wrong = ApiError::invalid(
            "current_password",
            "is required to change the email, and must be the current password",
        );
        check_current_password(app, requester, &before, password, wrong)
            .await?
            .give_back(&mut tx)?;
    }
    let mut after = edit.applied_to(&before);
    let profile_changed = after.name != before.name
        || after.phone != before.phone
        || after.language != before.language;
    if profile_changed || new_email.is_none() {
        after.updated_at = app.now();
        after.version += 1;
        tx.put(
            to_item(&after, &Key::user(after.id), &[])?,
            Some((
                Condition::version_is(before.version),
                ApiError::Conflict("the profile changed at the same time; retry".into()),
            )),
        )?;
    }
    let mails = match &new_email {
        Some(email) => Some(email_change::request(app, &mut tx, &before, email)?),
        None => None,
    };
    if let CallerKind::Member(m) = &authorized.caller.kind {
        audit::record(
            app,
            &mut tx,
            &authorized.caller,
            Change {
                tenant_id: m.tenant_id,
                action: "user.update",
                target_type: "user",
                target_id: after.id,
                before: audit::snapshot(&UserView::from(&before)),
                after: audit::snapshot(&UserView::from(&after)),
            },
        )?;
    }
    // Members carry the user's name and phone (directory and search): they follow. Asked for
    // again, copies a failed earlier run left behind catch up too.
    if copied_to_members {
        commit_with_memberships(app, &authorized.caller, tx, &after).await?;
    } else {
        app.store.transact(tx).await?;
    }
    for mail in mails.into_iter().flatten() {
        app.mail().send(mail).await?;
    }
    Ok(MeUpdate {
        user: UserView::from(&after),
        pending_email: new_email,
    })
}

/// A checked PATCH /v1/me: each field `None` when not sent (`phone: Some(None)` clears it).
#[derive(Debug, PartialEq, Eq)]
struct ProfileEdit {
    email: Option<String>,
    name: Option<String>,
    phone: Option<Option<String>>,
    language: Option<String>,
    current_password: Option<String>,
}

impl ProfileEdit {
    fn checked(patch: MePatch) -> ApiResult<Self> {
        let mut checks = Checks::new();
        let email = patch
            .email
            .as_deref()
            .map(|e| validate::email(&mut checks, "email", e));
        let name = patch
            .name
            .as_deref()
            .map(|n| validate::text(&mut checks, "name", n, validate::MAX_NAME));
        let phone = patch.phone.map(|p| {
            validate::optional_text(&mut checks, "phone", p.as_deref(), validate::MAX_SHORT_TEXT)
        });
        let language = patch
            .language
            .as_deref()
            .map(|l| validate::language(&mut checks, "language", l));
        checks.check(
            patch
                .current_password
                .as_deref()
                .is_none_or(|p| p.chars().count() <= validate::MAX_PASSWORD * 4),
            "current_password",
            "is too long",
        );
        checks.finish()?;
        Ok(Self {
            email,
            name,
            phone,
            language,
            current_password: patch.current_password,
        })
    }

    /// The profile with the edit's name, phone and language (the email changes only through
    /// the link mailed to the new address).
    fn applied_to(&self, before: &User) -> User {
        let mut after = before.clone();
        if let Some(name) = &self.name {
            after.name = name.clone();
        }
        if let Some(phone) = &self.phone {
            after.phone = phone.clone();
        }
        if let Some(language) = &self.language {
            after.language = language.clone();
        }
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn patch(json: &str) -> MePatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_edit_changes_only_what_was_sent() {
        let before = User {
            phone: Some("+1 555 0100".into()),
            ..User::new(
                OffsetDateTime::UNIX_EPOCH,
                "ada@example.com".into(),
                "Ada".into(),
                "en".into(),
            )
        };
        let renamed = ProfileEdit::checked(patch(r#"{"name":"  Ada Lovelace "}"#)).unwrap();
        let after = renamed.applied_to(&before);
        assert_eq!(after.name, "Ada Lovelace");
        assert_eq!(after.phone, before.phone);
        assert_eq!(after.email, before.email);
        let cleared = ProfileEdit::checked(patch(r#"{"phone":null}"#)).unwrap();
        assert_eq!(cleared.applied_to(&before).phone, None);
        let email = ProfileEdit::checked(patch(r#"{"email":"ADA@Example.com "}"#)).unwrap();
        assert_eq!(email.email.as_deref(), Some("ada@example.com"));
        assert_eq!(email.applied_to(&before).email, "ada@example.com");
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        for (json, field) in [
            (r#"{"name":""}"#, "name"),
            (r#"{"email":"not-an-address"}"#, "email"),
            (r#"{"language":"en_GB"}"#, "language"),
        ] {
            let err = ProfileEdit::checked(patch(json)).unwrap_err();
            assert_eq!(err.problem().errors.unwrap()[0].field, field, "{json}");
        }
    }
}
