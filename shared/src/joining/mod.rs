//! Joining by public link (the "organization door number") and the approval of join requests.
//!
//! A join link is a code anyone holding it can use to ask to join: optionally into a department,
//! until an expiry, for a number of uses. The code carries 128 random bits and only its SHA-256 is
//! stored, so it is shown once, when the link is created. Asking to join creates a member in
//! status `pending` (a join request) which holds a place in the quota; an admin approves it (into
//! a department), or rejects it with a reason; approving a rejected request re-examines it.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Need, authenticate_person, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::invitations::{
    AcceptInvitation, Joined, NewMemberFields, add_member_items, branded_html, branding_for,
    new_account, new_member, person_caller, standing_refusal,
};
use crate::mail::{Mail, html_escape};
use crate::members::{MemberView, quota_exceeded};
use crate::model::department::Department;
use crate::model::keys::{GSI3, JOIN_LINK_PREFIX, Key, join_requests_partition, tenant_partition};
use crate::model::member::{JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus};
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::{Branding, JoinField, Tenant};
use crate::model::user::{EmailGuard, StoredToken, TokenPurpose};
use crate::model::{List, PageParams};
use crate::store::{Condition, Item, Query, SortRange, Transaction, from_item, num, s, to_item};
use crate::users::member_of;
use crate::validate;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub const MAX_USES: i64 = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinLink {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: Option<String>,
    /// Where requests land; the root department when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<Uuid>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Absent when the link never expires (the join condition tests for that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_epoch: Option<i64>,
    /// Absent when uses are unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub revoked: bool,
    pub code_hash: String,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinLinkState {
    Active,
    Expired,
    UsedUp,
    Revoked,
}

impl JoinLink {
    pub fn state_at(&self, now: OffsetDateTime) -> JoinLinkState {
        if self.revoked {
            JoinLinkState::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            JoinLinkState::Expired
        } else if self.max_uses.is_some_and(|m| self.uses >= m) {
            JoinLinkState::UsedUp
        } else {
            JoinLinkState::Active
        }
    }

    fn view(&self, now: OffsetDateTime, code: Option<String>, app: &App) -> JoinLinkView {
        JoinLinkView {
            id: self.id,
            tenant_id: self.tenant_id,
            label: self.label.clone(),
            department_id: self.department_id,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            uses: self.uses,
            state: self.state_at(now),
            created_by: self.created_by,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            url: code.as_deref().map(|c| join_url(app, c)),
            code,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JoinLinkView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: Option<String>,
    pub department_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub state: JoinLinkState,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Only in the answer to creation: the code is stored as a hash and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

pub fn join_url(app: &App, code: &str) -> String {
    format!("{}/join?code={code}", app.config.app_url)
}

/// 128 random bits as 26 lowercase base32 characters: easy to read out, impossible to guess.
fn new_code() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes = crypto::random_bytes::<16>();
    let mut bits: u32 = 0;
    let mut held = 0;
    let mut code = String::with_capacity(26);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 5 {
            held -= 5;
            code.push(char::from(ALPHABET[((bits >> held) & 31) as usize]));
        }
    }
    if held > 0 {
        code.push(char::from(ALPHABET[((bits << (5 - held)) & 31) as usize]));
    }
    code
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinLink {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub department_id: Option<Uuid>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub max_uses: Option<i64>,
}

/// Creates a join link; the answer carries the code and URL, once.
pub async fn create_link(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateJoinLink,
) -> ApiResult<JoinLinkView> {
    let now = app.now();
    let mut checks = Checks::new();
    let label = validate::optional_text(
        &mut checks,
        "label",
        input.label.as_deref(),
        validate::MAX_SHORT_TEXT,
    );
    if let Some(expires_at) = input.expires_at {
        checks.check(expires_at > now, "expires_at", "must be in the future");
    }
    if let Some(max) = input.max_uses {
        validate::range(&mut checks, "max_uses", max, 1, MAX_USES);
    }
    checks.finish()?;
    let keys: Vec<Key> = input
        .department_id
        .map(|d| Key::department(tenant_id, d))
        .into_iter()
        .collect();
    let (access, _, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::InvitationsWrite),
        &keys,
    )
    .await?;
    if input.department_id.is_some() && items.first().cloned().flatten().is_none() {
        return Err(ApiError::invalid(
            "department_id",
            "is not a department of this tenant",
        ));
    }
    let code = new_code();
    let link = JoinLink {
        id: Uuid::now_v7(),
        tenant_id,
        label,
        department_id: input.department_id,
        expires_at: input.expires_at,
        expires_epoch: input.expires_at.map(OffsetDateTime::unix_timestamp),
        max_uses: input.max_uses.map(|m| m.clamp(1, MAX_USES) as u32),
        uses: 0,
        revoked: false,
        code_hash: crypto::token_hash(&code),
        created_by: access.caller.user_id,
        created_at: now,
        revoked_at: None,
    };
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        to_item(&link, &Key::join_link(tenant_id, link.id), &[])?,
        Some((
            Condition::absent(),
            ApiError::internal("join link id collision"),
        )),
    )?;
    tx.put(
        app.table(),
        to_item(
            &StoredToken {
                purpose: TokenPurpose::JoinLink,
                user_id: None,
                tenant_id: Some(tenant_id),
                target_id: Some(link.id),
                expires_at: link.expires_at,
                // Kept 30 days past the expiry so the code answers "expired", not "unknown".
                ttl: link.expires_epoch.map(|e| e + 30 * 24 * 3600),
                session_epoch: None,
                email: None,
            },
            &Key::token(&link.code_hash),
            &[],
        )?,
        Some((Condition::absent(), ApiError::internal("code collision"))),
    )?;
    if let Some(d) = link.department_id {
        tx.check(
            app.table(),
            &Key::department(tenant_id, d),
            Condition::exists(),
            ApiError::invalid("department_id", "is not a department of this tenant"),
        )?;
    }
    let view = link.view(now, None, app);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "join_link.create",
            target_type: "join_link",
            target_id: link.id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(link.view(now, Some(code), app))
}

/// The tenant's join links, oldest first, with their state (one query).
pub async fn list_links(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<JoinLinkView>> {
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::InvitationsWrite),
        &[],
    )
    .await?;
    let now = app.now();
    let query = Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(JOIN_LINK_PREFIX.into()),
    )
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|l: JoinLink| l.view(now, None, app))
}

/// Revokes a join link: its code stops working at once. Revoking twice changes nothing.
pub async fn revoke_link(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    join_link_id: Uuid,
) -> ApiResult<()> {
    let (access, _, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::InvitationsWrite),
        &[Key::join_link(tenant_id, join_link_id)],
    )
    .await?;
    let before: JoinLink = from_item(
        items
            .into_iter()
            .next()
            .flatten()
            .ok_or(ApiError::NotFound)?,
    )?;
    if before.revoked {
        return Ok(());
    }
    let now = app.now();
    let mut after = before.clone();
    after.revoked = true;
    after.revoked_at = Some(now);
    let mut tx = Transaction::new();
    tx.update(
        app.table(),
        &Key::join_link(tenant_id, join_link_id),
        Condition::new("SET revoked = :true, revoked_at = :now")
            .value(":true", AttributeValue::Bool(true))
            .value(":now", s(crate::model::time::rfc3339(now))),
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "join_link.revoke",
            target_type: "join_link",
            target_id: join_link_id,
            before: audit::snapshot(&before.view(now, None, app)),
            after: audit::snapshot(&after.view(now, None, app)),
        },
    )?;
    app.store.transact(tx).await
}

/// The link a code opens and its tenant; refused (410) when revoked, used up or expired.
async fn open_code(
    app: &App,
    code: &str,
    extra: Vec<Key>,
) -> ApiResult<(JoinLink, Tenant, Vec<Option<Item>>)> {
    let stored = StoredToken::find(
        app,
        &Key::token(&crypto::token_hash(code)),
        &[TokenPurpose::JoinLink],
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    let (Some(tenant_id), Some(link_id)) = (stored.tenant_id, stored.target_id) else {
        return Err(ApiError::NotFound);
    };
    let mut keys = vec![Key::join_link(tenant_id, link_id), Key::tenant(tenant_id)];
    keys.extend(extra);
    let mut items = app.store.get_many(&keys).await?;
    let rest = items.split_off(2);
    let mut items = items.into_iter();
    let link: JoinLink = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let tenant: Tenant = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    match link.state_at(app.now()) {
        JoinLinkState::Active => Ok((link, tenant, rest)),
        JoinLinkState::Expired => Err(ApiError::InvitationExpired),
        JoinLinkState::UsedUp | JoinLinkState::Revoked => Err(ApiError::InvitationUsed),
    }
}

#[derive(Debug, Serialize)]
pub struct JoinPreview {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub department_name: Option<String>,
    /// What a new person must give besides name, email and password.
    pub required_fields: Vec<JoinField>,
    /// Requests through a link always wait for an admin's approval.
    pub needs_approval: bool,
    pub branding: Branding,
}

/// The public page behind a join code.
pub async fn preview(app: &App, code: &str) -> ApiResult<JoinPreview> {
    let (link, tenant, _) = open_code(app, code, Vec::new()).await?;
    let department_id = link.department_id.unwrap_or(tenant.root_department_id);
    let department: Option<Department> = app
        .store
        .get(&Key::department(tenant.id, department_id))
        .await?
        .map(from_item)
        .transpose()?;
    Ok(JoinPreview {
        tenant_id: tenant.id,
        tenant_name: tenant.name.clone(),
        department_name: department.as_ref().map(|d| d.name.clone()),
        required_fields: tenant.settings.join_rules.required_fields.clone(),
        needs_approval: true,
        branding: branding_for(&tenant, department.as_ref()),
    })
}

/// A request to join: a signed-in person sends only what the tenant requires; a new person
/// also sends email, name and password.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinInput {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub work_number: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

/// What a request to join answers. A signed-in person learns the request made for them; an
/// anonymous one learns only that mail went to the address, whether or not it has an account, so
/// the answer tells nobody which addresses are registered.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JoinOutcome {
    Joined(Joined),
    VerificationSent {
        tenant_id: Uuid,
        status: &'static str,
    },
}

/// Asks to join through a link: creates a pending join request holding a place in the quota and
/// counts one use of the link, both under conditions, so neither the quota nor `max_uses` can be
/// overrun by concurrent requests.
///
/// A new person gets an unproven account (it cannot sign in until the address is proven by the
/// verification link mailed with it). For an address that already has an account nothing is
/// created — its owner gets a mail asking them to sign in and join — and the answer, and the work
/// done before it (the whole body checked, a password hashed), is the same.
pub async fn join(
    app: &App,
    requester: &Requester,
    code: &str,
    input: JoinInput,
) -> ApiResult<JoinOutcome> {
    let now = app.now();
    let mut checks = Checks::new();
    let text = |checks: &mut Checks, field: &str, value: Option<&str>| {
        validate::optional_text(checks, field, value, validate::MAX_SHORT_TEXT)
    };
    let position = text(&mut checks, "position", input.position.as_deref());
    let work_number = text(&mut checks, "work_number", input.work_number.as_deref());
    let location = text(&mut checks, "location", input.location.as_deref());
    let signed_in = requester.token.is_some();
    let email = match (&input.email, signed_in) {
        (Some(_), true) => {
            checks.fail(
                "email",
                "a signed-in person joins with their account's email",
            );
            None
        }
        (Some(e), false) => Some(validate::email(&mut checks, "email", e)),
        (None, true) => None,
        (None, false) => {
            checks.fail("email", "is required for a new account");
            None
        }
    };
    if signed_in && (input.name.is_some() || input.password.is_some()) {
        checks.fail(
            "password",
            "a signed-in account keeps its own name and password",
        );
    }
    checks.finish()?;
    crate::limits::count_attempt(
        app,
        crate::limits::Counter::public(
            &app.config.limits,
            "join",
            requester.origin.source_ip.as_deref(),
        ),
    )
    .await?;

    let (link, tenant, _) = open_code(app, code, Vec::new()).await?;
    let department_id = link.department_id.unwrap_or(tenant.root_department_id);
    let mut keys = vec![
        Key::department(tenant.id, department_id),
        Key::department(tenant.id, tenant.root_department_id),
    ];
    if let Some(e) = &email {
        keys.push(Key::email(e));
    }
    let (person, items) = if signed_in {
        let (user, items) = authenticate_person(app, requester, &keys).await?;
        (Some(user), items)
    } else {
        (None, app.store.get_many(&keys).await?)
    };
    let mut items = items.into_iter();
    let department: Option<Department> = items.next().flatten().map(from_item).transpose()?;
    let root: Option<Department> = items.next().flatten().map(from_item).transpose()?;
    let department = department
        .or(root)
        .ok_or_else(|| ApiError::internal("tenant without a root department"))?;
    let account: Option<EmailGuard> = items.next().flatten().map(from_item).transpose()?;

    let (user, new_user) = match person {
        Some(user) => {
            if let Some(refusal) =
                standing_refusal(member_of(app, tenant.id, user.id).await?.as_ref(), now)
            {
                return Err(refusal);
            }
            (user, false)
        }
        None => {
            let as_new = AcceptInvitation {
                name: input.name.clone(),
                password: input.password.clone(),
                phone: input.phone.clone(),
            };
            let email = email.unwrap_or_default();
            // Built (checked, password hashed) whether or not the address has an account.
            (new_account(&tenant, &email, &as_new, None, now)?, true)
        }
    };
    // The tenant's required fields, from the request or (phone) the account.
    let phone = input.phone.clone().or(user.phone.clone());
    let mut checks = Checks::new();
    for field in &tenant.settings.join_rules.required_fields {
        let (name, given) = match field {
            JoinField::Position => ("position", position.is_some()),
            JoinField::WorkNumber => ("work_number", work_number.is_some()),
            JoinField::Location => ("location", location.is_some()),
            JoinField::Phone => (
                "phone",
                phone.as_deref().is_some_and(|p| !p.trim().is_empty()),
            ),
        };
        checks.check(given, name, "is required by this organization's join rules");
    }
    checks.finish()?;
    if tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(&tenant));
    }
    let sent = JoinOutcome::VerificationSent {
        tenant_id: tenant.id,
        status: "verification_sent",
    };
    if new_user && account.is_some() {
        // The address has an account: its owner signs in and asks again.
        app.mail()
            .send(sign_in_to_join_mail(app, &tenant, &user.email, code))
            .await?;
        return Ok(sent);
    }

    let member = new_member(
        &tenant,
        &department,
        &user,
        NewMemberFields {
            role: Role::Member,
            permissions: Permissions::none(),
            position,
            work_number,
            location,
        },
        MemberStatus::Pending,
        MemberSource::JoinLink,
        Some(JoinRequestInfo {
            via: JoinVia::JoinLink,
            invitation_id: None,
            join_link_id: Some(link.id),
            requested_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
        }),
        now,
    );
    let mut tx = Transaction::new();
    // First action: a link used up or revoked meanwhile answers as such.
    tx.update(
        app.table(),
        &Key::join_link(tenant.id, link.id),
        Condition::new("ADD uses :one").value(":one", num(1)),
        Some((
            Condition::new(
                "revoked = :false AND (attribute_not_exists(max_uses) OR uses < max_uses) \
                 AND (attribute_not_exists(expires_epoch) OR expires_epoch > :now)",
            )
            .value(":false", AttributeValue::Bool(false))
            .value(":now", num(now.unix_timestamp())),
            ApiError::InvitationUsed,
        )),
    )?;
    let verification = if new_user {
        user.add_new(app, &mut tx)?;
        Some(crate::users::proof::add_verification(app, &mut tx, &user)?)
    } else {
        None
    };
    add_member_items(app, &mut tx, &member, &department, now)?;
    tx.update(
        app.table(),
        &Key::tenant(tenant.id),
        Condition::new("ADD join_request_count :one, quota_used :one").value(":one", num(1)),
        Some((
            Condition::new("quota_used < member_quota"),
            quota_exceeded(&tenant),
        )),
    )?;
    audit::record(
        app,
        &mut tx,
        &person_caller(requester, user.id),
        Change {
            tenant_id: tenant.id,
            action: "join_request.create",
            target_type: "member",
            target_id: member.id,
            before: None,
            after: audit::snapshot(&MemberView::from(&member)),
        },
    )?;
    app.store.transact(tx).await?;
    if let Some(mail) = verification {
        app.mail().send(mail).await?;
        return Ok(sent);
    }
    Ok(JoinOutcome::Joined(Joined {
        tenant_id: tenant.id,
        member_id: member.id,
        user_id: user.id,
        status: MemberStatus::Pending,
        account_created: false,
    }))
}

/// To an address that has an account, when someone asked to join with it without signing in.
fn sign_in_to_join_mail(app: &App, tenant: &Tenant, email: &str, code: &str) -> Mail {
    let link = join_url(app, code);
    Mail {
        to: email.to_string(),
        subject: format!("Join {} on Roster", tenant.name),
        text: format!(
            "Hello,\n\nsomeone asked to join {} on Roster with this address, which already has an account. If it was you, sign in and open the link again:\n{link}\n\nIf it was not you, ignore this mail.\n",
            tenant.name
        ),
        html: format!(
            "<p>Hello,</p><p>someone asked to join <b>{}</b> on Roster with this address, which already has an account. If it was you, <a href=\"{}\">sign in and open the link again</a>.</p><p>If it was not you, ignore this mail.</p>",
            html_escape(&tenant.name),
            html_escape(&link)
        ),
    }
}

/// A join request as admins see it: the member it will become, and how it came.
#[derive(Debug, Serialize)]
pub struct JoinRequestView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    pub role: Role,
    /// pending, rejected — or active once approved.
    pub status: MemberStatus,
    pub source: MemberSource,
    pub via: Option<JoinVia>,
    pub invitation_id: Option<Uuid>,
    pub join_link_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub requested_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<Uuid>,
    pub reason: Option<String>,
}

impl From<&Member> for JoinRequestView {
    fn from(m: &Member) -> Self {
        let info = m.join_request.as_ref();
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            user_id: m.user_id,
            email: m.email.clone(),
            name: m.name.clone(),
            phone: m.phone.clone(),
            department_id: m.department_id,
            position: m.position.clone(),
            work_number: m.work_number.clone(),
            location: m.location.clone(),
            role: m.role,
            status: m.status,
            source: m.source,
            via: info.map(|i| i.via),
            invitation_id: info.and_then(|i| i.invitation_id),
            join_link_id: info.and_then(|i| i.join_link_id),
            requested_at: info.map(|i| i.requested_at),
            decided_at: info.and_then(|i| i.decided_at),
            decided_by: info.and_then(|i| i.decided_by),
            reason: info.and_then(|i| i.reason.clone()),
        }
    }
}

/// Pending and rejected requests (`status` narrows to one), oldest first: one index query.
pub async fn list_requests(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    status: Option<String>,
    page: PageParams,
) -> ApiResult<List<JoinRequestView>> {
    let range = match status.as_deref() {
        None => SortRange::All,
        Some(s @ ("pending" | "rejected")) => SortRange::Prefix(format!("{s}#")),
        Some(_) => return Err(ApiError::invalid("status", "must be pending or rejected")),
    };
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[],
    )
    .await?;
    let query = Query::new(Some(GSI3), join_requests_partition(tenant_id), range).page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|m: Member| JoinRequestView::from(&m))
}

/// Reads a join request (a pending or rejected member) of the tenant, with its department.
async fn request_of(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    request_id: Uuid,
    department_id: Option<Uuid>,
) -> ApiResult<(crate::auth::Access, Tenant, Member, Option<Department>)> {
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[Key::member(tenant_id, request_id)],
    )
    .await?;
    let member: Member = from_item(
        items
            .into_iter()
            .next()
            .flatten()
            .ok_or(ApiError::NotFound)?,
    )?;
    if member.join_request.is_none() {
        return Err(ApiError::NotFound);
    }
    if !member.status.is_join_request() {
        return Err(ApiError::Conflict(format!(
            "the request was already decided: the member is {}",
            serde_json::to_value(member.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )));
    }
    let department = app
        .store
        .get(&Key::department(
            tenant_id,
            department_id.unwrap_or(member.department_id),
        ))
        .await?
        .map(from_item)
        .transpose()?;
    Ok((access, tenant, member, department))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// Where the member goes; the requested department when absent.
    #[serde(default)]
    pub department_id: Option<Uuid>,
}

/// Approves a pending request, or re-examines a rejected one: the person becomes an active
/// member of the department. A rejected request takes a place in the quota again.
pub async fn approve(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    request_id: Uuid,
    input: ApproveInput,
) -> ApiResult<MemberView> {
    let (access, tenant, before, department) =
        request_of(app, requester, tenant_id, request_id, input.department_id).await?;
    let Some(department) = department else {
        return Err(ApiError::invalid(
            "department_id",
            if input.department_id.is_some() {
                "is not a department of this tenant"
            } else {
                "is required: the requested department no longer exists"
            },
        ));
    };
    let was_rejected = before.status == MemberStatus::Rejected;
    if was_rejected && tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(&tenant));
    }
    let now = app.now();
    let mut after = before.clone();
    after.status = MemberStatus::Active;
    after.department_id = department.id;
    after.updated_at = now;
    after.version += 1;
    if let Some(info) = after.join_request.as_mut() {
        info.decided_at = Some(now);
        info.decided_by = Some(access.caller.user_id);
        info.reason = None;
    }
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        after.to_item(&department.id_path)?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the request was decided at the same time".into()),
        )),
    )?;
    let owners = num(i64::from(after.role == Role::Owner));
    let tenant_change = if was_rejected {
        (
            Condition::new("ADD member_count :one, quota_used :one, owner_count :owners"),
            Some((
                Condition::new("quota_used < member_quota"),
                quota_exceeded(&tenant),
            )),
        )
    } else {
        (
            Condition::new("ADD member_count :one, join_request_count :minus, owner_count :owners")
                .value(":minus", num(-1)),
            Some((
                Condition::counters_cover(&[("join_request_count", -1)]),
                ApiError::Conflict("the request was decided at the same time".into()),
            )),
        )
    };
    tx.update(
        app.table(),
        &Key::tenant(tenant_id),
        tenant_change
            .0
            .value(":one", num(1))
            .value(":owners", owners),
        tenant_change.1,
    )?;
    tx.update(
        app.table(),
        &Key::department(tenant_id, department.id),
        Condition::new("ADD member_count :one").value(":one", num(1)),
        Some((
            Condition::new("id_path = :id_path").value(":id_path", s(&department.id_path)),
            ApiError::Conflict("the department moved or was deleted; retry".into()),
        )),
    )?;
    after.add_search_terms(app, &mut tx)?;
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: if was_rejected {
                "join_request.reexamine"
            } else {
                "join_request.approve"
            },
            target_type: "member",
            target_id: request_id,
            before: audit::snapshot(&MemberView::from(&before)),
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;

    let branding = branding_for(&tenant, Some(&department));
    let mail = Mail {
        to: after.email.clone(),
        subject: format!("Welcome to {} on Roster", tenant.name),
        text: format!(
            "Hello {},\n\nyour request to join {} was approved. Sign in: {}/login\n",
            after.name, tenant.name, app.config.app_url
        ),
        html: branded_html(
            &branding,
            &format!(
                "<p>Hello {},</p><p>your request to join <b>{}</b> was approved.</p><p><a href=\"{}/login\">Sign in</a></p>",
                html_escape(&after.name),
                html_escape(&tenant.name),
                html_escape(&app.config.app_url)
            ),
        ),
    };
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(member = %request_id, error = %err, "approval mail failed");
    }
    Ok(view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Rejects a pending request with an optional reason; its place in the quota is given back. The
/// person stays known to the tenant: inviting them again answers `previously_rejected`.
pub async fn reject(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    request_id: Uuid,
    input: RejectInput,
) -> ApiResult<JoinRequestView> {
    let mut checks = Checks::new();
    let reason = validate::optional_text(&mut checks, "reason", input.reason.as_deref(), 500);
    checks.finish()?;
    let (access, _, before, _) = request_of(app, requester, tenant_id, request_id, None).await?;
    if before.status == MemberStatus::Rejected {
        return Err(ApiError::Conflict("the request is already rejected".into()));
    }
    let now = app.now();
    let mut after = before.clone();
    after.status = MemberStatus::Rejected;
    after.updated_at = now;
    after.version += 1;
    if let Some(info) = after.join_request.as_mut() {
        info.decided_at = Some(now);
        info.decided_by = Some(access.caller.user_id);
        info.reason = reason;
    }
    let mut tx = Transaction::new();
    // Join requests have no tree position; the id path is not used for them.
    tx.put(
        app.table(),
        after.to_item("")?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the request was decided at the same time".into()),
        )),
    )?;
    tx.update(
        app.table(),
        &Key::tenant(tenant_id),
        Condition::new("ADD join_request_count :minus, quota_used :minus").value(":minus", num(-1)),
        Some((
            Condition::counters_cover(&[("join_request_count", -1), ("quota_used", -1)]),
            ApiError::Conflict("the request was decided at the same time".into()),
        )),
    )?;
    let view = JoinRequestView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "join_request.reject",
            target_type: "member",
            target_id: request_id,
            before: audit::snapshot(&JoinRequestView::from(&before)),
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_128_bits_in_26_characters() {
        let a = new_code();
        let b = new_code();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
    }
}
