//! The mails members get from member operations: the welcome mail of a new member and the
//! password reset an admin sends.

use super::policy::{beyond_reach, may_manage};
use super::records::member_of;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::mail::{Mail, html_escape};
use crate::model::keys::Key;
use crate::model::member::Member;
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::model::user::{TokenPurpose, User};
use crate::store::{Batch, Transaction, from_item};
use crate::users::{add_password_token, password_link};
use uuid::Uuid;

/// What a welcome mail gives the new member to sign in with.
pub(super) enum MailSecret {
    /// Nothing: the account already has its password.
    None,
    /// A set-password token.
    Link(String),
    /// A generated first password.
    Password(String),
}

pub(super) fn welcome_mail(
    app: &App,
    tenant: &Tenant,
    member: &Member,
    secret: &MailSecret,
) -> Mail {
    let (line, html_line) = match secret {
        MailSecret::Link(token) => {
            let link = password_link(app, token);
            (
                format!("Set your password to sign in:\n{link}\n"),
                format!(
                    "<p><a href=\"{}\">Set your password to sign in</a></p>",
                    html_escape(&link)
                ),
            )
        }
        MailSecret::Password(password) => (
            format!("Your password: {password}\nPlease change it after signing in.\n"),
            format!(
                "<p>Your password: <code>{}</code><br>Please change it after signing in.</p>",
                html_escape(password)
            ),
        ),
        MailSecret::None => (
            format!(
                "Sign in with your existing account: {}/login\n",
                app.config.app_url
            ),
            format!(
                "<p><a href=\"{}/login\">Sign in with your existing account</a></p>",
                html_escape(&app.config.app_url)
            ),
        ),
    };
    Mail {
        to: member.email.clone(),
        subject: format!("You have been added to {} on Roster", tenant.name),
        text: format!(
            "Hello {},\n\nyou are now a member of {}.\n{line}",
            member.name, tenant.name
        ),
        html: format!(
            "<p>Hello {},</p><p>you are now a member of <b>{}</b>.</p>{html_line}",
            html_escape(&member.name),
            html_escape(&tenant.name)
        ),
    }
}

/// Mails a member a single-use link to set a new password (valid one day).
pub async fn send_password_reset(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<()> {
    let mut batch = Batch::new();
    let member = batch.read_item(Key::member(tenant_id, member_id));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let member = member_of(read.take_item(member))?;
    if !may_manage(&access, &member) {
        return Err(beyond_reach());
    }
    // The link lives as long as the user's sessions do: it carries their epoch.
    let user: User = from_item(
        app.store
            .get(&Key::user(member.user_id))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    let mut tx = Transaction::new();
    let token = add_password_token(
        app,
        &mut tx,
        member.user_id,
        user.session_epoch,
        TokenPurpose::ResetPassword,
        time::Duration::days(1),
        &user.email,
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "member.password_reset",
            target_type: "member",
            target_id: member_id,
            before: None,
            after: None,
        },
    )?;
    app.store.transact(tx).await?;
    let link = password_link(app, &token);
    app.mail()
        .send(password_reset_mail(&tenant, &member, &link))
        .await
}

fn password_reset_mail(tenant: &Tenant, member: &Member, link: &str) -> Mail {
    Mail {
        to: member.email.clone(),
        subject: format!("Reset your {} password", tenant.name),
        text: format!(
            "Hello {},\n\nan administrator of {} asked for your password to be reset.\nChoose a new password (the link works once, for one day):\n{link}\n",
            member.name, tenant.name
        ),
        html: format!(
            "<p>Hello {},</p><p>an administrator of <b>{}</b> asked for your password to be reset.</p><p><a href=\"{}\">Choose a new password</a> (the link works once, for one day).</p>",
            html_escape(&member.name),
            html_escape(&tenant.name),
            html_escape(link)
        ),
    }
}
