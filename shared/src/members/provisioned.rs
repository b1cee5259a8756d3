//! What a tenant's identity provider may change of a member's account through SCIM (SPEC §8.5).
//! The name, phone and address belong to the person, not to one tenant: the provider changes them
//! only while the account belongs to its tenant alone, and the address only while nobody has
//! proven it either, so a tenant's provider can never redirect the sign-in of an account someone
//! else holds. A new address gets a fresh set-password link; the old address's links die.

use super::mail::{MailSecret, welcome_mail};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::model::member::Member;
use crate::model::tenant::Tenant;
use crate::model::user::{EmailGuard, TokenPurpose, User, new_session_epoch};
use crate::store::{Condition, Transaction, from_item, s, to_item};
use crate::users::{add_password_token, commit_with_memberships, memberships};

/// The account fields a provider sends, as the member should carry them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonalFields {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
}

fn mutability(detail: &str) -> ApiError {
    ApiError::Scim {
        scim_type: "mutability",
        detail: detail.into(),
    }
}

/// A change of the account behind a member that its provider may make, checked and ready to
/// write.
#[derive(Debug)]
pub(crate) struct PersonalChange {
    before: User,
    after: User,
    readdressed: bool,
}

/// Whether the provider may give the account behind `member` the fields `wanted`: `None` when
/// nothing changes, the change when it may, `mutability` or `uniqueness` when not. Only reads, so
/// a refusal leaves everything as it was.
pub(crate) async fn plan_personal_change(
    app: &App,
    tenant: &Tenant,
    member: &Member,
    wanted: PersonalFields,
) -> ApiResult<Option<PersonalChange>> {
    // The provider asks for a change only where it sends other values than it reads.
    if wanted.email == member.email && wanted.name == member.name && wanted.phone == member.phone {
        return Ok(None);
    }
    let user: User = from_item(
        app.store
            .get(&Key::user(member.user_id))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    let readdressed = wanted.email != user.email;
    if !readdressed && wanted.name == user.name && wanted.phone == user.phone {
        // The account already says so; only the member's copy lags and catches up.
        return Ok(Some(PersonalChange {
            before: user.clone(),
            after: user,
            readdressed: false,
        }));
    }
    let elsewhere = memberships(app, user.id)
        .await?
        .iter()
        .any(|m| m.tenant_id != tenant.id);
    if elsewhere {
        return Err(mutability(
            "the account belongs to other organisations too: only its holder changes its name, phone or email",
        ));
    }
    if readdressed && user.email_verified {
        return Err(mutability(
            "the address is proven: only the account's holder changes it",
        ));
    }
    if readdressed && app.store.get(&Key::email(&wanted.email)).await?.is_some() {
        return Err(taken());
    }
    let mut after = user.clone();
    after.name = wanted.name;
    after.phone = wanted.phone;
    after.email = wanted.email;
    Ok(Some(PersonalChange {
        before: user,
        after,
        readdressed,
    }))
}

fn taken() -> ApiError {
    ApiError::Scim {
        scim_type: "uniqueness",
        detail: "the address belongs to another account".into(),
    }
}

/// Writes a planned change: the user (if still as read), its address guard, every membership's
/// copy, and for a new address a set-password link mailed to it (links mailed to the old one die).
pub(crate) async fn write_personal_change(
    app: &App,
    caller: &Caller,
    tenant: &Tenant,
    member: &Member,
    change: PersonalChange,
) -> ApiResult<()> {
    let PersonalChange {
        before,
        mut after,
        readdressed,
    } = change;
    let mut tx = Transaction::new();
    let unchanged =
        after.name == before.name && after.email == before.email && after.phone == before.phone;
    if unchanged {
        return commit_with_memberships(app, caller, tx, &after).await;
    }
    after.updated_at = app.now();
    after.version += 1;
    let mut link = None;
    if readdressed {
        // Nobody chose the password by proof of this address: the new address sets it.
        after.session_epoch = new_session_epoch();
        after.password_hash = None;
        after.password_must_change = false;
        tx.delete(
            &Key::email(&before.email),
            Some((
                Condition::new("user_id = :user").value(":user", s(before.id.to_string())),
                ApiError::Conflict("the account changed at the same time; retry".into()),
            )),
        )?;
        tx.put(
            to_item(
                &EmailGuard {
                    user_id: before.id,
                    verified: false,
                },
                &Key::email(&after.email),
                &[],
            )?,
            Some((Condition::absent(), taken())),
        )?;
        let lifetime = time::Duration::days(i64::from(tenant.settings.invitation_expiry_days));
        link = Some(add_password_token(
            app,
            &mut tx,
            before.id,
            after.session_epoch,
            TokenPurpose::SetPassword,
            lifetime,
            &after.email,
        )?);
    }
    tx.put(
        to_item(&after, &Key::user(after.id), &[])?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the account changed at the same time; retry".into()),
        )),
    )?;
    commit_with_memberships(app, caller, tx, &after).await?;
    if let Some(token) = link {
        let readdressed = Member {
            email: after.email.clone(),
            name: after.name.clone(),
            ..member.clone()
        };
        let mail = welcome_mail(app, tenant, &readdressed, &MailSecret::Link(token));
        if let Err(err) = app.mail().send(mail).await {
            tracing::error!(member = %member.id, error = %err, "set-password mail failed");
        }
    }
    Ok(())
}
