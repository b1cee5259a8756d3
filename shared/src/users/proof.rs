//! Proof of address. A single-use link mailed to an address proves that whoever uses it reads that
//! mail. Using one — a verification, set-password or reset link — proves the address, sets the
//! password the prover chooses (so a password anyone else chose never survives proof) and ends
//! every session and every other link of the user.
//!
//! Whether a used link proves an address is decided here only ([`proves_email`]): a link proves
//! the channel it went through and the address it reached, nothing else.
//!
//! The public doors here answer alike whether or not an address has an account, and count every
//! attempt against the caller's address.

use super::account::{UserLink, add_user_link, memberships, set_password};
use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Caller, CallerKind};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::limits::{Counter, count_attempt};
use crate::mail::{Mail, html_escape};
use crate::members::view::MemberView;
use crate::model::keys::Key;
use crate::model::member::Member;
use crate::model::user::{Delivery, StoredToken, TokenPurpose, User};
use crate::outbox::{self, Intent};
use crate::store::{Condition, Transaction, Update, from_item, num, s};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// Verification links work for a day.
const VERIFY_LINK_HOURS: i64 = 24;

/// Whether using `link` proves `email`: only a link mailed to that very address does. A texted
/// link proves a phone number, a join code nothing, a link mailed elsewhere another address.
/// `unrecorded` is where a link stored before links recorded their delivery went. Every door
/// that turns a used link into a proven address asks here.
pub(crate) fn proves_email(link: &StoredToken, email: &str, unrecorded: Delivery) -> bool {
    let delivered = link.delivered.as_ref().unwrap_or(&unrecorded);
    !email.is_empty() && *delivered == Delivery::Email(email.to_string())
}

pub fn verification_link(app: &App, token: &str) -> String {
    format!("{}/verify-email?token={token}", app.config.app_url)
}

/// Adds a verification link for `user` to `tx` and returns the mail that carries it.
pub(crate) fn add_verification(app: &App, tx: &mut Transaction, user: &User) -> ApiResult<Mail> {
    let link = UserLink::to_user(
        user,
        TokenPurpose::VerifyEmail,
        time::Duration::hours(VERIFY_LINK_HOURS),
    );
    let token = add_user_link(app, tx, link, None)?;
    let link = verification_link(app, &token);
    Ok(Mail {
        to: user.email.clone(),
        subject: "Confirm your email address for Roster".into(),
        text: format!(
            "Hello {},\n\nconfirm that this address is yours and choose your password (the link works once, for one day):\n{link}\n\nIf you did not sign up or sign in to Roster, ignore this mail: nobody can sign in with this address until it is confirmed.\n",
            user.name
        ),
        html: format!(
            "<p>Hello {},</p><p><a href=\"{}\">Confirm that this address is yours and choose your password</a> (the link works once, for one day).</p><p>If you did not sign up or sign in to Roster, ignore this mail: nobody can sign in with this address until it is confirmed.</p>",
            html_escape(&user.name),
            html_escape(&link)
        ),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailInput {
    pub token: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct Verified {
    pub email_verified: bool,
}

/// POST /v1/auth/verify-email: the prover sets the password (the registrant types theirs again).
pub async fn verify_email(
    app: &App,
    requester: &Requester,
    input: VerifyEmailInput,
) -> ApiResult<Verified> {
    prove_with_link(app, requester, &input.token, "password", &input.password).await?;
    Ok(Verified {
        email_verified: true,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetInput {
    pub token: String,
    pub new_password: String,
}

/// POST /v1/auth/password-reset: a set-password or reset link; it proves the address as well.
pub async fn complete_password_reset(
    app: &App,
    requester: &Requester,
    input: PasswordResetInput,
) -> ApiResult<()> {
    prove_with_link(
        app,
        requester,
        &input.token,
        "new_password",
        &input.new_password,
    )
    .await
}

/// Spends a link mailed to a user's address: the token is deleted, the password set, the address
/// proven (on the user, its email guard and its memberships) and every session ended, in one
/// transaction conditioned on the link being unspent and the user's sessions unchanged since it
/// was mailed.
async fn prove_with_link(
    app: &App,
    requester: &Requester,
    token: &str,
    password_field: &str,
    password: &str,
) -> ApiResult<()> {
    let mut checks = Checks::new();
    crate::validate::password(&mut checks, password_field, password);
    checks.check(
        !token.is_empty() && token.len() <= 128,
        "token",
        "is invalid",
    );
    checks.finish()?;
    count_attempt(
        app,
        Counter::public(
            &app.config.limits,
            "prove",
            requester.origin.source_ip.as_deref(),
        ),
    )
    .await?;
    let (key, user) = linked_user(app, token).await?;
    // Whoever reads the account's mail is its owner: the guesses counted against it are forgotten
    // (before the link is spent, so a failure here leaves the link to be used again).
    crate::limits::clear_account(app, &user.email).await?;
    let invalid = || ApiError::invalid("token", "is invalid, expired or already used");
    let now = app.now();
    let hash = crypto::hash_password(password)?;
    // Proving the address with the password an admin gave keeps it one to change.
    let must_change = user.password_must_change
        && crypto::verify_password(password, user.password_hash.as_deref());
    let mut tx = Transaction::new();
    tx.delete(
        &key,
        Some((
            Condition::new("attribute_exists(pk) AND #ttl > :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            invalid(),
        )),
    )?;
    set_password(app, &mut tx, &user, &hash, true, must_change, invalid())?;
    let copies = if user.email_verified {
        Vec::new()
    } else {
        add_proof(app, &mut tx, &user).await?
    };
    commit_with_copies(app, tx, copies).await
}

/// Commits `tx` with the memberships' copies, as many per transaction as fit (a person may
/// belong to many tenants): the first carries the link's spending, so a link proves once; a
/// copy a later transaction failed to write is the consistency check's to repair.
pub(crate) async fn commit_with_copies(
    app: &App,
    mut tx: Transaction,
    copies: Vec<Transaction>,
) -> ApiResult<()> {
    for copy in copies {
        if tx.len() + copy.len() > crate::store::MAX_TRANSACTION_ACTIONS {
            app.store.transact(tx).await?;
            tx = Transaction::new();
        }
        tx.append(copy);
    }
    app.store.transact(tx).await
}

/// The link token's key and the account it opens: a proof link, unexpired, mailed under the
/// account's current session epoch.
async fn linked_user(app: &App, token: &str) -> ApiResult<(Key, User)> {
    let invalid = || ApiError::invalid("token", "is invalid, expired or already used");
    let key = Key::token(&crypto::token_hash(token));
    let stored = StoredToken::find(app, &key, &TokenPurpose::PROOF)
        .await?
        .ok_or_else(invalid)?;
    let now = app.now();
    // DynamoDB deletes expired items late: the expiry is checked here, and again in the condition.
    let (Some(user_id), Some(expires_at)) = (stored.user_id, stored.expires_at) else {
        return Err(invalid());
    };
    if expires_at <= now {
        return Err(invalid());
    }
    let user: User = from_item(
        app.store
            .get(&Key::user(user_id))
            .await?
            .ok_or_else(invalid)?,
    )?;
    if stored.session_epoch.unwrap_or(0) != user.session_epoch
        || !proves_email(&stored, &user.email, Delivery::Email(user.email.clone()))
    {
        return Err(invalid());
    }
    Ok((key, user))
}

/// Adds to `tx` the proof of `user`'s address on its email guard; the proof of every
/// membership's copy, each with its event, comes back to be committed after.
async fn add_proof(app: &App, tx: &mut Transaction, user: &User) -> ApiResult<Vec<Transaction>> {
    let invalid = || ApiError::invalid("token", "is invalid, expired or already used");
    let proven = || Update::new("SET verified = :true").value(":true", AttributeValue::Bool(true));
    tx.update(
        &Key::email(&user.email),
        proven(),
        Some((
            Condition::new("user_id = :user").value(":user", s(user.id.to_string())),
            invalid(),
        )),
    )?;
    // The person proved it: their memberships' events name them.
    let person = Caller {
        user_id: user.id,
        kind: CallerKind::User,
        origin: Default::default(),
    };
    let mut copies = Vec::new();
    for member in memberships(app, user.id).await? {
        let mut copy = Transaction::new();
        copy.update(
            &member.key(),
            Update::new("SET email_verified = :true").value(":true", AttributeValue::Bool(true)),
            Some((Condition::exists(), invalid())),
        )?;
        if !member.email_verified {
            let proven = Member {
                email_verified: true,
                ..member
            };
            let view = MemberView::from(&proven);
            let event = EventType::MemberUpdated;
            events::record(app, &mut copy, &person, proven.tenant_id, event, &view)?;
        }
        copies.push(copy);
    }
    Ok(copies)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub email: String,
}

fn address(input: &AddressInput) -> ApiResult<String> {
    let mut checks = Checks::new();
    let email = crate::validate::email(&mut checks, "email", &input.email);
    checks.finish()?;
    Ok(email)
}

/// POST /v1/auth/verify-email/resend: queues a fresh verification link for an unproven account's
/// address. The answer does the same work whether the address has such an account, a proven
/// one, or none (the outbox worker decides), so neither its body nor its time tells them apart.
pub async fn resend_verification(
    app: &App,
    requester: &Requester,
    input: AddressInput,
) -> ApiResult<()> {
    let email = address(&input)?;
    count_public(app, requester, "verify-resend").await?;
    outbox::queue_now(app, Intent::Verification { email }).await
}

/// POST /v1/auth/password-reset/request: queues a reset link (which proves the address too) for
/// the address's account; the same work whether or not there is one (see `resend_verification`).
pub async fn request_password_reset(
    app: &App,
    requester: &Requester,
    input: AddressInput,
) -> ApiResult<()> {
    let email = address(&input)?;
    count_public(app, requester, "reset-request").await?;
    outbox::queue_now(app, Intent::ResetPassword { email }).await
}

async fn count_public(app: &App, requester: &Requester, door: &'static str) -> ApiResult<()> {
    let source_ip = requester.origin.source_ip.as_deref();
    count_attempt(app, Counter::public(&app.config.limits, door, source_ip)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(delivered: Option<Delivery>) -> StoredToken {
        StoredToken {
            purpose: TokenPurpose::Invitation,
            user_id: None,
            tenant_id: None,
            target_id: None,
            expires_at: None,
            ttl: None,
            session_epoch: None,
            email: None,
            delivered,
        }
    }

    #[test]
    fn a_link_proves_only_the_address_it_was_mailed_to() {
        let ada = "ada@example.com";
        let mailed = || Delivery::Email(ada.into());
        let texted = || Delivery::Phone("+447700900123".into());
        assert!(proves_email(&link(Some(mailed())), ada, texted()));
        assert!(!proves_email(&link(Some(texted())), ada, mailed()));
        let elsewhere = Delivery::Email("grace@example.com".into());
        assert!(!proves_email(&link(Some(elsewhere)), ada, mailed()));
        assert!(!proves_email(&link(Some(mailed())), "", mailed()));
        // Links stored before deliveries were recorded went where the caller says.
        assert!(proves_email(&link(None), ada, mailed()));
        assert!(!proves_email(&link(None), ada, texted()));
    }
}
