//! Opening a join code or the tenant's join number, their public preview, and asking to join
//! through them.

use super::{JoinLink, JoinLinkState};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::invitations::admission::{
    NewMemberFields, Newcomer, add_member_items, count_attempt, department_or_root, new_account,
    new_member, open_token, person_caller, read_as_person, refuse_standing,
};
use crate::invitations::{Joined, branding_for};
use crate::members::MemberView;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::{JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus};
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::{Branding, JoinField, Tenant};
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::outbox::{self, Intent};
use crate::store::{Condition, Transaction, Update, from_item, num};
use crate::validate;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The link a code opens and its tenant; refused (410) when revoked, used up or expired.
async fn open_code(app: &App, code: &str) -> ApiResult<(JoinLink, Tenant)> {
    let hash = crypto::token_hash(code);
    let (tenant_id, link_id, _) = open_token(app, &hash, TokenPurpose::JoinLink).await?;
    let keys = [Key::join_link(tenant_id, link_id), Key::tenant(tenant_id)];
    let mut items = app.store.get_many(&keys).await?.into_iter();
    let link: JoinLink = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let tenant =
        from_item::<Tenant>(items.next().flatten().ok_or(ApiError::NotFound)?)?.reachable()?;
    usable(&link, app.now())?;
    Ok((link, tenant))
}

/// Whether a link takes requests at `now`: expired links are 410 `invitation_expired`, used-up
/// or revoked ones 410 `invitation_used`.
fn usable(link: &JoinLink, now: OffsetDateTime) -> ApiResult<()> {
    match link.state_at(now) {
        JoinLinkState::Active => Ok(()),
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

/// The way a request comes in: a join link, or the tenant's join number.
enum Door {
    Link(JoinLink),
    Number,
}

impl Door {
    /// Where requests through this door land: a link's department, else the root.
    fn department_id(&self, tenant: &Tenant) -> Uuid {
        match self {
            Self::Link(link) => link.department_id,
            Self::Number => None,
        }
        .unwrap_or(tenant.root_department_id)
    }
}

/// The public page behind a join code.
pub async fn preview(app: &App, code: &str) -> ApiResult<JoinPreview> {
    let (link, tenant) = open_code(app, code).await?;
    preview_door(app, &tenant, &Door::Link(link)).await
}

/// The public page behind a tenant's join number (counted against the caller's address).
pub async fn preview_number(
    app: &App,
    requester: &Requester,
    number: &str,
) -> ApiResult<JoinPreview> {
    let tenant = super::number::open_number(app, requester, number).await?;
    preview_door(app, &tenant, &Door::Number).await
}

async fn preview_door(app: &App, tenant: &Tenant, door: &Door) -> ApiResult<JoinPreview> {
    let department_id = door.department_id(tenant);
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
        branding: branding_for(tenant, department.as_ref()),
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

impl JoinInput {
    fn newcomer(&self) -> Newcomer<'_> {
        Newcomer {
            name: self.name.as_deref(),
            password: self.password.as_deref(),
            phone: self.phone.as_deref(),
        }
    }
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

/// Asks to join through a link: creates a pending join request under the tenant's cap of pending
/// public requests (not in the member quota) and counts one use of the link, both under
/// conditions, so neither the cap nor `max_uses` can be overrun by concurrent requests.
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
    let asked = check_request(&input, requester.token.is_some())?;
    count_attempt(app, requester, "join").await?;
    let (link, tenant) = open_code(app, code).await?;
    join_through(app, requester, &Door::Link(link), &tenant, input, asked).await
}

/// Asks to join through the tenant's join number, as through a link into the root department:
/// the request always waits for approval, and the attempt counts against the caller's address.
pub async fn join_by_number(
    app: &App,
    requester: &Requester,
    number: &str,
    input: JoinInput,
) -> ApiResult<JoinOutcome> {
    let asked = check_request(&input, requester.token.is_some())?;
    let tenant = super::number::open_number(app, requester, number).await?;
    let door = Door::Number;
    join_through(app, requester, &door, &tenant, input, asked).await
}

async fn join_through(
    app: &App,
    requester: &Requester,
    door: &Door,
    tenant: &Tenant,
    input: JoinInput,
    asked: Asked,
) -> ApiResult<JoinOutcome> {
    let now = app.now();
    let department_id = door.department_id(tenant);
    let mut keys = vec![
        Key::department(tenant.id, department_id),
        Key::department(tenant.id, tenant.root_department_id),
    ];
    if let Some(e) = &asked.email {
        keys.push(Key::email(e));
    }
    let (person, items) = read_as_person(app, requester, &keys).await?;
    let mut items = items.into_iter();
    let department = department_or_root(items.next().flatten(), items.next().flatten())?;
    let account: Option<EmailGuard> = items.next().flatten().map(from_item).transpose()?;
    let (user, new_user) = match person {
        Some(user) => {
            refuse_standing(app, tenant.id, user.id, now).await?;
            (user, false)
        }
        None => {
            let email = asked.email.as_deref().unwrap_or_default();
            // Built (checked, password hashed) whether or not the address has an account.
            let user = new_account(tenant, email, &input.newcomer(), None, now)?;
            (user, true)
        }
    };
    // The tenant's required fields, from the request or (phone) the account.
    let phone = input.phone.as_deref().or(user.phone.as_deref());
    let owner_has_account = new_user && account.is_some();
    let sent = JoinOutcome::VerificationSent {
        tenant_id: tenant.id,
        status: "verification_sent",
    };
    let cap = app.config.limits.pending_join_requests;
    // Both answers to a new person queue one mail and send none, so their time is alike.
    if decide(tenant, cap, &asked, phone, owner_has_account)? == Decision::AskOwnerToSignIn {
        let email = user.email.clone();
        let tenant_id = tenant.id;
        outbox::queue_now(app, Intent::SignInToJoin { email, tenant_id }).await?;
        return Ok(sent);
    }
    let request = plan_request(tenant, &department, door, user, new_user, asked, now);
    write_request(app, requester, tenant, cap, &department, &request, now).await?;
    if request.new_user {
        return Ok(sent);
    }
    Ok(JoinOutcome::Joined(Joined {
        tenant_id: tenant.id,
        member_id: request.member.id,
        user_id: request.user.id,
        status: MemberStatus::Pending,
        account_created: false,
    }))
}

/// What a request to join asks for, validated.
#[derive(Debug)]
struct Asked {
    /// A new person's address (absent when signed in).
    email: Option<String>,
    position: Option<String>,
    work_number: Option<String>,
    location: Option<String>,
}

/// The body's checks: a signed-in person joins as their account (no email, name or password);
/// a new person gives an email.
fn check_request(input: &JoinInput, signed_in: bool) -> ApiResult<Asked> {
    let mut checks = Checks::new();
    let text = |checks: &mut Checks, field: &str, value: Option<&str>| {
        validate::optional_text(checks, field, value, validate::MAX_SHORT_TEXT)
    };
    let position = text(&mut checks, "position", input.position.as_deref());
    let work_number = text(&mut checks, "work_number", input.work_number.as_deref());
    let location = text(&mut checks, "location", input.location.as_deref());
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
    Ok(Asked {
        email,
        position,
        work_number,
        location,
    })
}

/// What a request through an open link leads to.
#[derive(Debug, PartialEq)]
enum Decision {
    /// A join request, under the cap of pending public requests.
    Request,
    /// Nothing but a mail: the address has an account, whose owner signs in and asks again.
    AskOwnerToSignIn,
}

/// The tenant's required fields (`phone`: from the request or the account), then room under the
/// `cap` of pending public requests (the member quota is not asked: approval takes its place);
/// an address that has an account, when nobody signed in, gets only a mail.
fn decide(
    tenant: &Tenant,
    cap: u32,
    asked: &Asked,
    phone: Option<&str>,
    owner_has_account: bool,
) -> ApiResult<Decision> {
    let mut checks = Checks::new();
    for field in &tenant.settings.join_rules.required_fields {
        let (name, given) = match field {
            JoinField::Position => ("position", asked.position.is_some()),
            JoinField::WorkNumber => ("work_number", asked.work_number.is_some()),
            JoinField::Location => ("location", asked.location.is_some()),
            JoinField::Phone => ("phone", phone.is_some_and(|p| !p.trim().is_empty())),
        };
        checks.check(given, name, "is required by this organization's join rules");
    }
    checks.finish()?;
    if tenant.public_request_count >= cap {
        return Err(super::requests_capped(cap));
    }
    Ok(if owner_has_account {
        Decision::AskOwnerToSignIn
    } else {
        Decision::Request
    })
}

/// A join request to write: the pending member, the person, and the link it came through (none
/// through the join number).
struct JoinRequest {
    member: Member,
    user: User,
    /// The person's account is new (unproven; a verification link goes with it).
    new_user: bool,
    link_id: Option<Uuid>,
}

fn plan_request(
    tenant: &Tenant,
    department: &Department,
    door: &Door,
    user: User,
    new_user: bool,
    asked: Asked,
    now: OffsetDateTime,
) -> JoinRequest {
    let fields = NewMemberFields {
        role: Role::Member,
        permissions: Permissions::none(),
        position: asked.position,
        work_number: asked.work_number,
        location: asked.location,
    };
    let (via, source, link_id) = match door {
        Door::Link(link) => (JoinVia::JoinLink, MemberSource::JoinLink, Some(link.id)),
        Door::Number => (JoinVia::JoinNumber, MemberSource::JoinNumber, None),
    };
    let info = JoinRequestInfo {
        via,
        invitation_id: None,
        join_link_id: link_id,
        requested_at: now,
        decided_at: None,
        decided_by: None,
        reason: None,
    };
    let status = MemberStatus::Pending;
    let member = new_member(
        tenant,
        department,
        &user,
        fields,
        status,
        source,
        Some(info),
        now,
    );
    JoinRequest {
        member,
        user,
        new_user,
        link_id,
    }
}

/// One transaction: a use of the link (conditioned on it still taking requests), the new account
/// and its verification link, the pending member, its place under the tenant's `cap` of pending
/// public requests, audit. Returns the verification mail to send.
async fn write_request(
    app: &App,
    requester: &Requester,
    tenant: &Tenant,
    cap: u32,
    department: &Department,
    request: &JoinRequest,
    now: OffsetDateTime,
) -> ApiResult<()> {
    let JoinRequest { member, user, .. } = request;
    let mut tx = Transaction::new();
    // First action: a link used up or revoked meanwhile answers as such.
    if let Some(link_id) = request.link_id {
        tx.update(
            &Key::join_link(tenant.id, link_id),
            Update::new("ADD uses :one").value(":one", num(1)),
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
    }
    if request.new_user {
        user.add_new(&mut tx)?;
        let email = user.email.clone();
        outbox::queue(app, &mut tx, Intent::Verification { email })?;
    }
    add_member_items(&mut tx, member, department, now)?;
    tx.update(
        &Key::tenant(tenant.id),
        Update::new("ADD join_request_count :one, public_request_count :one").value(":one", num(1)),
        Some((
            Condition::new(
                "attribute_not_exists(public_request_count) OR public_request_count < :cap",
            )
            .value(":cap", num(cap)),
            super::requests_capped(cap),
        )),
    )?;
    let change = Change {
        tenant_id: tenant.id,
        action: "join_request.create",
        target_type: "member",
        target_id: member.id,
        before: None,
        after: audit::snapshot(&MemberView::from(member)),
    };
    audit::record(app, &mut tx, &person_caller(requester, user.id), change)?;
    app.store.transact(tx).await
}

#[cfg(test)]
mod tests {
    use super::super::links::fixtures::link;
    use super::*;
    use crate::invitations::fixtures::{NOW, root, tenant};

    const CAP: u32 = 100;

    fn code<T: std::fmt::Debug>(result: ApiResult<T>) -> Option<&'static str> {
        result.err().map(|e| e.code())
    }

    fn nothing_asked() -> Asked {
        Asked {
            email: None,
            position: None,
            work_number: None,
            location: None,
        }
    }

    #[test]
    fn only_an_active_link_takes_requests() {
        let mut l = link(Uuid::nil());
        assert!(usable(&l, NOW).is_ok());
        l.max_uses = Some(1);
        l.uses = 1;
        assert_eq!(code(usable(&l, NOW)), Some("invitation_used"));
        l.max_uses = None;
        l.expires_at = Some(NOW);
        assert_eq!(code(usable(&l, NOW)), Some("invitation_expired"));
        l.expires_at = None;
        l.revoked = true;
        assert_eq!(code(usable(&l, NOW)), Some("invitation_used"));
    }

    #[test]
    fn a_new_person_gives_an_email_and_a_signed_in_one_gives_no_account_fields() {
        let anonymous = JoinInput::default();
        assert_eq!(
            code(check_request(&anonymous, false)),
            Some("validation_failed")
        );
        let with_email = JoinInput {
            email: Some("Ada@Example.com".into()),
            ..JoinInput::default()
        };
        let asked = check_request(&with_email, false).expect("a valid request");
        assert_eq!(asked.email.as_deref(), Some("ada@example.com"));
        assert_eq!(
            code(check_request(&with_email, true)),
            Some("validation_failed")
        );
        let with_name = JoinInput {
            name: Some("Ada".into()),
            ..JoinInput::default()
        };
        assert_eq!(
            code(check_request(&with_name, true)),
            Some("validation_failed")
        );
        assert!(check_request(&JoinInput::default(), true).is_ok());
    }

    #[test]
    fn the_tenants_required_fields_must_be_given() {
        let mut t = tenant();
        t.settings.join_rules.required_fields = vec![JoinField::Position, JoinField::Phone];
        let Err(ApiError::Validation(missing)) =
            decide(&t, CAP, &nothing_asked(), Some("  "), false)
        else {
            panic!("missing required fields were accepted");
        };
        let missing: Vec<&str> = missing.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(missing, ["position", "phone"]);
        let given = Asked {
            position: Some("Engineer".into()),
            ..nothing_asked()
        };
        // The phone may come from the account.
        assert_eq!(
            decide(&t, CAP, &given, Some("+1 555"), false).ok(),
            Some(Decision::Request)
        );
    }

    #[test]
    fn a_full_cap_of_public_requests_refuses_after_the_required_fields() {
        let mut t = tenant();
        // The member quota is not a public door's business.
        t.quota_used = t.member_quota;
        assert_eq!(
            decide(&t, CAP, &nothing_asked(), None, false).ok(),
            Some(Decision::Request)
        );
        t.public_request_count = CAP;
        assert_eq!(
            code(decide(&t, CAP, &nothing_asked(), None, false)),
            Some("quota_exceeded")
        );
        assert_eq!(
            code(decide(&t, CAP, &nothing_asked(), None, true)),
            Some("quota_exceeded")
        );
        t.settings.join_rules.required_fields = vec![JoinField::Location];
        assert_eq!(
            code(decide(&t, CAP, &nothing_asked(), None, false)),
            Some("validation_failed")
        );
    }

    #[test]
    fn an_address_with_an_account_gets_only_a_mail() {
        let t = tenant();
        let decided = decide(&t, CAP, &nothing_asked(), None, true);
        assert_eq!(decided.ok(), Some(Decision::AskOwnerToSignIn));
    }

    #[test]
    fn a_request_is_a_pending_plain_member_naming_its_link() {
        let t = tenant();
        let l = link(t.id);
        let user = User::new(NOW, "ada@example.com".into(), "Ada".into(), "en".into());
        let asked = Asked {
            location: Some("Berlin".into()),
            ..nothing_asked()
        };
        let request = plan_request(
            &t,
            &root(&t),
            &Door::Link(l.clone()),
            user,
            true,
            asked,
            NOW,
        );
        let m = &request.member;
        assert_eq!(m.status, MemberStatus::Pending);
        assert_eq!(m.role, Role::Member);
        assert_eq!(m.source, MemberSource::JoinLink);
        assert_eq!(m.location.as_deref(), Some("Berlin"));
        assert_eq!(m.user_id, request.user.id);
        let info = m.join_request.as_ref().expect("a join request");
        assert_eq!(
            (info.via, info.join_link_id),
            (JoinVia::JoinLink, Some(l.id))
        );
        assert_eq!(request.link_id, Some(l.id));
    }

    #[test]
    fn a_request_by_number_lands_in_the_root_and_names_no_link() {
        let t = tenant();
        let user = User::new(NOW, "ada@example.com".into(), "Ada".into(), "en".into());
        let door = Door::Number;
        assert_eq!(door.department_id(&t), t.root_department_id);
        let request = plan_request(&t, &root(&t), &door, user, true, nothing_asked(), NOW);
        let m = &request.member;
        assert_eq!(m.status, MemberStatus::Pending);
        assert_eq!(m.source, MemberSource::JoinNumber);
        let info = m.join_request.as_ref().expect("a join request");
        assert_eq!((info.via, info.join_link_id), (JoinVia::JoinNumber, None));
        assert_eq!(request.link_id, None);
    }
}
