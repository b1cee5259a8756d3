//! Opening a join code or the tenant's join number, their public preview, and asking to join
//! through them.

use super::filing::{RequestedFields, plan_request, write_request};
use super::links::{JoinLink, JoinLinkState};
use super::outcome::{JoinOutcome, Joined};
use crate::app::App;
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::invitations::admission::{
    Newcomer, count_attempt, department_or_root, new_account, open_token, person_caller,
    read_as_person, refuse_standing,
};
use crate::invitations::branding_for;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::MemberStatus;
use crate::model::tenant::{Branding, JoinField, Tenant};
use crate::model::user::TokenPurpose;
use crate::outbox::{self, Intent, QueuedJoin};
use crate::store::{Batch, Transaction, from_item};
use crate::validate;
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

    /// The link requests through this door use (none through the join number).
    fn link_id(&self) -> Option<Uuid> {
        match self {
            Self::Link(link) => Some(link.id),
            Self::Number => None,
        }
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

/// Asks to join through a link: a pending join request under the tenant's cap of pending public
/// requests (not in the member quota), counting one use of the link (see [`super::filing`]).
///
/// A new person's request is queued and filed by the outbox worker: they get an unproven account
/// (it cannot sign in until the address is proven by the verification link mailed with it). For
/// an address that already has an account nothing is created — its owner gets a mail asking them
/// to sign in and join — and the answer, and the work done before it, is the same.
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
    let cap = app.config.limits.pending_join_requests;
    if requester.token.is_none() {
        return queue_new_person(app, requester, door, tenant, &input, asked).await;
    }
    let mut batch = Batch::new();
    let department = batch.read_item(Key::department(tenant.id, department_id));
    let root = batch.read_item(Key::department(tenant.id, tenant.root_department_id));
    let (person, mut read) = read_as_person(app, requester, batch).await?;
    let user = person.ok_or(ApiError::Unauthorized)?;
    let department = department_or_root(read.take_item(department), read.take_item(root))?;
    refuse_standing(app, tenant.id, user.id, now).await?;
    // The tenant's required fields, from the request or (phone) the account.
    let phone = input.phone.as_deref().or(user.phone.as_deref());
    check_rules(tenant, cap, &asked, phone)?;
    let request = plan_request(tenant, &department, door.link_id(), user, asked.fields, now);
    let mut tx = Transaction::new();
    let caller = person_caller(requester, request.user.id);
    write_request(app, &mut tx, cap, &department, &request, &caller, now)?;
    app.store.transact(tx).await?;
    Ok(JoinOutcome::Joined(Joined {
        tenant_id: tenant.id,
        member_id: request.member.id,
        user_id: request.user.id,
        status: MemberStatus::Pending,
        account_created: false,
    }))
}

/// A new person's request: checked (the body, the tenant's rules, room under the cap), the
/// password hashed, and queued whole for the outbox worker, which files it or — when the address
/// has an account — mails the owner to sign in and ask again. The answer reads nothing about
/// the address, so it does the same work, and takes the same time, whoever has it.
async fn queue_new_person(
    app: &App,
    requester: &Requester,
    door: &Door,
    tenant: &Tenant,
    input: &JoinInput,
    asked: Asked,
) -> ApiResult<JoinOutcome> {
    let now = app.now();
    let email = asked.email.clone().unwrap_or_default();
    let user = new_account(tenant, &email, &input.newcomer(), None, now)?;
    let phone = input.phone.as_deref().or(user.phone.as_deref());
    check_rules(
        tenant,
        app.config.limits.pending_join_requests,
        &asked,
        phone,
    )?;
    let fields = asked.fields;
    let queued = QueuedJoin {
        tenant_id: tenant.id,
        department_id: door.department_id(tenant),
        link_id: door.link_id(),
        user,
        position: fields.position,
        work_number: fields.work_number,
        location: fields.location,
        requested_at: now,
        source_ip: requester.origin.source_ip.clone(),
        user_agent: requester.origin.user_agent.clone(),
    };
    outbox::queue_now(app, Intent::Join(Box::new(queued))).await?;
    Ok(JoinOutcome::VerificationSent {
        tenant_id: tenant.id,
        status: "verification_sent",
    })
}

/// What a request to join asks for, validated.
#[derive(Debug)]
struct Asked {
    /// A new person's address (absent when signed in).
    email: Option<String>,
    fields: RequestedFields,
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
        fields: RequestedFields {
            position,
            work_number,
            location,
        },
    })
}

/// The tenant's required fields (`phone`: from the request or the account), then room under the
/// `cap` of pending public requests (the member quota is not asked: approval takes its place).
fn check_rules(tenant: &Tenant, cap: u32, asked: &Asked, phone: Option<&str>) -> ApiResult<()> {
    let mut checks = Checks::new();
    let fields = &asked.fields;
    for field in &tenant.settings.join_rules.required_fields {
        let (name, given) = match field {
            JoinField::Position => ("position", fields.position.is_some()),
            JoinField::WorkNumber => ("work_number", fields.work_number.is_some()),
            JoinField::Location => ("location", fields.location.is_some()),
            JoinField::Phone => ("phone", phone.is_some_and(|p| !p.trim().is_empty())),
        };
        checks.check(given, name, "is required by this organization's join rules");
    }
    checks.finish()?;
    if tenant.public_request_count >= cap {
        return Err(super::public::requests_capped(cap));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::links::fixtures::link;
    use super::*;
    use crate::invitations::fixtures::{NOW, tenant};

    const CAP: u32 = 100;

    fn code<T: std::fmt::Debug>(result: ApiResult<T>) -> Option<&'static str> {
        result.err().map(|e| e.code())
    }

    fn nothing_asked() -> Asked {
        Asked {
            email: None,
            fields: RequestedFields::default(),
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
        let Err(ApiError::Validation(missing)) = check_rules(&t, CAP, &nothing_asked(), Some("  "))
        else {
            panic!("missing required fields were accepted");
        };
        let missing: Vec<&str> = missing.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(missing, ["position", "phone"]);
        let given = Asked {
            fields: RequestedFields {
                position: Some("Engineer".into()),
                ..RequestedFields::default()
            },
            ..nothing_asked()
        };
        // The phone may come from the account.
        assert!(check_rules(&t, CAP, &given, Some("+1 555")).is_ok());
    }

    #[test]
    fn a_full_cap_of_public_requests_refuses_after_the_required_fields() {
        let mut t = tenant();
        // The member quota is not a public door's business.
        t.quota_used = t.member_quota;
        assert!(check_rules(&t, CAP, &nothing_asked(), None).is_ok());
        t.public_request_count = CAP;
        assert_eq!(
            code(check_rules(&t, CAP, &nothing_asked(), None)),
            Some("quota_exceeded")
        );
        t.settings.join_rules.required_fields = vec![JoinField::Location];
        assert_eq!(
            code(check_rules(&t, CAP, &nothing_asked(), None)),
            Some("validation_failed")
        );
    }

    #[test]
    fn a_request_by_number_lands_in_the_root_and_a_link_in_its_department() {
        let t = tenant();
        assert_eq!(Door::Number.department_id(&t), t.root_department_id);
        assert_eq!(Door::Number.link_id(), None);
        let mut l = link(t.id);
        let department = Uuid::now_v7();
        l.department_id = Some(department);
        let door = Door::Link(l.clone());
        assert_eq!(door.department_id(&t), department);
        assert_eq!(door.link_id(), Some(l.id));
    }
}
