//! Invitations by email: an admin (or, when the tenant allows it, a member) invites a person into
//! a department with a role; the person follows the mailed link, signs in or creates an account,
//! and joins — directly, or as a pending join request when the tenant's join rules want approval
//! for invitations sent by non-admins.
//!
//! Rules that hold under concurrency:
//! - one live invitation per email per tenant: the `INVITEEMAIL#` guard, created with the
//!   invitation, expires with it;
//! - a pending invitation holds a place in the member quota (`quota_used`) from the moment it is
//!   sent until it is accepted, cancelled, or expires (the invitation-expiry job gives the place
//!   back), so accepting can never overrun the quota;
//! - a link works once: accepting moves the invitation out of `pending` under a condition on its
//!   status and current token hash, in the same transaction that creates the member; a resend
//!   replaces the token hash, so older links stop working.

pub mod expiry;

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Access, Caller, CallerKind, Need, authenticate_person, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::mail::{Mail, html_escape};
use crate::members::{MemberView, quota_exceeded};
use crate::model::department::Department;
use crate::model::keys::{GSI3, GSI4, INVITATION_EXPIRY_QUEUE, Key, invitations_partition};
use crate::model::member::{
    JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus, Person, UserInTenant,
};
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::{Branding, Tenant};
use crate::model::time::{rfc3339, whole_seconds};
use crate::model::user::{EmailGuard, StoredToken, TokenPurpose, User};
use crate::model::{List, PageParams};
use crate::store::{Condition, Item, Query, SortRange, Transaction, from_item, num, s, to_item};
use crate::users::member_of;
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What is stored: `expired` is not a stored state but a pending invitation past its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    fn word(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Lowercase.
    pub email: String,
    pub name: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub role: Role,
    pub permissions: Permissions,
    /// pending, accepted or revoked (never `expired`: that is read from `expires_at`).
    pub status: InvitationStatus,
    pub invited_by: Uuid,
    /// Sent by an owner, admin, operator or API client: joins directly whatever the join rules.
    pub invited_by_admin: bool,
    /// SHA-256 of the current link's token; a resend replaces it.
    pub token_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub expires_epoch: i64,
    /// Whether the invitation still counts in the tenant's `quota_used` and `invitation_count`.
    pub holds_quota: bool,
    pub sent_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub member_id: Option<Uuid>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// The guard keeping one live invitation per email per tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InvitationGuard {
    invitation_id: Uuid,
    /// The invitation's expiry: an expired guard no longer blocks a new invitation.
    ttl: i64,
}

/// The bound that splits a pending partition into expired (below) and live (above) at `now`.
fn now_bound(now: OffsetDateTime) -> String {
    format!("{}#~", rfc3339(whole_seconds(now)))
}

impl Invitation {
    fn key(&self) -> Key {
        Key::invitation(self.tenant_id, self.id)
    }

    /// The status clients see.
    pub fn status_at(&self, now: OffsetDateTime) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if self.expires_at <= now => InvitationStatus::Expired,
            other => other,
        }
    }

    fn to_item(&self) -> ApiResult<Item> {
        let mut extra = vec![(
            GSI3.pk,
            invitations_partition(self.tenant_id, self.status.word()),
        )];
        if self.status == InvitationStatus::Pending {
            extra.push((GSI3.sk, format!("{}#{}", rfc3339(self.expires_at), self.id)));
        } else {
            extra.push((GSI3.sk, self.id.to_string()));
        }
        if self.holds_quota {
            extra.push((GSI4.pk, INVITATION_EXPIRY_QUEUE.to_string()));
            extra.push((GSI4.sk, expiry_position(self)));
        }
        to_item(self, &self.key(), &extra)
    }

    /// The stored invitation without the link's hash.
    pub fn view(&self, now: OffsetDateTime) -> InvitationView {
        InvitationView {
            id: self.id,
            tenant_id: self.tenant_id,
            email: self.email.clone(),
            name: self.name.clone(),
            department_id: self.department_id,
            position: self.position.clone(),
            role: self.role,
            permissions: self.permissions.clone(),
            status: self.status_at(now),
            invited_by: self.invited_by,
            needs_approval_if_rules_say_so: !self.invited_by_admin,
            expires_at: self.expires_at,
            sent_count: self.sent_count,
            last_sent_at: self.last_sent_at,
            accepted_at: self.accepted_at,
            member_id: self.member_id,
            revoked_at: self.revoked_at,
            created_at: self.created_at,
        }
    }
}

fn expiry_position(invitation: &Invitation) -> String {
    format!(
        "{}#{}#{}",
        rfc3339(invitation.expires_at),
        invitation.tenant_id,
        invitation.id
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub role: Role,
    pub permissions: Permissions,
    pub status: InvitationStatus,
    pub invited_by: Uuid,
    /// Sent by a non-admin: joins as a pending request while the tenant's join rules ask for
    /// approval of such invitations.
    #[serde(rename = "sent_by_non_admin")]
    pub needs_approval_if_rules_say_so: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub sent_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    pub member_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
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

/// Who may invite: holders of `invitations.write`, and members when the tenant lets them.
fn may_invite(access: &Access, tenant: &Tenant) -> bool {
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
        CallerKind::User | CallerKind::System => false,
    }
}

/// Where the person stands in the tenant already, as the refusal an invitation or a join request
/// gets. Members whose recycle-bin retention has ended no longer count.
pub(crate) fn standing_refusal(member: Option<&Member>, now: OffsetDateTime) -> Option<ApiError> {
    let member = member?;
    match member.status {
        MemberStatus::Active | MemberStatus::Disabled => Some(ApiError::AlreadyMember),
        MemberStatus::Pending => Some(ApiError::JoinRequestPending),
        MemberStatus::Rejected => Some(ApiError::PreviouslyRejected),
        MemberStatus::Deleted if member.purge_at.is_some_and(|p| p > now) => {
            Some(ApiError::PreviouslyRemoved)
        }
        MemberStatus::Deleted => None,
    }
}

/// Sends an invitation: validates, refuses people who already stand in the tenant, holds a
/// place in the quota, stores the invitation and its link's hash, and mails the link.
pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateInvitation,
) -> ApiResult<InvitationView> {
    let mut checks = Checks::new();
    let email = validate::email(&mut checks, "email", &input.email);
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

    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Member,
        &[
            Key::department(tenant_id, input.department_id),
            Key::email(&email),
            Key::invitation_email(tenant_id, &email),
        ],
    )
    .await?;
    if !may_invite(&access, &tenant) {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    if !crate::members::may_grant(&access, role, &permissions) {
        return Err(ApiError::Forbidden(
            "a caller cannot grant a role or permissions it does not hold",
        ));
    }
    let mut items = items.into_iter();
    let department: Department = match items.next().flatten() {
        Some(item) => from_item(item)?,
        None => {
            return Err(ApiError::invalid(
                "department_id",
                "is not a department of this tenant",
            ));
        }
    };
    let account: Option<EmailGuard> = items.next().flatten().map(from_item).transpose()?;
    let guard = items.next().flatten();
    let draft = Draft {
        email,
        name,
        position,
        role,
        permissions,
    };
    send(
        app,
        &access,
        &tenant,
        &department,
        draft,
        account,
        guard,
        Transaction::new(),
        true,
    )
    .await
}

/// An invitation to send, validated.
pub(crate) struct Draft {
    pub email: String,
    pub name: Option<String>,
    pub position: Option<String>,
    pub role: Role,
    pub permissions: Permissions,
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
    guard: Option<crate::store::Item>,
    mut tx: Transaction,
    mail: bool,
) -> ApiResult<InvitationView> {
    let tenant_id = tenant.id;
    let guard: Option<InvitationGuard> = guard.map(from_item).transpose()?;
    let Draft {
        email,
        name,
        position,
        role,
        permissions,
    } = draft;
    let now = app.now();

    if let Some(account) = &account
        && let Some(refusal) = standing_refusal(
            member_of(app, tenant_id, account.user_id).await?.as_ref(),
            now,
        )
    {
        return Err(refusal);
    }
    // A live invitation is answered with its id; an expired one is replaced.
    let replaced = match guard {
        Some(live) if live.ttl > now.unix_timestamp() => {
            return Err(ApiError::InvitationPending {
                invitation_id: live.invitation_id,
            });
        }
        // An expired invitation may still hold a place in the quota (the expiry job had not
        // run yet); its replacement takes the place over.
        Some(expired) => app
            .store
            .get(&Key::invitation(tenant_id, expired.invitation_id))
            .await?
            .map(from_item::<Invitation>)
            .transpose()?,
        None => None,
    };
    let takes_over_place = replaced.as_ref().is_some_and(|r| r.holds_quota);
    if !takes_over_place && tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(tenant));
    }

    let token = crypto::new_token();
    let expires_at = whole_seconds(
        now + time::Duration::days(i64::from(tenant.settings.invitation_expiry_days)),
    );
    let invitation = Invitation {
        id: Uuid::now_v7(),
        tenant_id,
        email: email.clone(),
        name,
        department_id: department.id,
        position,
        role,
        permissions,
        status: InvitationStatus::Pending,
        invited_by: access.caller.user_id,
        invited_by_admin: is_admin(access),
        token_hash: crypto::token_hash(&token),
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

    tx.put(
        app.table(),
        to_item(
            &InvitationGuard {
                invitation_id: invitation.id,
                ttl: invitation.expires_epoch,
            },
            &Key::invitation_email(tenant_id, &email),
            &[],
        )?,
        Some((
            Condition::new("attribute_not_exists(pk) OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            ApiError::Conflict("an invitation for this email was sent at the same time".into()),
        )),
    )?;
    tx.put(
        app.table(),
        invitation.to_item()?,
        Some((
            Condition::absent(),
            ApiError::internal("invitation id collision"),
        )),
    )?;
    add_token(app, &mut tx, &invitation, &token)?;
    if let Some(old) = replaced.as_ref().filter(|r| r.holds_quota) {
        // The expired invitation hands its place in the quota to the new one.
        tx.update(
            app.table(),
            &old.key(),
            Condition::new("SET holds_quota = :false, updated_at = :now REMOVE gsi4pk, gsi4sk")
                .value(
                    ":false",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(false),
                )
                .value(":now", s(rfc3339(now))),
            Some((
                Condition::new("holds_quota = :true")
                    .value(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true)),
                ApiError::Conflict("the invitation changed at the same time; retry".into()),
            )),
        )?;
    } else {
        tx.update(
            app.table(),
            &Key::tenant(tenant_id),
            Condition::new("ADD invitation_count :one, quota_used :one").value(":one", num(1)),
            Some((
                Condition::new("quota_used < member_quota"),
                quota_exceeded(tenant),
            )),
        )?;
    }
    tx.check(
        app.table(),
        &Key::department(tenant_id, department.id),
        Condition::exists(),
        ApiError::invalid("department_id", "is not a department of this tenant"),
    )?;
    let view = invitation.view(now);
    audit::record(
        app,
        &mut tx,
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
    app.store.transact(tx).await?;
    if mail {
        send_invitation_mail(app, tenant, department, &invitation, &token, &access.caller).await;
    }
    Ok(view)
}

/// The link's token item: it names the invitation and lives 30 days past the expiry, so an
/// expired link is answered "expired" rather than "unknown".
fn add_token(
    app: &App,
    tx: &mut Transaction,
    invitation: &Invitation,
    token: &str,
) -> ApiResult<()> {
    let stored = StoredToken {
        purpose: TokenPurpose::Invitation,
        user_id: None,
        tenant_id: Some(invitation.tenant_id),
        target_id: Some(invitation.id),
        expires_at: Some(invitation.expires_at),
        ttl: Some(invitation.expires_epoch + 30 * 24 * 3600),
        session_epoch: None,
        email: None,
    };
    tx.put(
        app.table(),
        to_item(&stored, &Key::token(&crypto::token_hash(token)), &[])?,
        Some((Condition::absent(), ApiError::internal("token collision"))),
    )
}

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

async fn send_invitation_mail(
    app: &App,
    tenant: &Tenant,
    department: &Department,
    invitation: &Invitation,
    token: &str,
    inviter: &Caller,
) {
    let link = invitation_link(app, token);
    let inviter_name = inviter
        .member()
        .map(|m| m.name.clone())
        .unwrap_or_else(|| format!("The {} team", tenant.name));
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
        // The invitation stands; the admin can resend it.
        tracing::error!(invitation = %invitation.id, error = %err, "invitation mail failed");
    }
}

/// The "inactivated" list and its neighbours: `status` pending (default: live invitations,
/// soonest expiry first), expired, accepted or revoked (newest first). One index query.
pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    status: Option<String>,
    page: PageParams,
) -> ApiResult<List<InvitationView>> {
    let status = match status.as_deref() {
        None | Some("pending") => InvitationStatus::Pending,
        Some("expired") => InvitationStatus::Expired,
        Some("accepted") => InvitationStatus::Accepted,
        Some("revoked") => InvitationStatus::Revoked,
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "must be pending, expired, accepted or revoked",
            ));
        }
    };
    let (access, tenant, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, &[]).await?;
    if !may_invite(&access, &tenant) {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    let now = app.now();
    let pending = invitations_partition(tenant_id, "pending");
    let query = match status {
        InvitationStatus::Pending => Query::new(
            Some(GSI3),
            pending,
            SortRange::Between(now_bound(now), "~".into()),
        ),
        InvitationStatus::Expired => {
            let mut q = Query::new(
                Some(GSI3),
                pending,
                SortRange::Between("0".into(), now_bound(now)),
            );
            q.newest_first = true;
            q
        }
        other => {
            let mut q = Query::new(
                Some(GSI3),
                invitations_partition(tenant_id, other.word()),
                SortRange::All,
            );
            q.newest_first = true;
            q
        }
    }
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|i: Invitation| i.view(now))
}

/// Reads an invitation of the tenant for resend/cancel, with the caller cleared to manage it:
/// holders of `invitations.write`, or the member who sent it.
async fn managed(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> ApiResult<(
    Access,
    Tenant,
    Invitation,
    Option<InvitationGuard>,
    Option<Department>,
)> {
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Member,
        &[Key::invitation(tenant_id, invitation_id)],
    )
    .await?;
    let invitation: Invitation = from_item(
        items
            .into_iter()
            .next()
            .flatten()
            .ok_or(ApiError::NotFound)?,
    )?;
    let own = access.caller.user_id == invitation.invited_by;
    if !(access.allows(Permission::InvitationsWrite) || (own && may_invite(&access, &tenant))) {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    let mut more = app
        .store
        .get_many(&[
            Key::invitation_email(tenant_id, &invitation.email),
            Key::department(tenant_id, invitation.department_id),
        ])
        .await?
        .into_iter();
    let guard = more.next().flatten().map(from_item).transpose()?;
    let department = more.next().flatten().map(from_item).transpose()?;
    Ok((access, tenant, invitation, guard, department))
}

/// A new link and a new expiry for a pending (or expired) invitation; the old link stops working.
pub async fn resend(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> ApiResult<InvitationView> {
    let (access, tenant, before, guard, department) =
        managed(app, requester, tenant_id, invitation_id).await?;
    if before.status != InvitationStatus::Pending {
        return Err(ApiError::Conflict(format!(
            "the invitation is {}; only pending or expired invitations are resent",
            before.status.word()
        )));
    }
    let now = app.now();
    if let Some(g) = &guard
        && g.invitation_id != invitation_id
        && g.ttl > now.unix_timestamp()
    {
        return Err(ApiError::InvitationPending {
            invitation_id: g.invitation_id,
        });
    }
    let department = match department {
        Some(d) => d,
        None => {
            return Err(ApiError::Conflict(
                "the invitation's department no longer exists; cancel it and invite again".into(),
            ));
        }
    };
    if !before.holds_quota && tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(&tenant));
    }
    let token = crypto::new_token();
    let expires_at = whole_seconds(
        now + time::Duration::days(i64::from(tenant.settings.invitation_expiry_days)),
    );
    let mut after = before.clone();
    after.token_hash = crypto::token_hash(&token);
    after.expires_at = expires_at;
    after.expires_epoch = expires_at.unix_timestamp();
    after.holds_quota = true;
    after.sent_count += 1;
    after.last_sent_at = now;
    after.updated_at = now;
    after.version += 1;

    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        after.to_item()?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the invitation changed at the same time; retry".into()),
        )),
    )?;
    add_token(app, &mut tx, &after, &token)?;
    tx.put(
        app.table(),
        to_item(
            &InvitationGuard {
                invitation_id,
                ttl: after.expires_epoch,
            },
            &Key::invitation_email(tenant_id, &after.email),
            &[],
        )?,
        Some((
            Condition::new("attribute_not_exists(pk) OR invitation_id = :id OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":id", s(invitation_id.to_string()))
                .value(":now", num(now.unix_timestamp())),
            ApiError::Conflict("another invitation for this email was sent meanwhile".into()),
        )),
    )?;
    if !before.holds_quota {
        // Its place was given back when it expired: take one again.
        tx.update(
            app.table(),
            &Key::tenant(tenant_id),
            Condition::new("ADD invitation_count :one, quota_used :one").value(":one", num(1)),
            Some((
                Condition::new("quota_used < member_quota"),
                quota_exceeded(&tenant),
            )),
        )?;
    }
    let view = after.view(now);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "invitation.resend",
            target_type: "invitation",
            target_id: invitation_id,
            before: audit::snapshot(&before.view(now)),
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    send_invitation_mail(app, &tenant, &department, &after, &token, &access.caller).await;
    Ok(view)
}

/// Cancels a pending (or expired) invitation: its link stops working and its place in the quota
/// is given back. Cancelling a cancelled invitation changes nothing.
pub async fn cancel(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> ApiResult<()> {
    let (access, _tenant, before, guard, _) =
        managed(app, requester, tenant_id, invitation_id).await?;
    match before.status {
        InvitationStatus::Revoked => return Ok(()),
        InvitationStatus::Accepted => {
            return Err(ApiError::Conflict(
                "the invitation was accepted; remove the member instead".into(),
            ));
        }
        _ => {}
    }
    let now = app.now();
    let mut after = before.clone();
    after.status = InvitationStatus::Revoked;
    after.revoked_at = Some(now);
    after.holds_quota = false;
    after.updated_at = now;
    after.version += 1;
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        after.to_item()?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the invitation changed at the same time; retry".into()),
        )),
    )?;
    if before.holds_quota {
        tx.update(
            app.table(),
            &Key::tenant(tenant_id),
            Condition::new("ADD invitation_count :minus, quota_used :minus")
                .value(":minus", num(-1)),
            Some((
                Condition::counters_cover(&[("invitation_count", -1), ("quota_used", -1)]),
                ApiError::Conflict("the invitation changed at the same time; retry".into()),
            )),
        )?;
    }
    if guard.is_some_and(|g| g.invitation_id == invitation_id) {
        tx.delete(
            app.table(),
            &Key::invitation_email(tenant_id, &before.email),
            Some((
                Condition::new("invitation_id = :id").value(":id", s(invitation_id.to_string())),
                ApiError::Conflict("the invitation changed at the same time; retry".into()),
            )),
        )?;
    }
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "invitation.cancel",
            target_type: "invitation",
            target_id: invitation_id,
            before: audit::snapshot(&before.view(now)),
            after: audit::snapshot(&after.view(now)),
        },
    )?;
    app.store.transact(tx).await
}

/// The invitation a link's token opens, if the link is still the invitation's live link.
/// Unknown tokens are 404; spent, cancelled or replaced links 410 `invitation_used`; expired ones
/// 410 `invitation_expired`.
async fn open_link(app: &App, token: &str) -> ApiResult<(Uuid, Uuid, String)> {
    let hash = crypto::token_hash(token);
    let stored = StoredToken::find(app, &Key::token(&hash), &[TokenPurpose::Invitation])
        .await?
        .ok_or(ApiError::NotFound)?;
    match (stored.tenant_id, stored.target_id) {
        (Some(t), Some(i)) => Ok((t, i, hash)),
        _ => Err(ApiError::NotFound),
    }
}

fn live(invitation: &Invitation, hash: &str, now: OffsetDateTime) -> ApiResult<()> {
    if invitation.status != InvitationStatus::Pending || invitation.token_hash != hash {
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
    pub email: String,
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
    let (tenant_id, invitation_id, hash) = open_link(app, token).await?;
    let items = app
        .store
        .get_many(&[
            Key::invitation(tenant_id, invitation_id),
            Key::tenant(tenant_id),
        ])
        .await?;
    let mut items = items.into_iter();
    let invitation: Invitation = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let tenant: Tenant = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
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
        email: invitation.email.clone(),
        name: invitation.name.clone(),
        role: invitation.role,
        account_exists,
        expires_at: invitation.expires_at,
        branding: branding_for(&tenant, department.as_ref()),
    })
}

/// What a new person gives when accepting; an existing account (signed in) gives nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// The outcome of joining a tenant: a member (active) or a join request (pending).
#[derive(Debug, Serialize)]
pub struct Joined {
    pub tenant_id: Uuid,
    pub member_id: Uuid,
    pub user_id: Uuid,
    pub status: MemberStatus,
    /// True when a new account was created (sign in with the password just chosen).
    pub account_created: bool,
}

/// Accepts an invitation. Signed in (any token of the person), the invitation must be for the
/// account's email; otherwise a new account is created with `{name, password}`. Joins directly,
/// or as a pending request when the tenant wants approval for invitations sent by non-admins.
///
/// The link reached the invited address, so accepting proves it. An address whose account nobody
/// proved yet (someone registered it through a public join link) is taken over the same way: the
/// invitee's name and password replace whatever the registrant chose, and the registrant's
/// sessions and links end.
pub async fn accept(
    app: &App,
    requester: &Requester,
    token: &str,
    input: AcceptInvitation,
) -> ApiResult<Joined> {
    crate::limits::count_attempt(
        app,
        crate::limits::Counter::public(
            &app.config.limits,
            "accept",
            requester.origin.source_ip.as_deref(),
        ),
    )
    .await?;
    let (tenant_id, invitation_id, hash) = open_link(app, token).await?;
    let signed_in = requester.token.is_some();
    let keys = [
        Key::invitation(tenant_id, invitation_id),
        Key::tenant(tenant_id),
    ];
    let (person, items) = if signed_in {
        let (user, items) = authenticate_person(app, requester, &keys).await?;
        (Some(user), items)
    } else {
        (None, app.store.get_many(&keys).await?)
    };
    let mut items = items.into_iter();
    let invitation: Invitation = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let tenant: Tenant = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let now = app.now();
    live(&invitation, &hash, now)?;

    let mut checks = Checks::new();
    if person.is_some() && (input.password.is_some() || input.name.is_some()) {
        checks.fail(
            "password",
            "a signed-in account keeps its own name and password; send an empty body",
        );
    }
    checks.finish()?;
    // The department may have gone since the invitation was sent: the root takes the person in.
    let more = app
        .store
        .get_many(&[
            Key::department(tenant_id, invitation.department_id),
            Key::department(tenant_id, tenant.root_department_id),
            Key::email(&invitation.email),
        ])
        .await?;
    let mut more = more.into_iter();
    let department: Option<Department> = more.next().flatten().map(from_item).transpose()?;
    let root: Option<Department> = more.next().flatten().map(from_item).transpose()?;
    let department = department
        .or(root)
        .ok_or_else(|| ApiError::internal("tenant without a root department"))?;
    let account: Option<EmailGuard> = more.next().flatten().map(from_item).transpose()?;

    let unproven = account.as_ref().filter(|g| !g.verified);
    let (user, new_user) = match person {
        Some(user) => {
            // Emails are stored lowercase, so this compares them case-insensitively.
            if user.email != invitation.email {
                return Err(ApiError::Forbidden(
                    "the invitation is for another email; sign in with the invited account",
                ));
            }
            if let Some(refusal) =
                standing_refusal(member_of(app, tenant_id, user.id).await?.as_ref(), now)
            {
                return Err(refusal);
            }
            (user, false)
        }
        None => {
            if account.is_some() && unproven.is_none() {
                // The account may be the one a concurrent accept of this very link just
                // created: then the link is spent, which is the answer to give.
                if let Some(item) = app
                    .store
                    .get(&Key::invitation(tenant_id, invitation_id))
                    .await?
                {
                    live(&from_item(item)?, &hash, now)?;
                }
                // The email has an account: its owner signs in and accepts.
                return Err(ApiError::Unauthorized);
            }
            let fallback = invitation.name.as_deref();
            let mut user = new_account(&tenant, &invitation.email, &input, fallback, now)?;
            user.email_verified = true;
            if let Some(guard) = unproven {
                user.id = guard.user_id;
            }
            (user, true)
        }
    };

    let approval = !invitation.invited_by_admin
        && tenant
            .settings
            .join_rules
            .approval_for_non_admin_invitations;
    let status = if approval {
        MemberStatus::Pending
    } else {
        MemberStatus::Active
    };
    let member = new_member(
        &tenant,
        &department,
        &user,
        NewMemberFields {
            role: invitation.role,
            permissions: invitation.permissions.clone(),
            position: invitation.position.clone(),
            work_number: None,
            location: None,
        },
        status,
        MemberSource::Invitation,
        approval.then_some(JoinRequestInfo {
            via: JoinVia::Invitation,
            invitation_id: Some(invitation.id),
            join_link_id: None,
            requested_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
        }),
        now,
    );

    let mut after = invitation.clone();
    after.status = InvitationStatus::Accepted;
    after.accepted_at = Some(now);
    after.member_id = Some(member.id);
    after.holds_quota = false;
    after.updated_at = now;
    after.version += 1;
    let mut tx = Transaction::new();
    // First action: when concurrent accepts race, the losers report the spent link.
    tx.put(
        app.table(),
        after.to_item()?,
        Some((
            Condition::new(
                "#status = :pending AND token_hash = :hash AND expires_epoch > :now \
                 AND holds_quota = :true AND #version = :version",
            )
            .name("#status", "status")
            .name("#version", "version")
            .value(":pending", s("pending"))
            .value(":hash", s(&hash))
            .value(":now", num(now.unix_timestamp()))
            .value(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .value(":version", num(invitation.version)),
            ApiError::InvitationUsed,
        )),
    )?;
    tx.delete(
        app.table(),
        &Key::invitation_email(tenant_id, &invitation.email),
        Some((
            Condition::new("invitation_id = :id").value(":id", s(invitation_id.to_string())),
            ApiError::InvitationUsed,
        )),
    )?;
    match (new_user, unproven) {
        (true, None) => user.add_new(app, &mut tx)?,
        (true, Some(guard)) => take_over_unproven(app, &mut tx, &user, guard).await?,
        (false, _) => {}
    }
    add_member_items(app, &mut tx, &member, &department, now)?;
    // The invitation's place in the quota passes to the member (or the join request); the
    // condition re-checks the quota at acceptance.
    let tenant_update = if approval {
        Condition::new("ADD invitation_count :minus, join_request_count :one")
    } else {
        Condition::new("ADD invitation_count :minus, member_count :one, owner_count :owners")
            .value(":owners", num(i64::from(member.role == Role::Owner)))
    };
    tx.update(
        app.table(),
        &Key::tenant(tenant_id),
        tenant_update.value(":minus", num(-1)).value(":one", num(1)),
        Some((
            Condition::new("quota_used <= member_quota")
                .and(Condition::counters_cover(&[("invitation_count", -1)])),
            quota_exceeded(&tenant),
        )),
    )?;
    let caller = person_caller(requester, user.id);
    let view = after.view(now);
    audit::record(
        app,
        &mut tx,
        &caller,
        Change {
            tenant_id,
            action: "invitation.accept",
            target_type: "invitation",
            target_id: invitation_id,
            before: audit::snapshot(&invitation.view(now)),
            after: audit::snapshot(&view),
        },
    )?;
    audit::record(
        app,
        &mut tx,
        &caller,
        Change {
            tenant_id,
            action: if approval {
                "join_request.create"
            } else {
                "member.join"
            },
            target_type: "member",
            target_id: member.id,
            before: None,
            after: audit::snapshot(&MemberView::from(&member)),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(Joined {
        tenant_id,
        member_id: member.id,
        user_id: user.id,
        status,
        account_created: new_user,
    })
}

/// The invitee proved an address whose account nobody had proven: `user` (built from what the
/// invitee sent, with the account's id) replaces the registrant's name, phone and password, the
/// address and its memberships become proven, and every session and link of the account ends.
async fn take_over_unproven(
    app: &App,
    tx: &mut Transaction,
    user: &User,
    guard: &EmailGuard,
) -> ApiResult<()> {
    let changed = || ApiError::Conflict("the account changed at the same time; retry".into());
    tx.update(
        app.table(),
        &Key::email(&user.email),
        Condition::new("SET verified = :proven_now").value(
            ":proven_now",
            aws_sdk_dynamodb::types::AttributeValue::Bool(true),
        ),
        Some((guard.unchanged(), changed())),
    )?;
    tx.update(
        app.table(),
        &Key::user(user.id),
        Condition::new(
            "SET #name = :name, phone = :phone, password_hash = :hash, password_changed_at = :now, \
             updated_at = :now, email_verified = :true, session_epoch = :epoch ADD version :one",
        )
        .name("#name", "name")
        .value(":name", s(&user.name))
        .value(
            ":phone",
            user.phone
                .as_deref()
                .map_or(aws_sdk_dynamodb::types::AttributeValue::Null(true), s),
        )
        .value(
            ":hash",
            s(user.password_hash.as_deref().unwrap_or_default()),
        )
        .value(":now", s(crate::model::time::rfc3339(app.now())))
        .value(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        .value(":epoch", num(crate::model::user::new_session_epoch()))
        .value(":one", num(1)),
        Some((Condition::exists(), changed())),
    )?;
    for member in crate::users::memberships(app, user.id).await? {
        member.follow_user(
            app,
            tx,
            &user.name,
            &user.email,
            true,
            user.phone.as_deref(),
        )?;
    }
    Ok(())
}

/// The caller an audit entry names when a person acts through a public link.
pub(crate) fn person_caller(requester: &Requester, user_id: Uuid) -> Caller {
    Caller {
        user_id,
        kind: CallerKind::User,
        origin: requester.origin.clone(),
    }
}

/// A new account for a person joining through a link: name (or the invitation's), password,
/// optional phone, the tenant's default language.
pub(crate) fn new_account(
    tenant: &Tenant,
    email: &str,
    input: &AcceptInvitation,
    fallback_name: Option<&str>,
    now: OffsetDateTime,
) -> ApiResult<User> {
    let mut checks = Checks::new();
    let name = match input.name.as_deref().or(fallback_name) {
        Some(n) => validate::text(&mut checks, "name", n, validate::MAX_NAME),
        None => {
            checks.fail("name", "is required for a new account");
            String::new()
        }
    };
    match &input.password {
        Some(p) => validate::password(&mut checks, "password", p),
        None => checks.fail("password", "is required for a new account"),
    }
    let phone = validate::optional_text(
        &mut checks,
        "phone",
        input.phone.as_deref(),
        validate::MAX_SHORT_TEXT,
    );
    checks.finish()?;
    let mut user = User::new(
        now,
        email.to_string(),
        name,
        tenant.settings.default_language.clone(),
    );
    user.phone = phone;
    user.password_hash = Some(crypto::hash_password(
        input.password.as_deref().unwrap_or_default(),
    )?);
    user.password_changed_at = Some(now);
    Ok(user)
}

/// The organisation fields a joining member starts with.
pub(crate) struct NewMemberFields {
    pub role: Role,
    pub permissions: Permissions,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_member(
    tenant: &Tenant,
    department: &Department,
    user: &User,
    fields: NewMemberFields,
    status: MemberStatus,
    source: MemberSource,
    join_request: Option<JoinRequestInfo>,
    now: OffsetDateTime,
) -> Member {
    Member {
        position: fields.position,
        work_number: fields.work_number,
        location: fields.location,
        status,
        join_request,
        ..Member::new(
            tenant.id,
            department.id,
            Person::from(user),
            fields.role,
            fields.permissions,
            source,
            now,
        )
    }
}

/// The member, its one-member-per-user guard and — when it is active — its department count
/// and search terms. Tenant counters are the caller's: they differ by path.
pub(crate) fn add_member_items(
    app: &App,
    tx: &mut Transaction,
    member: &Member,
    department: &Department,
    now: OffsetDateTime,
) -> ApiResult<()> {
    tx.put(
        app.table(),
        member.to_item(&department.id_path)?,
        Some((
            Condition::absent(),
            ApiError::internal("member id collision"),
        )),
    )?;
    tx.put(
        app.table(),
        to_item(
            &UserInTenant {
                member_id: member.id,
            },
            &Key::user_in_tenant(member.tenant_id, member.user_id),
            &[],
        )?,
        Some((
            // A guard left by a member purged from the bin no longer counts.
            Condition::new("attribute_not_exists(pk) OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            ApiError::AlreadyMember,
        )),
    )?;
    if member.status.in_directory() {
        tx.update(
            app.table(),
            &Key::department(member.tenant_id, department.id),
            Condition::new("ADD member_count :one").value(":one", num(1)),
            Some((
                Condition::new("id_path = :id_path").value(":id_path", s(&department.id_path)),
                ApiError::Conflict("the department moved or was deleted; retry".into()),
            )),
        )?;
        member.add_search_terms(app, tx)?;
    }
    Ok(())
}
