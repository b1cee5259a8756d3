//! The mail a new tenant's owner receives.

use crate::app::App;
use crate::mail::{Mail, html_escape};
use crate::model::tenant::Tenant;
use crate::users::password_link;

/// Mails the owner: a set-password link (`token`), or, for an account that needs none, the
/// sign-in page. A failed mail is logged, not answered: the tenant exists, and the owner can ask
/// for a reset mail; losing the whole request would be worse than a missing mail.
pub(super) async fn send_owner_mail(
    app: &App,
    tenant: &Tenant,
    email: &str,
    name: &str,
    token: Option<&str>,
) {
    let mail = owner_mail(app, tenant, email, name, token);
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(tenant = %tenant.id, error = %err, "owner mail failed");
    }
}

fn owner_mail(app: &App, tenant: &Tenant, email: &str, name: &str, token: Option<&str>) -> Mail {
    let (action, link) = match token {
        Some(token) => ("Set your password to sign in", password_link(app, token)),
        None => (
            "Sign in with your existing account",
            format!("{}/login", app.config.app_url),
        ),
    };
    let text = format!(
        "Hello {name},\n\nyou are now the owner of {tenant} on Roster.\n{action}:\n{link}\n",
        tenant = tenant.name
    );
    let html = format!(
        "<p>Hello {name},</p><p>you are now the owner of <b>{tenant}</b> on Roster.</p><p><a href=\"{link}\">{action}</a></p>",
        name = html_escape(name),
        tenant = html_escape(&tenant.name),
        link = html_escape(&link),
    );
    Mail {
        to: email.into(),
        subject: format!("You are the owner of {} on Roster", tenant.name),
        text,
        html,
    }
}
