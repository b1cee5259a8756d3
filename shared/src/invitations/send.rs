//! Sending an invitation: who may invite, the refusals, the place it holds in the member quota,
//! and the items it is stored as.

use super::admission::refuse_standing;
use super::invitation::{Invitation, InvitationStatus, InvitationView};
use super::invitation::{
    InvitationGuard, InvitationLinks, add_tokens, hold_quota_place, link_expiry, place_given_up,
};
use super::mail::send_invitation_mail;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, CallerKind, Need, Requester, authorize_with_tenant};
use crate::config::SmsPolicy;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::limits::count_text;
use crate::members::quota_exceeded;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::Tenant;
use crate::model::user::EmailGuard;
use crate::store::{Batch, Condition, Item, Transaction, from_item, num};
use crate::validate;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// The invitee's email, or `phone`, or both.
    #[serde(default)]
    pub email: Option<String>,
    /// E.164: the link also goes by text message.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub department_id: Uuid,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

/// An invitation to send, validated.
pub(crate) struct Draft {
    /// Empty for an invitation by phone only.
    pub email: String,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub position: Option<String>,
    pub role: Role,
    pub permissions: Permissions,
}

impl Draft {
    /// The key of the invitee's live-invitation guard.
    pub(crate) fn guard_key(&self, tenant_id: Uuid) -> Key {
        super::invitation::invitee_guard(tenant_id, &self.email, self.phone.as_deref())
    }
}

/// Who may invite: holders of `invitations.write`, and members when the tenant lets them.
pub(super) fn may_invite(access: &Access, tenant: &Tenant) -> bool {
    access.allows(Permission::InvitationsWrite)
        || (tenant.settings.join_rules.members_may_invite
            && access
                .caller
                .member()
                .is_some_and(|m| m.role == Role::Member))
}

/// Owners, admins, operators and API clients invite "as admins": their invitations join directly.
pub(crate) fn is_admin(access: &Access) -> bool {
    match &access.caller.kind {
        CallerKind::Platform | CallerKind::ApiClient(_) => true,
        CallerKind::Member(m) => access.via_reseller || m.role != Role::Member,
        CallerKind::Job { for_admin } => *for_admin,
        CallerKind::Scim(_) | CallerKind::User | CallerKind::System => false,
    }
}

/// The invitation the body asks for, validated.
fn check_draft(input: &CreateInvitation, sms: &SmsPolicy) -> ApiResult<Draft> {
    let mut checks = Checks::new();
    let email = match (&input.email, &input.phone) {
        (Some(email), _) => validate::email(&mut checks, "email", email),
        (None, Some(_)) => String::new(),
        (None, None) => {
            checks.fail("email", "an invitation needs an email or a phone");
            String::new()
        }
    };
    let phone = input
        .phone
        .as_deref()
        .map(|p| validate::mobile(&mut checks, "phone", p, sms));
    let name = validate::optional_text(
        &mut checks,
        "name",
        input.name.as_deref(),
        validate::MAX_NAME,
    );
    let position = validate::optional_text(
        &mut checks,
        "position",
        input.position.as_deref(),
        validate::MAX_SHORT_TEXT,
    );
    let (role, permissions) =
        crate::members::role_and_permissions(&mut checks, input.role, input.permissions.clone());
    checks.finish()?;
    Ok(Draft {
        email,
        phone,
        name,
        position,
        role,
        permissions,
    })
}

/// Sends an invitation: validates, refuses people who already stand in the tenant, holds a
/// place in the quota, stores the invitation and its link's hash, and mails the link.
pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateInvitation,
) -> ApiResult<InvitationView> {
    let draft = check_draft(&input, &app.config.sms)?;
    let mut batch = Batch::new();
    let department = batch.read::<Department>(Key::department(tenant_id, input.department_id));
    let guard = batch.read_item(draft.guard_key(tenant_id));
    // By phone only, no account can be looked up before someone accepts.
    let account =
        (!draft.email.is_empty()).then(|| batch.read::<EmailGuard>(Key::email(&draft.email)));
    let (access, tenant, mut read) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, batch).await?;
    if !may_invite(&access, &tenant) {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    if !crate::members::may_grant(&access, draft.role, &draft.permissions) {
        return Err(ApiError::Forbidden(
            "a caller cannot grant a role or permissions it does not hold",
        ));
    }
    let Some(department) = read.take(department)? else {
        return Err(ApiError::invalid(
            "department_id",
            "is not a department of this tenant",
        ));
    };
    let guard = read.take_item(guard);
    let account = match account {
        Some(slot) => read.take(slot)?,
        None => None,
    };
    let tx = Transaction::new();
    send(
        app,
        &access,
        &tenant,
        &department,
        draft,
        account,
        guard,
        tx,
        true,
    )
    .await
}

/// Sends an invitation whose email's account and live-invitation guard were read: refusals,
/// the quota place, the transaction (starting with `tx`) and, when `mail`, the mail.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    department: &Department,
    draft: Draft,
    account: Option<EmailGuard>,
    guard: Option<Item>,
    mut tx: Transaction,
    mail: bool,
) -> ApiResult<InvitationView> {
    let guard: Option<InvitationGuard> = guard.map(from_item).transpose()?;
    let now = app.now();
    if let Some(account) = &account {
        refuse_standing(app, tenant.id, account.user_id, now).await?;
    }
    // An expired invitation may still hold a place in the quota (the expiry job had not run
    // yet): read it, so its replacement can take the place over.
    let replaced = match expired_invitation(guard.as_ref(), now)? {
        Some(id) => app
            .store
            .get(&Key::invitation(tenant.id, id))
            .await?
            .map(from_item::<Invitation>)
            .transpose()?,
        None => None,
    };
    let links = InvitationLinks::new(&draft.email, draft.phone.as_deref());
    let sender = Sender {
        user_id: access.caller.user_id,
        is_admin: is_admin(access),
    };
    let new = plan_invitation(
        tenant,
        department,
        draft,
        sender,
        replaced.as_ref(),
        &links,
        now,
    )?;
    let view = add_invitation(app, &mut tx, access, tenant, &new, &links, now)?;
    if let (Some(phone), true) = (&new.invitation.phone, mail) {
        count_text(app, tenant, phone).await?;
    }
    app.store.transact(tx).await?;
    if mail {
        let invitation = &new.invitation;
        send_invitation_mail(app, tenant, department, invitation, &links, &access.caller).await;
    }
    Ok(view)
}

/// What the email's guard says about a new invitation: a live invitation is answered with its
/// id; an expired one (named here) is replaced.
fn expired_invitation(
    guard: Option<&InvitationGuard>,
    now: OffsetDateTime,
) -> ApiResult<Option<Uuid>> {
    match guard {
        Some(live) if live.is_live(now) => Err(ApiError::InvitationPending {
            invitation_id: live.invitation_id,
        }),
        Some(expired) => Ok(Some(expired.invitation_id)),
        None => Ok(None),
    }
}

/// Who sends an invitation.
#[derive(Clone, Copy)]
struct Sender {
    user_id: Uuid,
    is_admin: bool,
}

/// A new invitation, and the expired one whose place in the quota it takes over (if any).
struct NewInvitation<'a> {
    invitation: Invitation,
    takes_place_of: Option<&'a Invitation>,
}

/// The invitation to store, or the quota refusal: a new invitation needs a free place unless
/// the expired one it replaces still holds one.
fn plan_invitation<'a>(
    tenant: &Tenant,
    department: &Department,
    draft: Draft,
    sender: Sender,
    replaced: Option<&'a Invitation>,
    links: &InvitationLinks,
    now: OffsetDateTime,
) -> ApiResult<NewInvitation<'a>> {
    let takes_place_of = replaced.filter(|r| r.holds_quota);
    if takes_place_of.is_none() && tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(tenant));
    }
    let expires_at = link_expiry(tenant, now);
    let mut invitation = Invitation {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        email: draft.email,
        phone: draft.phone,
        name: draft.name,
        department_id: department.id,
        position: draft.position,
        role: draft.role,
        permissions: draft.permissions,
        status: InvitationStatus::Pending,
        invited_by: sender.user_id,
        invited_by_admin: sender.is_admin,
        token_hash: String::new(),
        text_token_hash: None,
        expires_at,
        expires_epoch: expires_at.unix_timestamp(),
        holds_quota: true,
        sent_count: 1,
        last_sent_at: now,
        accepted_at: None,
        member_id: None,
        revoked_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    invitation.use_links(links);
    Ok(NewInvitation {
        invitation,
        takes_place_of,
    })
}

/// The new invitation's guard, item and token, its place in the quota (taken over or taken),
/// the department check and the audit entry.
fn add_invitation(
    app: &App,
    tx: &mut Transaction,
    access: &Access,
    tenant: &Tenant,
    new: &NewInvitation<'_>,
    links: &InvitationLinks,
    now: OffsetDateTime,
) -> ApiResult<InvitationView> {
    let invitation = &new.invitation;
    let tenant_id = invitation.tenant_id;
    tx.put(
        invitation.guard_item()?,
        Some((
            Condition::new("attribute_not_exists(pk) OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            ApiError::Conflict("an invitation for this email was sent at the same time".into()),
        )),
    )?;
    tx.put(
        invitation.to_item()?,
        Some((
            Condition::absent(),
            ApiError::internal("invitation id collision"),
        )),
    )?;
    add_tokens(tx, invitation, links)?;
    match new.takes_place_of {
        Some(old) => hand_over_place(tx, old, now)?,
        None => hold_quota_place(tx, tenant)?,
    }
    tx.check(
        &Key::department(tenant_id, invitation.department_id),
        Condition::exists(),
        ApiError::invalid("department_id", "is not a department of this tenant"),
    )?;
    let view = invitation.view(now);
    audit::record(
        app,
        tx,
        &access.caller,
        Change {
            tenant_id,
            action: "invitation.create",
            target_type: "invitation",
            target_id: invitation.id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    let mut happened = match new.takes_place_of {
        Some(old) => old.expired_unrecorded(now)?,
        None => Vec::new(),
    };
    let created = serde_json::to_value(&view).map_err(ApiError::internal)?;
    happened.push((EventType::InvitationCreated, created));
    events::record_many(app, tx, &access.caller, tenant_id, happened)?;
    Ok(view)
}

/// The expired invitation hands its place in the quota to the new one.
fn hand_over_place(tx: &mut Transaction, old: &Invitation, now: OffsetDateTime) -> ApiResult<()> {
    tx.update(
        &old.key(),
        place_given_up(now),
        Some((
            Condition::new("holds_quota = :true").value(":true", AttributeValue::Bool(true)),
            ApiError::Conflict("the invitation changed at the same time; retry".into()),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitations::invitation::fixtures::{NOW, invitation, root, tenant};

    fn draft() -> Draft {
        Draft {
            email: "grace@example.com".into(),
            phone: None,
            name: None,
            position: None,
            role: Role::Member,
            permissions: Permissions::none(),
        }
    }

    fn mailed(token: &str) -> InvitationLinks {
        InvitationLinks {
            mailed: Some(token.into()),
            texted: None,
        }
    }

    const MEMBER: Sender = Sender {
        user_id: Uuid::nil(),
        is_admin: false,
    };

    fn full(mut tenant: Tenant) -> Tenant {
        tenant.quota_used = tenant.member_quota;
        tenant
    }

    #[test]
    fn a_live_invitation_is_answered_with_its_id() {
        let id = Uuid::now_v7();
        let live = InvitationGuard {
            invitation_id: id,
            ttl: NOW.unix_timestamp() + 1,
        };
        match expired_invitation(Some(&live), NOW) {
            Err(ApiError::InvitationPending { invitation_id }) => assert_eq!(invitation_id, id),
            other => panic!("a live invitation was not refused: {other:?}"),
        }
    }

    #[test]
    fn an_expired_invitation_is_replaced() {
        let id = Uuid::now_v7();
        let expired = InvitationGuard {
            invitation_id: id,
            ttl: NOW.unix_timestamp(),
        };
        assert_eq!(expired_invitation(Some(&expired), NOW).ok(), Some(Some(id)));
        assert_eq!(expired_invitation(None, NOW).ok(), Some(None));
    }

    #[test]
    fn a_new_invitation_needs_a_free_place_in_the_quota() {
        let t = full(tenant());
        let refused = plan_invitation(&t, &root(&t), draft(), MEMBER, None, &mailed("tok"), NOW);
        assert_eq!(refused.err().map(|e| e.code()), Some("quota_exceeded"));
    }

    #[test]
    fn an_expired_invitation_still_holding_a_place_hands_it_over() {
        let t = full(tenant());
        let old = invitation(&t);
        let new = plan_invitation(
            &t,
            &root(&t),
            draft(),
            MEMBER,
            Some(&old),
            &mailed("tok"),
            NOW,
        )
        .expect("the old place is taken over");
        assert_eq!(new.takes_place_of.map(|o| o.id), Some(old.id));

        let mut released = invitation(&t);
        released.holds_quota = false;
        let refused = plan_invitation(
            &t,
            &root(&t),
            draft(),
            MEMBER,
            Some(&released),
            &mailed("tok"),
            NOW,
        );
        assert_eq!(refused.err().map(|e| e.code()), Some("quota_exceeded"));
    }

    #[test]
    fn a_new_invitation_is_pending_holds_a_place_and_remembers_its_sender() {
        let mut t = tenant();
        t.settings.invitation_expiry_days = 2;
        let new = plan_invitation(&t, &root(&t), draft(), MEMBER, None, &mailed("tok"), NOW)
            .expect("a free place");
        let i = new.invitation;
        assert!(new.takes_place_of.is_none());
        assert_eq!(i.status, InvitationStatus::Pending);
        assert!(i.holds_quota);
        assert!(!i.invited_by_admin);
        assert_eq!(i.invited_by, MEMBER.user_id);
        assert_eq!(i.token_hash, crate::crypto::token_hash("tok"));
        assert_eq!(i.text_token_hash, None);
        assert_eq!(i.expires_at, NOW + time::Duration::days(2));
        assert_eq!(i.expires_epoch, i.expires_at.unix_timestamp());
        assert_eq!((i.sent_count, i.version), (1, 1));
    }

    fn input(email: Option<&str>, phone: Option<&str>) -> CreateInvitation {
        CreateInvitation {
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            name: None,
            department_id: Uuid::nil(),
            position: None,
            role: None,
            permissions: None,
        }
    }

    #[test]
    fn a_draft_needs_a_valid_email_or_phone() {
        for bad in [
            input(Some("not an address"), None),
            input(None, None),
            input(None, Some("07700 900123")),
            input(Some("grace@example.com"), Some("+0123456789")),
            // Ofcom's range for drama: well formed, but no mobile answers it.
            input(None, Some("+447700900123")),
            // A landline cannot take a text.
            input(None, Some("+442079460123")),
        ] {
            assert_eq!(
                check_draft(&bad, &SmsPolicy::default())
                    .err()
                    .map(|e| e.code()),
                Some("validation_failed")
            );
        }
        let by_phone = check_draft(
            &input(None, Some("+44 7711 900-123")),
            &SmsPolicy::default(),
        )
        .expect("valid");
        assert_eq!(
            (by_phone.email.as_str(), by_phone.phone.as_deref()),
            ("", Some("+447711900123"))
        );
        let t = Uuid::from_u128(1);
        assert_eq!(
            by_phone.guard_key(t),
            Key::invitation_phone(t, "+447711900123")
        );
        let both = check_draft(
            &input(Some("Grace@Example.com"), Some("+447711900123")),
            &SmsPolicy::default(),
        )
        .expect("valid");
        assert_eq!(
            both.guard_key(t),
            Key::invitation_email(t, "grace@example.com")
        );
    }
}
