//! The invitation mail and the tenant's (or department's) look that Roster's mails to joining
//! people share.

use super::invitation::Invitation;
use super::invitation::InvitationLinks;
use crate::app::App;
use crate::auth::Caller;
use crate::mail::{Mail, html_escape};
use crate::model::department::Department;
use crate::model::tenant::{Branding, Tenant};
use crate::model::time::rfc3339;
use crate::sms::Sms;

pub fn invitation_link(app: &App, token: &str) -> String {
    format!("{}/invitations/accept?token={token}", app.config.app_url)
}

/// The department's branding when it overrides the tenant's.
pub(crate) fn branding_for(tenant: &Tenant, department: Option<&Department>) -> Branding {
    department
        .and_then(|d| d.settings.branding.clone())
        .unwrap_or_else(|| tenant.settings.branding.clone())
}

/// A mail in the tenant's (or department's) colours and logo.
pub(crate) fn branded_html(branding: &Branding, body: &str) -> String {
    let color = branding.primary_color.as_deref().unwrap_or("#1f4e79");
    let logo = branding
        .logo_url
        .as_deref()
        .map(|url| {
            format!(
                "<p><img src=\"{}\" alt=\"\" style=\"max-height:48px\"></p>",
                html_escape(url)
            )
        })
        .unwrap_or_default();
    format!(
        "<div style=\"font-family:sans-serif;border-top:4px solid {};padding:16px\">{logo}{body}</div>",
        html_escape(color)
    )
}

/// Sends the mailed link to the invitation's email and the texted link to its phone (either or
/// both); a failure is logged, not returned: the invitation stands and can be resent.
pub(super) async fn send_invitation_mail(
    app: &App,
    tenant: &Tenant,
    department: &Department,
    invitation: &Invitation,
    links: &InvitationLinks,
    inviter: &Caller,
) {
    let inviter_name = inviter
        .member()
        .map(|m| m.name.clone())
        .unwrap_or_else(|| format!("The {} team", tenant.name));
    if let (Some(phone), Some(token)) = (&invitation.phone, &links.texted) {
        let link = invitation_link(app, token);
        let sms = Sms {
            to: phone.clone(),
            body: format!(
                "{inviter_name} invites you to join {} on Roster. The link works once, until {}: {link}",
                tenant.name,
                rfc3339(invitation.expires_at)
            ),
        };
        if let Err(err) = app.sms().send(sms).await {
            tracing::error!(invitation = %invitation.id, error = %err, "invitation text message failed");
        }
    }
    let Some(token) = &links.mailed else {
        return;
    };
    let link = invitation_link(app, token);
    let greeting = invitation
        .name
        .as_deref()
        .map(|n| format!("Hello {n},"))
        .unwrap_or_else(|| "Hello,".into());
    let expires = rfc3339(invitation.expires_at);
    let branding = branding_for(tenant, Some(department));
    let text = format!(
        "{greeting}\n\n{inviter_name} invites you to join {tenant} ({department}) on Roster.\nAccept the invitation (the link works once, until {expires}):\n{link}\n",
        tenant = tenant.name,
        department = department.name,
    );
    let color = branding.primary_color.clone().unwrap_or("#1f4e79".into());
    let body = format!(
        "<p>{greeting}</p><p>{inviter} invites you to join <b>{tenant}</b> ({department}) on Roster.</p>\
         <p><a href=\"{link}\" style=\"background:{color};color:#fff;padding:8px 16px;text-decoration:none\">Accept the invitation</a></p>\
         <p>The link works once, until {expires}.</p>",
        greeting = html_escape(&greeting),
        inviter = html_escape(&inviter_name),
        tenant = html_escape(&tenant.name),
        department = html_escape(&department.name),
        link = html_escape(&link),
        color = html_escape(&color),
    );
    let mail = Mail {
        to: invitation.email.clone(),
        subject: format!("You are invited to join {} on Roster", tenant.name),
        text,
        html: branded_html(&branding, &body),
    };
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(invitation = %invitation.id, error = %err, "invitation mail failed");
    }
}
