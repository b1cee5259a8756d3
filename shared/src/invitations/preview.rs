//! Opening an invitation link, and the public preview behind it.

use super::admission::open_token;
use super::invitation::Invitation;
use super::invitation::InvitationStatus;
use super::mail::branding_for;
use crate::app::App;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::roles::Role;
use crate::model::tenant::{Branding, Tenant};
use crate::model::user::{EmailGuard, StoredToken, TokenPurpose};
use crate::store::from_item;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// An invitation link as opened: what its token names, its hash and where it was sent.
pub(super) struct OpenedLink {
    pub(super) tenant_id: Uuid,
    pub(super) invitation_id: Uuid,
    pub(super) hash: String,
    pub(super) token: StoredToken,
}

/// The tenant and invitation a link's token opens. Unknown tokens are 404; whether the link
/// still works is [`live`]'s answer.
pub(super) async fn open_link(app: &App, token: &str) -> ApiResult<OpenedLink> {
    let hash = crypto::token_hash(token);
    let (tenant_id, invitation_id, token) =
        open_token(app, &hash, TokenPurpose::Invitation).await?;
    Ok(OpenedLink {
        tenant_id,
        invitation_id,
        hash,
        token,
    })
}

/// Whether the link (its token's `hash`) is still the invitation's live link: spent, cancelled or
/// replaced links are 410 `invitation_used`, expired ones 410 `invitation_expired`.
pub(super) fn live(invitation: &Invitation, hash: &str, now: OffsetDateTime) -> ApiResult<()> {
    if invitation.status != InvitationStatus::Pending || !invitation.has_link(hash) {
        return Err(ApiError::InvitationUsed);
    }
    if invitation.expires_at <= now {
        return Err(ApiError::InvitationExpired);
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct InvitationPreview {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub department_name: Option<String>,
    /// Absent for an invitation by phone only (a new person then gives one).
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub role: Role,
    /// Whether the email already has an account (then: sign in and accept).
    pub account_exists: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub branding: Branding,
}

/// The public preview behind a link: enough for the accept page, nothing more.
pub async fn preview(app: &App, token: &str) -> ApiResult<InvitationPreview> {
    let OpenedLink {
        tenant_id,
        invitation_id,
        hash,
        ..
    } = open_link(app, token).await?;
    let items = app
        .store
        .get_many(&[
            Key::invitation(tenant_id, invitation_id),
            Key::tenant(tenant_id),
        ])
        .await?;
    let mut items = items.into_iter();
    let invitation: Invitation = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let tenant =
        from_item::<Tenant>(items.next().flatten().ok_or(ApiError::NotFound)?)?.reachable()?;
    live(&invitation, &hash, app.now())?;
    let more = app
        .store
        .get_many(&[
            Key::department(tenant_id, invitation.department_id),
            Key::email(&invitation.email),
        ])
        .await?;
    let mut more = more.into_iter();
    let department: Option<Department> = more.next().flatten().map(from_item).transpose()?;
    // An account nobody proved is taken over by the invitee like a new one: the page asks for a
    // name and password, not a sign-in.
    let account_exists = more
        .next()
        .flatten()
        .map(from_item::<EmailGuard>)
        .transpose()?
        .is_some_and(|g| g.verified);
    Ok(InvitationPreview {
        tenant_id,
        tenant_name: tenant.name.clone(),
        department_name: department.as_ref().map(|d| d.name.clone()),
        email: (!invitation.by_phone_only()).then(|| invitation.email.clone()),
        phone: invitation.phone.clone(),
        name: invitation.name.clone(),
        role: invitation.role,
        account_exists,
        expires_at: invitation.expires_at,
        branding: branding_for(&tenant, department.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitations::invitation::fixtures::{NOW, invitation, tenant};

    fn refusal(invitation: &Invitation, hash: &str, now: OffsetDateTime) -> Option<&'static str> {
        live(invitation, hash, now).err().map(|e| e.code())
    }

    #[test]
    fn the_current_link_of_a_pending_invitation_works_until_its_expiry() {
        let i = invitation(&tenant());
        assert_eq!(refusal(&i, &i.token_hash, NOW), None);
        let at_expiry = i.expires_at;
        assert_eq!(
            refusal(&i, &i.token_hash, at_expiry),
            Some("invitation_expired")
        );
    }

    #[test]
    fn a_replaced_link_is_used() {
        let i = invitation(&tenant());
        assert_eq!(refusal(&i, "an older hash", NOW), Some("invitation_used"));
    }

    #[test]
    fn accepted_or_cancelled_invitations_are_used_even_once_expired() {
        let mut i = invitation(&tenant());
        let later = i.expires_at + time::Duration::days(1);
        for status in [InvitationStatus::Accepted, InvitationStatus::Revoked] {
            i.status = status;
            assert_eq!(refusal(&i, &i.token_hash, NOW), Some("invitation_used"));
            assert_eq!(refusal(&i, &i.token_hash, later), Some("invitation_used"));
        }
    }
}
