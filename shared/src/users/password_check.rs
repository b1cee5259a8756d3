//! `current_password` checks of a signed-in person (a new email on PATCH /v1/me, POST
//! /v1/auth/password). A token is not the password: whoever holds a stolen one must not be able to
//! guess the password through these checks. So they count as sign-in failures of the account
//! (from the caller's address and account-wide), and the account's own count of wrong checks ends
//! every session of the user at its last allowed one, however many addresses the guesses came from.

use crate::app::App;
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::limits::{self, Attempt, Counter};
use crate::model::keys::Key;
use crate::model::time::rfc3339;
use crate::model::user::{User, new_session_epoch};
use crate::store::{Condition, Transaction, Update, num, s};

/// Checks `password` against `user`'s, counted before the check like a sign-in. The right one
/// returns the counted attempt, for the caller to give back with its own writes. A wrong one
/// answers `wrong`, or, when it took the last place of the account's checks, ends every session
/// of the user and answers 401. Past the sign-in limits of the account: 429, nothing checked.
pub(crate) async fn check_current_password(
    app: &App,
    requester: &Requester,
    user: &User,
    password: &str,
    wrong: ApiError,
) -> ApiResult<Attempt> {
    let limits = &app.config.limits;
    let source_ip = requester.origin.source_ip.as_deref();
    let counters = [
        Counter::current_password(limits, &user.email),
        Counter::sign_in_account_address(limits, &user.email, source_ip),
        Counter::sign_in_account(limits, &user.email),
    ];
    let now = app.now();
    let keys: Vec<Key> = counters.iter().flat_map(|c| c.keys(now)).collect();
    let items = app.store.get_many(&keys).await?;
    // Every place taken (a race with the one that ended the sessions, or a new session's first
    // check): the guessing stops here.
    if limits::check(app, &counters[..1], &items[..2]).is_err() {
        end_sessions(app, user).await?;
        return Err(ApiError::Unauthorized);
    }
    let attempt = Attempt::count(app, &counters, &items).await?;
    if crypto::verify_password(password, user.password_hash.as_deref()) {
        return Ok(attempt);
    }
    if attempt.filled(0) {
        end_sessions(app, user).await?;
        return Err(ApiError::Unauthorized);
    }
    Err(wrong)
}

/// Ends every session and outstanding link of `user`: tokens issued before answer 401.
async fn end_sessions(app: &App, user: &User) -> ApiResult<()> {
    let mut tx = Transaction::new();
    tx.update(
        &Key::user(user.id),
        Update::new("SET session_epoch = :epoch, updated_at = :now ADD version :one")
            .value(":epoch", num(new_session_epoch()))
            .value(":now", s(rfc3339(app.now())))
            .value(":one", num(1)),
        Some((Condition::exists(), ApiError::Unauthorized)),
    )?;
    app.store.transact(tx).await
}
