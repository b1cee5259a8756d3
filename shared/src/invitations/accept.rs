//! Accepting an invitation: who accepts (the signed-in account, a new account, or the invitee
//! taking over an account nobody proved), whether they join directly or as a join request, and
//! the one transaction that spends the link and lets them in.

use super::admission::{
    NewMemberFields, Newcomer, add_member_items, count_attempt, department_or_root, new_account,
    new_member, person_caller, read_as_person, refuse_standing,
};
use super::invitation::{Invitation, InvitationStatus};
use super::preview::{live, open_link};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::joining::outcome::{JoinOutcome, Joined};
use crate::mail::{Mail, html_escape};
use crate::members::view::JoinRequestView;
use crate::members::{MemberView, quota_exceeded};
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::{JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus};
use crate::model::roles::Role;
use crate::model::tenant::Tenant;
use crate::model::user::{EmailGuard, User};
use crate::store::{Batch, Condition, Transaction, Update, from_item, num, s};
use crate::users::proof::proves_email;
use crate::validate;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
use time::OffsetDateTime;

/// What a new person gives when accepting; an existing account (signed in) gives nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// Only for an invitation by phone, accepted without signing in: the new account's address.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl AcceptInvitation {
    fn newcomer(&self) -> Newcomer<'_> {
        Newcomer {
            name: self.name.as_deref(),
            password: self.password.as_deref(),
            phone: self.phone.as_deref(),
        }
    }
}

/// Accepts an invitation. Signed in (any token of the person), the invitation must be for the
/// account's email; otherwise a new account is created with `{name, password}`. Joins directly,
/// or as a pending request when the tenant wants approval for invitations sent by non-admins.
///
/// The mailed link reached the invited address, so accepting with it proves it (the proof
/// module decides: `users::proof::proves_email`). An address whose account nobody
/// proved yet (someone registered it through a public join link) is taken over the same way: the
/// invitee's name and password replace whatever the registrant chose, and the registrant's
/// sessions and links end.
///
/// A texted link (an invitation by phone, or the phone's own link of one with both) proves only
/// the phone: a signed-in person accepts it with their account; a new person gets an unproven
/// account for the email (the invitation's, or the one they give when it names none) and a
/// verification mail, and an account the address has is never touched (see [`accept_by_phone`]).
pub async fn accept(
    app: &App,
    requester: &Requester,
    token: &str,
    input: AcceptInvitation,
) -> ApiResult<JoinOutcome> {
    count_attempt(app, requester, "accept").await?;
    let link = open_link(app, token).await?;
    let (tenant_id, hash) = (link.tenant_id, link.hash.as_str());
    let mut batch = Batch::new();
    let invitation = batch.read::<Invitation>(Key::invitation(tenant_id, link.invitation_id));
    let tenant = batch.read::<Tenant>(Key::tenant(tenant_id));
    let (person, mut read) = read_as_person(app, requester, batch).await?;
    let invitation = read.take(invitation)?.ok_or(ApiError::NotFound)?;
    let tenant = read.take(tenant)?.ok_or(ApiError::NotFound)?.reachable()?;
    let now = app.now();
    live(&invitation, hash, now)?;
    check_body(person.is_some(), invitation.by_phone_only(), &input)?;
    // Only the link mailed to the invitation's email proves it; a texted link proves a phone.
    let unrecorded = invitation.unrecorded_delivery();
    if person.is_none() && !proves_email(&link.token, &invitation.email, unrecorded) {
        return accept_by_phone(
            app, requester, token, invitation, &tenant, &input, hash, now,
        )
        .await;
    }
    // The department may have gone since the invitation was sent: the root takes the person in.
    let mut more = app
        .store
        .get_many(&[
            Key::department(tenant_id, invitation.department_id),
            Key::department(tenant_id, tenant.root_department_id),
            Key::email(&invitation.email),
        ])
        .await?
        .into_iter();
    let department = department_or_root(more.next().flatten(), more.next().flatten())?;
    let account: Option<EmailGuard> = more.next().flatten().map(from_item).transpose()?;

    let (user, arrival) = match who_accepts(&invitation, person, account)? {
        Acceptor::SignedIn(user) => {
            refuse_standing(app, tenant_id, user.id, now).await?;
            (user, Arrival::SignedIn)
        }
        Acceptor::OwnerMustSignIn => {
            link_still_live(app, &invitation, hash, now).await?;
            // The email has an account: its owner signs in and accepts.
            return Err(ApiError::Unauthorized);
        }
        Acceptor::Newcomer(arrival) => {
            let user = newcomer_account(&tenant, &invitation, &input, &arrival, now)?;
            (user, arrival)
        }
    };
    let acceptance = plan_acceptance(invitation, &tenant, &department, user, arrival, now);
    write_acceptance(app, requester, &tenant, &department, &acceptance, hash, now).await?;
    Ok(JoinOutcome::Joined(Joined {
        tenant_id,
        member_id: acceptance.member.id,
        user_id: acceptance.user.id,
        status: acceptance.member.status,
        account_created: !matches!(acceptance.arrival, Arrival::SignedIn),
    }))
}

/// A new person accepts with a texted link: the text message proved the phone, not an address,
/// so the email (the invitation's, or the one they give when it names none) gets an unproven
/// account and a verification mail, as a public join does; an account the address has is never
/// touched. The answer is the same whether or not the address has an account (no enumeration);
/// when it has one, nothing is accepted and its owner is mailed to sign in and accept.
#[allow(clippy::too_many_arguments)]
async fn accept_by_phone(
    app: &App,
    requester: &Requester,
    token: &str,
    invitation: Invitation,
    tenant: &Tenant,
    input: &AcceptInvitation,
    hash: &str,
    now: OffsetDateTime,
) -> ApiResult<JoinOutcome> {
    let email = if invitation.by_phone_only() {
        let mut checks = Checks::new();
        let given = input.email.as_deref().unwrap_or_default();
        let email = validate::email(&mut checks, "email", given);
        checks.finish()?;
        email
    } else {
        invitation.email.clone()
    };
    let mut more = app
        .store
        .get_many(&[
            Key::department(tenant.id, invitation.department_id),
            Key::department(tenant.id, tenant.root_department_id),
            Key::email(&email),
        ])
        .await?
        .into_iter();
    let department = department_or_root(more.next().flatten(), more.next().flatten())?;
    let account: Option<EmailGuard> = more.next().flatten().map(from_item).transpose()?;
    // Built (checked, password hashed) whether or not the address has an account.
    let user = new_account(
        tenant,
        &email,
        &input.newcomer(),
        invitation.name.as_deref(),
        now,
    )?;
    let sent = JoinOutcome::VerificationSent {
        tenant_id: tenant.id,
        status: "verification_sent",
    };
    if account.is_some() {
        // An invitation naming the email mailed it a link of its own: this mail carries none.
        let link = invitation.by_phone_only().then_some(token);
        app.mail()
            .send(sign_in_to_accept_mail(app, tenant, &email, link))
            .await?;
        return Ok(sent);
    }
    let acceptance = plan_acceptance(
        invitation,
        tenant,
        &department,
        user,
        Arrival::UnprovenAccount,
        now,
    );
    if let Some(mail) =
        write_acceptance(app, requester, tenant, &department, &acceptance, hash, now).await?
    {
        app.mail().send(mail).await?;
    }
    Ok(sent)
}

/// To an address that has an account, when someone accepted an invitation with a texted link
/// and this address without signing in; `link` is the texted one for an invitation by phone only
/// (an invitation naming the address mailed it a link of its own).
fn sign_in_to_accept_mail(app: &App, tenant: &Tenant, email: &str, link: Option<&str>) -> Mail {
    let link = link.map(|token| super::mail::invitation_link(app, token));
    let (open_text, open_html) = match &link {
        Some(link) => (
            format!("sign in and open the invitation again:\n{link}"),
            format!(
                "<a href=\"{}\">sign in and open the invitation again</a>",
                html_escape(link)
            ),
        ),
        None => (
            "sign in and open the invitation mailed to this address.".to_string(),
            "sign in and open the invitation mailed to this address".to_string(),
        ),
    };
    Mail {
        to: email.to_string(),
        subject: format!("Join {} on Roster", tenant.name),
        text: format!(
            "Hello,\n\nsomeone accepted an invitation to {} on Roster with this address, which already has an account. If it was you, {open_text}\n\nIf it was not you, ignore this mail.\n",
            tenant.name
        ),
        html: format!(
            "<p>Hello,</p><p>someone accepted an invitation to <b>{}</b> on Roster with this address, which already has an account. If it was you, {open_html}.</p><p>If it was not you, ignore this mail.</p>",
            html_escape(&tenant.name),
        ),
    }
}

/// A signed-in account keeps its own name and password: the body must be empty. Only an
/// invitation by phone, accepted by a new person, takes an email.
fn check_body(signed_in: bool, by_phone_only: bool, input: &AcceptInvitation) -> ApiResult<()> {
    let mut checks = Checks::new();
    if signed_in && (input.password.is_some() || input.name.is_some() || input.email.is_some()) {
        checks.fail(
            "password",
            "a signed-in account keeps its own name and password; send an empty body",
        );
    }
    match (&input.email, by_phone_only, signed_in) {
        (Some(_), false, false) => {
            checks.fail("email", "the invitation names the email; leave it out")
        }
        (None, true, false) => checks.fail(
            "email",
            "an invitation by phone needs the email of the account to create",
        ),
        _ => {}
    }
    checks.finish()
}

/// Who accepts an invitation, as the caller and the invited address's account decide it.
#[derive(Debug)]
enum Acceptor {
    /// Signed in as the invited address: joins with the account as it is.
    SignedIn(User),
    /// Not signed in, and the address has a proven account: its owner must sign in.
    OwnerMustSignIn,
    /// Not signed in, and nobody proved the address: the invitee comes in with a new account.
    Newcomer(Arrival),
}

/// How the accepting person's account comes in with the acceptance.
#[derive(Debug)]
enum Arrival {
    /// The signed-in account, unchanged.
    SignedIn,
    /// A new account, created with the acceptance.
    NewAccount,
    /// The account nobody proved (its guard as read), taken over by the invitee.
    TakeOver(EmailGuard),
    /// A new account whose address nobody proved yet (an invitation by phone): a verification
    /// mail goes with it.
    UnprovenAccount,
}

/// Who accepts: the signed-in person, if the invitation is for their address; otherwise a
/// newcomer, unless a proven account holds the address.
fn who_accepts(
    invitation: &Invitation,
    person: Option<User>,
    account: Option<EmailGuard>,
) -> ApiResult<Acceptor> {
    if let Some(user) = person {
        // Emails are stored lowercase, so this compares them case-insensitively. An invitation
        // by phone only names no address: whoever holds its link accepts it with their account.
        if !invitation.by_phone_only() && user.email != invitation.email {
            return Err(ApiError::Forbidden(
                "the invitation is for another email; sign in with the invited account",
            ));
        }
        return Ok(Acceptor::SignedIn(user));
    }
    Ok(match account {
        Some(guard) if guard.verified => Acceptor::OwnerMustSignIn,
        Some(unproven) => Acceptor::Newcomer(Arrival::TakeOver(unproven)),
        None => Acceptor::Newcomer(Arrival::NewAccount),
    })
}

/// Refuses with the spent link when the account the address has is the one a concurrent accept
/// of this very link just created: that is the answer to give.
async fn link_still_live(
    app: &App,
    invitation: &Invitation,
    hash: &str,
    now: OffsetDateTime,
) -> ApiResult<()> {
    match app.store.get(&invitation.key()).await? {
        Some(item) => live(&from_item(item)?, hash, now),
        None => Ok(()),
    }
}

/// The newcomer's account, proven by the mailed link (see `accept`); a taken-over account keeps
/// its id.
fn newcomer_account(
    tenant: &Tenant,
    invitation: &Invitation,
    input: &AcceptInvitation,
    arrival: &Arrival,
    now: OffsetDateTime,
) -> ApiResult<User> {
    let fallback = invitation.name.as_deref();
    let mut user = new_account(tenant, &invitation.email, &input.newcomer(), fallback, now)?;
    user.email_verified = true;
    if let Arrival::TakeOver(guard) = arrival {
        user.id = guard.user_id;
    }
    Ok(user)
}

/// Invitations sent by non-admins join as join requests while the tenant's rules say so.
fn joins_as(invitation: &Invitation, tenant: &Tenant) -> MemberStatus {
    let rules = &tenant.settings.join_rules;
    if !invitation.invited_by_admin && rules.approval_for_non_admin_invitations {
        MemberStatus::Pending
    } else {
        MemberStatus::Active
    }
}

/// What accepting writes: the invitation spent, the member (or join request) it becomes, and
/// the account that comes in.
struct Acceptance {
    before: Invitation,
    after: Invitation,
    member: Member,
    user: User,
    arrival: Arrival,
}

impl Acceptance {
    fn is_join_request(&self) -> bool {
        self.member.status == MemberStatus::Pending
    }
}

fn plan_acceptance(
    invitation: Invitation,
    tenant: &Tenant,
    department: &Department,
    user: User,
    arrival: Arrival,
    now: OffsetDateTime,
) -> Acceptance {
    let status = joins_as(&invitation, tenant);
    let join_request = (status == MemberStatus::Pending)
        .then(|| JoinRequestInfo::pending(JoinVia::Invitation, Some(invitation.id), None, now));
    let fields = NewMemberFields {
        role: invitation.role,
        permissions: invitation.permissions.clone(),
        position: invitation.position.clone(),
        work_number: None,
        location: None,
    };
    let source = MemberSource::Invitation;
    let member = new_member(
        tenant,
        department,
        &user,
        fields,
        status,
        source,
        join_request,
        now,
    );
    let mut after = invitation.clone();
    after.status = InvitationStatus::Accepted;
    after.accepted_at = Some(now);
    after.member_id = Some(member.id);
    after.holds_quota = false;
    after.updated_at = now;
    after.version += 1;
    Acceptance {
        before: invitation,
        after,
        member,
        user,
        arrival,
    }
}

/// One transaction: the link spent (conditioned on it still being the live link), the email's
/// guard gone, the account created or taken over, the member, the quota place passed on, audit.
async fn write_acceptance(
    app: &App,
    requester: &Requester,
    tenant: &Tenant,
    department: &Department,
    acceptance: &Acceptance,
    hash: &str,
    now: OffsetDateTime,
) -> ApiResult<Option<Mail>> {
    let Acceptance { before, after, .. } = acceptance;
    let mut tx = Transaction::new();
    // First action: when concurrent accepts race, the losers report the spent link.
    tx.put(
        after.to_item()?,
        Some((
            Condition::new(
                "#status = :pending AND (token_hash = :hash OR text_token_hash = :hash) \
                 AND expires_epoch > :now AND holds_quota = :true AND #version = :version",
            )
            .name("#status", "status")
            .name("#version", "version")
            .value(":pending", s("pending"))
            .value(":hash", s(hash))
            .value(":now", num(now.unix_timestamp()))
            .value(":true", AttributeValue::Bool(true))
            .value(":version", num(before.version)),
            ApiError::InvitationUsed,
        )),
    )?;
    tx.delete(
        &before.guard_key(),
        Some((
            Condition::new("invitation_id = :id").value(":id", s(before.id.to_string())),
            ApiError::InvitationUsed,
        )),
    )?;
    let mut verification = None;
    let mut copies = Vec::new();
    match &acceptance.arrival {
        Arrival::NewAccount => acceptance.user.add_new(&mut tx)?,
        Arrival::UnprovenAccount => {
            acceptance.user.add_new(&mut tx)?;
            verification = Some(crate::users::proof::add_verification(
                app,
                &mut tx,
                &acceptance.user,
            )?);
        }
        Arrival::TakeOver(guard) => {
            copies = take_over_unproven(app, &mut tx, &acceptance.user, guard).await?
        }
        Arrival::SignedIn => {}
    }
    add_member_items(&mut tx, &acceptance.member, department, now)?;
    pass_quota_place(&mut tx, tenant, acceptance)?;
    audit_acceptance(app, &mut tx, requester, acceptance, now)?;
    crate::users::proof::commit_with_copies(app, tx, copies).await?;
    Ok(verification)
}

/// The invitation's place in the quota passes to the member (or the join request); the
/// condition re-checks the quota at acceptance.
fn pass_quota_place(
    tx: &mut Transaction,
    tenant: &Tenant,
    acceptance: &Acceptance,
) -> ApiResult<()> {
    let counters = if acceptance.is_join_request() {
        Update::new("ADD invitation_count :minus, join_request_count :one")
    } else {
        let owners = i64::from(acceptance.member.role == Role::Owner);
        Update::new("ADD invitation_count :minus, member_count :one, owner_count :owners")
            .value(":owners", num(owners))
    };
    tx.update(
        &Key::tenant(tenant.id),
        counters.value(":minus", num(-1)).value(":one", num(1)),
        Some((
            Condition::new("quota_used <= member_quota")
                .and(Condition::counters_cover(&[("invitation_count", -1)])),
            quota_exceeded(tenant),
        )),
    )
}

/// Two entries, both by the accepting person: the invitation accepted, and the member joined
/// (or the join request made).
fn audit_acceptance(
    app: &App,
    tx: &mut Transaction,
    requester: &Requester,
    acceptance: &Acceptance,
    now: OffsetDateTime,
) -> ApiResult<()> {
    let Acceptance {
        before,
        after,
        member,
        user,
        ..
    } = acceptance;
    let caller = person_caller(requester, user.id);
    let accepted = Change {
        tenant_id: before.tenant_id,
        action: "invitation.accept",
        target_type: "invitation",
        target_id: before.id,
        before: audit::snapshot(&before.view(now)),
        after: audit::snapshot(&after.view(now)),
    };
    audit::record(app, tx, &caller, accepted)?;
    let tenant_id = before.tenant_id;
    let event = EventType::InvitationAccepted;
    events::record(app, tx, &caller, tenant_id, event, &after.view(now))?;
    if acceptance.is_join_request() {
        let request = JoinRequestView::from(member);
        events::record(
            app,
            tx,
            &caller,
            tenant_id,
            EventType::JoinRequestCreated,
            &request,
        )?;
    } else {
        let view = MemberView::from(member);
        events::record(app, tx, &caller, tenant_id, EventType::MemberCreated, &view)?;
    }
    let joined = Change {
        tenant_id: before.tenant_id,
        action: if acceptance.is_join_request() {
            "join_request.create"
        } else {
            "member.join"
        },
        target_type: "member",
        target_id: member.id,
        before: None,
        after: audit::snapshot(&MemberView::from(member)),
    };
    audit::record(app, tx, &caller, joined)
}

/// The invitee proved an address whose account nobody had proven: `user` (built from what the
/// invitee sent, with the account's id) replaces the registrant's name, phone and password, the
/// address becomes proven, and every session and link of the account ends. Its memberships'
/// copies, each with its event, come back to be committed after, as many per transaction as fit.
async fn take_over_unproven(
    app: &App,
    tx: &mut Transaction,
    user: &User,
    guard: &EmailGuard,
) -> ApiResult<Vec<Transaction>> {
    let changed = || ApiError::Conflict("the account changed at the same time; retry".into());
    tx.update(
        &Key::email(&user.email),
        Update::new("SET verified = :proven_now").value(":proven_now", AttributeValue::Bool(true)),
        Some((guard.unchanged(), changed())),
    )?;
    tx.update(
        &Key::user(user.id),
        Update::new(
            "SET #name = :name, phone = :phone, password_hash = :hash, password_changed_at = :now, \
             updated_at = :now, email_verified = :true, session_epoch = :epoch \
             REMOVE password_must_change ADD version :one",
        )
        .name("#name", "name")
        .value(":name", s(&user.name))
        .value(
            ":phone",
            user.phone.as_deref().map_or(AttributeValue::Null(true), s),
        )
        .value(
            ":hash",
            s(user.password_hash.as_deref().unwrap_or_default()),
        )
        .value(":now", s(crate::model::time::rfc3339(app.now())))
        .value(":true", AttributeValue::Bool(true))
        .value(":epoch", num(crate::model::user::new_session_epoch()))
        .value(":one", num(1)),
        Some((Condition::exists(), changed())),
    )?;
    let person = crate::auth::Caller {
        user_id: user.id,
        kind: crate::auth::CallerKind::User,
        origin: Default::default(),
    };
    let mut copies = Vec::new();
    for member in crate::users::memberships(app, user.id).await? {
        let mut copy = Transaction::new();
        member.follow_user(
            &mut copy,
            &user.name,
            &user.email,
            true,
            user.phone.as_deref(),
        )?;
        let followed = Member {
            name: user.name.clone(),
            email_verified: true,
            phone: user.phone.clone(),
            ..member
        };
        let view = MemberView::from(&followed);
        let event = EventType::MemberUpdated;
        events::record(app, &mut copy, &person, followed.tenant_id, event, &view)?;
        copies.push(copy);
    }
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitations::invitation::fixtures::{NOW, invitation, root, tenant};
    use crate::model::roles::Permissions;
    use uuid::Uuid;

    fn person(email: &str) -> User {
        User::new(NOW, email.into(), "Ada".into(), "en".into())
    }

    fn guard(verified: bool) -> EmailGuard {
        EmailGuard {
            user_id: Uuid::now_v7(),
            verified,
        }
    }

    #[test]
    fn a_signed_in_person_accepts_only_an_invitation_to_their_address() {
        let i = invitation(&tenant());
        let other = who_accepts(&i, Some(person("grace@example.com")), Some(guard(true)));
        assert_eq!(other.err().map(|e| e.code()), Some("forbidden"));
        let same = who_accepts(&i, Some(person(&i.email)), Some(guard(true)));
        assert!(matches!(same, Ok(Acceptor::SignedIn(u)) if u.email == i.email));
    }

    #[test]
    fn a_proven_account_must_sign_in_first() {
        let i = invitation(&tenant());
        let acceptor = who_accepts(&i, None, Some(guard(true)));
        assert!(matches!(acceptor, Ok(Acceptor::OwnerMustSignIn)));
    }

    #[test]
    fn an_unproven_account_is_taken_over_and_no_account_is_created() {
        let i = invitation(&tenant());
        let unproven = guard(false);
        let taken = who_accepts(&i, None, Some(unproven.clone()));
        assert!(
            matches!(taken, Ok(Acceptor::Newcomer(Arrival::TakeOver(g))) if g.user_id == unproven.user_id)
        );
        let created = who_accepts(&i, None, None);
        assert!(matches!(
            created,
            Ok(Acceptor::Newcomer(Arrival::NewAccount))
        ));
    }

    #[test]
    fn a_signed_in_account_sends_an_empty_body() {
        let with_password = AcceptInvitation {
            password: Some("a long enough passphrase".into()),
            ..AcceptInvitation::default()
        };
        let refused = check_body(true, false, &with_password);
        assert_eq!(refused.err().map(|e| e.code()), Some("validation_failed"));
        assert!(check_body(false, false, &with_password).is_ok());
        assert!(check_body(true, false, &AcceptInvitation::default()).is_ok());
        // An email only where the invitation names none and nobody is signed in.
        let with_email = AcceptInvitation {
            email: Some("ada@example.com".into()),
            ..with_password
        };
        assert!(check_body(false, true, &with_email).is_ok());
        assert!(check_body(false, false, &with_email).is_err());
        assert!(check_body(true, true, &with_email).is_err());
        assert!(check_body(false, true, &AcceptInvitation::default()).is_err());
        assert!(check_body(true, true, &AcceptInvitation::default()).is_ok());
    }

    #[test]
    fn the_newcomer_proves_the_address_and_keeps_a_taken_over_accounts_id() {
        let t = tenant();
        let i = invitation(&t);
        let input = AcceptInvitation {
            password: Some("a long enough passphrase".into()),
            ..AcceptInvitation::default()
        };
        let unproven = guard(false);
        let arrival = Arrival::TakeOver(unproven.clone());
        let user = newcomer_account(&t, &i, &input, &arrival, NOW).expect("a valid newcomer");
        assert_eq!(user.id, unproven.user_id);
        assert!(user.email_verified);
        // The invitation's name stands in for the one the newcomer did not give.
        assert_eq!(Some(user.name), i.name);
    }

    #[test]
    fn only_non_admins_invitations_wait_for_approval_and_only_when_the_rules_say_so() {
        let mut t = tenant();
        let mut i = invitation(&t);
        assert_eq!(joins_as(&i, &t), MemberStatus::Active);
        t.settings.join_rules.approval_for_non_admin_invitations = true;
        assert_eq!(joins_as(&i, &t), MemberStatus::Active);
        i.invited_by_admin = false;
        assert_eq!(joins_as(&i, &t), MemberStatus::Pending);
        t.settings.join_rules.approval_for_non_admin_invitations = false;
        assert_eq!(joins_as(&i, &t), MemberStatus::Active);
    }

    #[test]
    fn accepting_spends_the_invitation_into_a_member_as_invited() {
        let t = tenant();
        let mut i = invitation(&t);
        i.role = Role::Admin;
        i.permissions = Permissions::none();
        let user = person(&i.email);
        let a = plan_acceptance(i.clone(), &t, &root(&t), user, Arrival::SignedIn, NOW);
        assert_eq!(a.after.status, InvitationStatus::Accepted);
        assert_eq!(a.after.accepted_at, Some(NOW));
        assert_eq!(a.after.member_id, Some(a.member.id));
        assert!(!a.after.holds_quota);
        assert_eq!(a.after.version, i.version + 1);
        assert_eq!(a.member.status, MemberStatus::Active);
        assert_eq!(a.member.role, Role::Admin);
        assert_eq!(a.member.position, i.position);
        assert_eq!(a.member.source, MemberSource::Invitation);
        assert!(a.member.join_request.is_none());
        assert!(!a.is_join_request());
    }

    #[test]
    fn a_non_admins_invitation_under_approval_becomes_a_join_request() {
        let mut t = tenant();
        t.settings.join_rules.approval_for_non_admin_invitations = true;
        let mut i = invitation(&t);
        i.invited_by_admin = false;
        let user = person(&i.email);
        let a = plan_acceptance(i.clone(), &t, &root(&t), user, Arrival::NewAccount, NOW);
        assert!(a.is_join_request());
        let info = a.member.join_request.expect("a join request");
        assert_eq!(info.via, JoinVia::Invitation);
        assert_eq!(info.invitation_id, Some(i.id));
        assert_eq!(info.requested_at, NOW);
    }
}
