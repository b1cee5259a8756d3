//! Filing a join request: the pending member, a use of its link and its place under the tenant's
//! cap of pending public requests, in one transaction under conditions, so neither the cap nor a
//! link's `max_uses` can be overrun by concurrent requests. A signed-in person's request is filed
//! by the answer; a new person's is queued by the answer and filed by the outbox worker
//! ([`file_queued`]), with the new account.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Caller, CallerKind, Origin};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::invitations::admission::{NewMemberFields, add_member_items, new_member};
use crate::members::MemberView;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::{JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus};
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::Tenant;
use crate::model::user::User;
use crate::outbox::QueuedJoin;
use crate::store::{Condition, Transaction, Update, from_item, num};
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use uuid::Uuid;

/// The organisation fields a request to join gives, validated.
#[derive(Debug, Default)]
pub(super) struct RequestedFields {
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
}

/// A join request to write: the pending member, the person, and the link it came through (none
/// through the join number).
pub(super) struct JoinRequest {
    pub member: Member,
    pub user: User,
    pub link_id: Option<Uuid>,
}

/// The pending plain member a request through `link_id` (none: the join number) makes.
pub(super) fn plan_request(
    tenant: &Tenant,
    department: &Department,
    link_id: Option<Uuid>,
    user: User,
    fields: RequestedFields,
    now: OffsetDateTime,
) -> JoinRequest {
    let fields = NewMemberFields {
        role: Role::Member,
        permissions: Permissions::none(),
        position: fields.position,
        work_number: fields.work_number,
        location: fields.location,
    };
    let (via, source) = match link_id {
        Some(_) => (JoinVia::JoinLink, MemberSource::JoinLink),
        None => (JoinVia::JoinNumber, MemberSource::JoinNumber),
    };
    let info = JoinRequestInfo::pending(via, None, link_id, now);
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
        link_id,
    }
}

/// Adds to `tx` a use of the link (conditioned on it still taking requests at `now`), the pending
/// member, its place under the tenant's `cap` of pending public requests, and audit.
pub(super) fn write_request(
    app: &App,
    tx: &mut Transaction,
    cap: u32,
    department: &Department,
    request: &JoinRequest,
    caller: &Caller,
    now: OffsetDateTime,
) -> ApiResult<()> {
    let JoinRequest { member, .. } = request;
    let tenant_id = member.tenant_id;
    // First action: a link used up or revoked meanwhile answers as such.
    if let Some(link_id) = request.link_id {
        tx.update(
            &Key::join_link(tenant_id, link_id),
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
    add_member_items(tx, member, department, now)?;
    tx.update(
        &Key::tenant(tenant_id),
        Update::new("ADD join_request_count :one, public_request_count :one").value(":one", num(1)),
        Some((
            Condition::new(
                "attribute_not_exists(public_request_count) OR public_request_count < :cap",
            )
            .value(":cap", num(cap)),
            super::public::requests_capped(cap),
        )),
    )?;
    let change = Change {
        tenant_id,
        action: "join_request.create",
        target_type: "member",
        target_id: member.id,
        before: None,
        after: audit::snapshot(&MemberView::from(member)),
    };
    audit::record(app, tx, caller, change)?;
    let request = crate::members::view::JoinRequestView::from(member);
    events::record(
        app,
        tx,
        caller,
        tenant_id,
        EventType::JoinRequestCreated,
        &request,
    )
}

/// Adds to `tx` what a new person's queued request files: their account (unproven; the caller
/// adds its verification link) and the request, into the department asked for or the root when
/// it has gone. A tenant deleting by now answers 404; the transaction's conditions refuse a link
/// or a cap that filled meanwhile, or an address someone registered meanwhile.
pub async fn file_queued(app: &App, tx: &mut Transaction, queued: &QueuedJoin) -> ApiResult<()> {
    let keys = [
        Key::tenant(queued.tenant_id),
        Key::department(queued.tenant_id, queued.department_id),
    ];
    let mut items = app.store.get_many(&keys).await?.into_iter();
    let tenant: Tenant =
        from_item::<Tenant>(items.next().flatten().ok_or(ApiError::NotFound)?)?.reachable()?;
    let department = match items.next().flatten() {
        Some(item) => from_item(item)?,
        None => {
            let root = Key::department(tenant.id, tenant.root_department_id);
            from_item(app.store.get(&root).await?.ok_or(ApiError::NotFound)?)?
        }
    };
    let fields = RequestedFields {
        position: queued.position.clone(),
        work_number: queued.work_number.clone(),
        location: queued.location.clone(),
    };
    let user = queued.user.clone();
    let request = plan_request(
        &tenant,
        &department,
        queued.link_id,
        user,
        fields,
        queued.requested_at,
    );
    let caller = Caller {
        user_id: request.user.id,
        kind: CallerKind::User,
        origin: Origin {
            source_ip: queued.source_ip.clone(),
            user_agent: queued.user_agent.clone(),
        },
    };
    request.user.add_new(tx)?;
    let cap = app.config.limits.pending_join_requests;
    write_request(app, tx, cap, &department, &request, &caller, app.now())
}

#[cfg(test)]
mod tests {
    use super::super::links::fixtures::link;
    use super::*;
    use crate::invitations::fixtures::{NOW, root, tenant};

    fn ada() -> User {
        User::new(NOW, "ada@example.com".into(), "Ada".into(), "en".into())
    }

    #[test]
    fn a_request_is_a_pending_plain_member_naming_its_link() {
        let t = tenant();
        let l = link(t.id);
        let fields = RequestedFields {
            location: Some("Berlin".into()),
            ..RequestedFields::default()
        };
        let request = plan_request(&t, &root(&t), Some(l.id), ada(), fields, NOW);
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
    fn a_request_by_number_names_no_link() {
        let t = tenant();
        let fields = RequestedFields::default();
        let request = plan_request(&t, &root(&t), None, ada(), fields, NOW);
        let m = &request.member;
        assert_eq!(m.status, MemberStatus::Pending);
        assert_eq!(m.source, MemberSource::JoinNumber);
        let info = m.join_request.as_ref().expect("a join request");
        assert_eq!((info.via, info.join_link_id), (JoinVia::JoinNumber, None));
        assert_eq!(request.link_id, None);
    }
}
