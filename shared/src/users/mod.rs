//! Users (global identities), sign-in, one-time password links and the caller's own profile.
//! Proof of address (`proof`) and email changes (`email_change`) have modules of their own.

mod account;
pub mod email_change;
mod login;
mod me;
mod password_check;
pub mod proof;

use account::own_user;
pub use account::{
    FreshToken, UserView, add_password_token, member_of, memberships, password_link,
};
pub(crate) use account::{
    UserLink, add_user_link, claim_address, commit_with_memberships, set_password,
};
pub(crate) use login::admit;
pub use login::{LoginInput, LoginOutput, login};
pub use me::{CurrentView, MePatch, MeUpdate, MeView, MembershipView, me, update_me};

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::CallerKind;
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
pub use crate::model::time::{rfc3339, whole_seconds};
pub use crate::model::user::{
    Delivery, EmailGuard, PlatformAdmin, StoredToken, TokenPurpose, User, new_session_epoch,
};
use crate::sessions::issue::{self, RefreshDelivery};
use crate::store::Transaction;
use crate::validate;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
    /// Where the refresh token of the session a `password_expired` sign-in completes goes.
    #[serde(default)]
    pub refresh: RefreshDelivery,
}

/// Changes the caller's own password after checking the current one. Every other session and
/// every outstanding link of the user ends; the caller gets a fresh token, and the caller's own
/// session (if its token has one) goes on under the new session epoch. A caller with the token of
/// a `password_expired` sign-in completes that sign-in: its session starts here.
pub async fn change_password(
    app: &App,
    requester: &Requester,
    input: ChangePasswordInput,
) -> ApiResult<FreshToken> {
    let mut checks = Checks::new();
    validate::password(&mut checks, "new_password", &input.new_password);
    checks.check(
        input.current_password.chars().count() <= validate::MAX_PASSWORD * 4,
        "current_password",
        "is too long",
    );
    checks.finish()?;
    let (authorized, user) = own_user(app, requester, true).await?;
    let wrong = ApiError::invalid("current_password", "is not the current password");
    let attempt = password_check::check_current_password(
        app,
        requester,
        &user,
        &input.current_password,
        wrong,
    )
    .await?;
    if input.current_password == input.new_password {
        attempt.give_back_now(app).await?;
        return Err(ApiError::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let hash = crypto::hash_password(&input.new_password)?;
    let mut tx = Transaction::new();
    attempt.give_back(&mut tx)?;
    let epoch = set_password(
        app,
        &mut tx,
        &user,
        &hash,
        false,
        false,
        ApiError::Unauthorized,
    )?;
    let mut grant = FreshToken::grant_like(&authorized, epoch)?;
    let claims = authorized.claims.as_ref();
    let refresh = issue::through_password_change(app, requester, &mut tx, claims, &mut grant)?;
    if let CallerKind::Member(m) = &authorized.caller.kind {
        audit::record(
            app,
            &mut tx,
            &authorized.caller,
            Change {
                tenant_id: m.tenant_id,
                action: "user.password_change",
                target_type: "user",
                target_id: user.id,
                before: None,
                after: None,
            },
        )?;
    }
    app.store.transact(tx).await?;
    FreshToken::issue(app, &grant, refresh, input.refresh).await
}
