//! Changing the sign-in address. Only a link mailed to the new address changes it, and only the
//! user who asked, signed in, can apply it: the owner of the new address clicking the link cannot
//! hand their address to someone else's account. Nothing is reserved meanwhile — the address stays
//! free for anyone until the change is applied, and applying answers 409 if it was taken — and the
//! link dies after 24 hours or with the user's sessions.

use super::account::{FreshToken, UserLink, UserView, add_user_link, own_user, session_is};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::CallerKind;
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::mail::{Mail, html_escape};
use crate::model::keys::Key;
use crate::model::time::rfc3339;
use crate::model::user::{EmailGuard, StoredToken, TokenPurpose, User};
use crate::store::{Condition, Transaction, Update, num, s, to_item};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const LINK_HOURS: i64 = 24;

fn confirm_link(app: &App, token: &str) -> String {
    format!("{}/confirm-email?token={token}", app.config.app_url)
}

/// Adds the link for a change of `user`'s address to `new_email` to `tx`, and returns the mails
/// to send once it commits: the link to the new address, a notice to the old one.
pub(crate) fn request(
    app: &App,
    tx: &mut Transaction,
    user: &User,
    new_email: &str,
) -> ApiResult<[Mail; 2]> {
    let link = UserLink {
        to: new_email,
        ..UserLink::to_user(
            user,
            TokenPurpose::EmailChange,
            time::Duration::hours(LINK_HOURS),
        )
    };
    let token = add_user_link(app, tx, link, Some(new_email.to_string()))?;
    let link = confirm_link(app, &token);
    Ok([
        Mail {
            to: new_email.to_string(),
            subject: "Confirm your new Roster sign-in address".into(),
            text: format!(
                "Hello {},\n\nto make this address the sign-in address of your Roster account, open this link while signed in (it works once, for 24 hours):\n{link}\n\nIf you did not ask for this, ignore this mail.\n",
                user.name
            ),
            html: format!(
                "<p>Hello {},</p><p>to make this address the sign-in address of your Roster account, <a href=\"{}\">open this link while signed in</a> (it works once, for 24 hours).</p><p>If you did not ask for this, ignore this mail.</p>",
                html_escape(&user.name),
                html_escape(&link)
            ),
        },
        Mail {
            to: user.email.clone(),
            subject: "Your Roster sign-in address is about to change".into(),
            text: format!(
                "Hello {},\n\nsomeone signed in to your Roster account asked to change its sign-in address to {new_email}. Nothing changes until that address confirms it. If it was not you, change your password now.\n",
                user.name
            ),
            html: format!(
                "<p>Hello {},</p><p>someone signed in to your Roster account asked to change its sign-in address to <b>{}</b>. Nothing changes until that address confirms it. If it was not you, change your password now.</p>",
                html_escape(&user.name),
                html_escape(new_email)
            ),
        },
    ])
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailInput {
    pub token: String,
}

#[derive(Debug, Serialize)]
pub struct EmailChanged {
    pub user: UserView,
    #[serde(flatten)]
    pub token: FreshToken,
}

/// POST /v1/me/email/confirm: applies a requested change of address. The new address is proven
/// (the link reached it), every other session of the user ends, and the caller gets a fresh token.
pub async fn confirm(
    app: &App,
    requester: &Requester,
    input: ConfirmEmailInput,
) -> ApiResult<EmailChanged> {
    let (authorized, user) = own_user(app, requester, false).await?;
    let mut checks = Checks::new();
    checks.check(
        !input.token.is_empty() && input.token.len() <= 128,
        "token",
        "is invalid",
    );
    checks.finish()?;
    let invalid = || ApiError::invalid("token", "is invalid, expired, already used or not yours");
    let key = Key::token(&crypto::token_hash(&input.token));
    let stored = StoredToken::find(app, &key, &[TokenPurpose::EmailChange])
        .await?
        .ok_or_else(invalid)?;
    let now = app.now();
    let new_email = address_moved_to(&stored, &user, now).ok_or_else(invalid)?;
    let epoch = crate::model::user::new_session_epoch();
    let mut tx = Transaction::new();
    let after = add_address_move(app, &mut tx, &user, &key, new_email, epoch)?;
    if let CallerKind::Member(m) = &authorized.caller.kind {
        audit::record(
            app,
            &mut tx,
            &authorized.caller,
            Change {
                tenant_id: m.tenant_id,
                action: "user.email_change",
                target_type: "user",
                target_id: user.id,
                before: audit::snapshot(&UserView::from(&user)),
                after: audit::snapshot(&UserView::from(&after)),
            },
        )?;
    }
    // The caller's own session goes on under the new epoch; every other one ends.
    if let Some(session) = authorized.claims.as_ref().and_then(|c| c.sid) {
        crate::sessions::issue::carry_over(&mut tx, session, user.id, epoch)?;
    }
    // Members carry the user's email (directory and search): they follow.
    super::account::commit_with_memberships(app, &authorized.caller, tx, &after).await?;
    Ok(EmailChanged {
        user: UserView::from(&after),
        token: FreshToken::like(app, &authorized, epoch).await?,
    })
}

/// The address an email-change link moves `user` to: only the requester's own link, unexpired,
/// from a session epoch that has not ended since.
fn address_moved_to(stored: &StoredToken, user: &User, now: OffsetDateTime) -> Option<String> {
    let (Some(new_email), Some(expires_at)) = (stored.email.clone(), stored.expires_at) else {
        return None;
    };
    let alive = stored.user_id == Some(user.id)
        && expires_at > now
        && stored.session_epoch.unwrap_or(0) == user.session_epoch;
    alive.then_some(new_email)
}

/// Adds the move of `user`'s sign-in address to `new_email` to `tx`: the link is used up, the
/// address proven, every session ended (`epoch`), and the old address's guard handed to the new
/// one. Returns the user as it will be.
fn add_address_move(
    app: &App,
    tx: &mut Transaction,
    user: &User,
    key: &Key,
    new_email: String,
    epoch: u64,
) -> ApiResult<User> {
    let now = app.now();
    let invalid = || ApiError::invalid("token", "is invalid, expired, already used or not yours");
    tx.delete(
        key,
        Some((
            Condition::new("attribute_exists(pk) AND #ttl > :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            invalid(),
        )),
    )?;
    tx.update(
        &Key::user(user.id),
        Update::new(
            "SET email = :email, email_verified = :true, session_epoch = :new_epoch, \
             updated_at = :now ADD version :one",
        )
        .value(":email", s(&new_email))
        .value(":true", AttributeValue::Bool(true))
        .value(":new_epoch", num(epoch))
        .value(":now", s(rfc3339(now)))
        .value(":one", num(1)),
        Some((session_is(user.session_epoch), invalid())),
    )?;
    tx.delete(
        &Key::email(&user.email),
        Some((
            Condition::new("user_id = :user").value(":user", s(user.id.to_string())),
            ApiError::Conflict("the account changed at the same time; retry".into()),
        )),
    )?;
    tx.put(
        to_item(
            &EmailGuard {
                user_id: user.id,
                verified: true,
            },
            &Key::email(&new_email),
            &[],
        )?,
        Some((
            Condition::absent(),
            ApiError::Conflict("the address belongs to another account now".into()),
        )),
    )?;
    Ok(User {
        email: new_email,
        email_verified: true,
        session_epoch: epoch,
        updated_at: now,
        version: user.version + 1,
        ..user.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use uuid::Uuid;

    #[test]
    fn only_the_requesters_live_link_moves_the_address() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let user = User {
            session_epoch: 7,
            ..User::new(now, "old@example.com".into(), "Ada".into(), "en".into())
        };
        let link = StoredToken {
            purpose: TokenPurpose::EmailChange,
            user_id: Some(user.id),
            tenant_id: None,
            target_id: None,
            expires_at: Some(now + Duration::hours(1)),
            ttl: None,
            session_epoch: Some(7),
            email: Some("new@example.com".into()),
            delivered: Some(crate::model::user::Delivery::Email(
                "new@example.com".into(),
            )),
        };
        assert_eq!(
            address_moved_to(&link, &user, now).as_deref(),
            Some("new@example.com")
        );
        let someone_elses = StoredToken {
            user_id: Some(Uuid::now_v7()),
            ..link.clone()
        };
        assert_eq!(address_moved_to(&someone_elses, &user, now), None);
        assert_eq!(
            address_moved_to(&link, &user, now + Duration::hours(1)),
            None
        );
        let sessions_ended = User {
            session_epoch: 8,
            ..user.clone()
        };
        assert_eq!(address_moved_to(&link, &sessions_ended, now), None);
        let no_address = StoredToken {
            email: None,
            ..link
        };
        assert_eq!(address_moved_to(&no_address, &user, now), None);
    }
}
