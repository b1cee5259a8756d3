//! Bulk edits of up to 1000 members: every id is checked before anything is written (a request
//! with a bad id changes nothing and lists each failing id), then the changes go out in
//! transactions within DynamoDB's 100 actions. If a later transaction loses a race, the earlier
//! ones are put back, so the request still takes effect entirely or not at all.

use super::MemberView;
use super::counts::last_owner;
use super::create::org_text;
use super::edit::StatusInput;
use super::edit::update_event;
use super::policy::may_manage;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Need, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks, FieldError};
use crate::events::{self, EventType};
use crate::model::department::Department;
use crate::model::keys::{GSI2, Key, tree_position};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::{Permission, Role};
use crate::model::time::rfc3339;
use crate::store::{
    Batch, Condition, Item, MAX_TRANSACTION_ACTIONS, Slot, Transaction, Update, from_item, num, s,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MAX_BULK: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdate {
    pub member_ids: Vec<Uuid>,
    pub set: BulkFields,
}

/// The only fields a bulk update may set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkFields {
    #[serde(default)]
    pub department_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub position: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub location: Option<Option<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkStatus {
    pub member_ids: Vec<Uuid>,
    pub status: StatusInput,
}

#[derive(Debug, Serialize)]
pub struct BulkResult {
    /// Members whose fields changed (the others already had the values).
    pub updated: usize,
    pub member_ids: Vec<Uuid>,
}

fn check_ids(checks: &mut Checks, ids: &[Uuid]) -> Vec<Uuid> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        checks.fail("member_ids", format!("must hold 1 to {MAX_BULK} ids"));
    }
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    unique
}

/// One member's change: its key, its version, the update and the update that puts it back,
/// with the event of each.
struct Edit {
    member_id: Uuid,
    key: Key,
    forward: Update,
    backward: Update,
    version: u64,
    old_department: Uuid,
    event: (EventType, Value),
    undo_event: (EventType, Value),
}

/// Reads the members (with the caller, in batches of 100) and checks each; any failure refuses
/// the whole request.
async fn load(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    ids: &[Uuid],
    department: Option<Key>,
) -> ApiResult<(
    crate::auth::Access,
    crate::model::tenant::Tenant,
    Vec<(Member, String)>,
    Option<Department>,
)> {
    let mut batch = Batch::new();
    let slots: Vec<Slot<Item>> = ids
        .iter()
        .map(|m| batch.read_item(Key::member(tenant_id, *m)))
        .collect();
    let department = department.map(|key| batch.read::<Department>(key));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let department = match department {
        Some(slot) => read.take(slot)?,
        None => None,
    };
    let mut failures = Vec::new();
    let mut members = Vec::new();
    for (i, (id, slot)) in ids.iter().zip(slots).enumerate() {
        match editable(&access, i, *id, read.take_item(slot))? {
            Ok(member) => members.push(member),
            Err(failure) => failures.push(failure),
        }
    }
    if !failures.is_empty() {
        return Err(ApiError::Validation(failures));
    }
    Ok((access, tenant, members, department))
}

/// The `i`th member asked for, with its department's id path, if the caller may edit it; else
/// why not, for `member_ids[i]`.
fn editable(
    access: &crate::auth::Access,
    i: usize,
    id: Uuid,
    item: Option<Item>,
) -> ApiResult<Result<(Member, String), FieldError>> {
    let field = format!("member_ids[{i}]");
    let Some(item) = item else {
        return Ok(Err(FieldError::new(field, format!("{id}: no such member"))));
    };
    let tree = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
    let member: Member = from_item(item)?;
    Ok(match tree {
        Some(tree) if member.status.in_directory() => {
            if !may_manage(access, &member) {
                Err(FieldError::new(
                    field,
                    format!("{id}: holds permissions the caller lacks, or is an owner"),
                ))
            } else {
                let id_path = tree
                    .strip_suffix(&format!("/#{}", member.id))
                    .unwrap_or_default()
                    .to_string();
                Ok((member, id_path))
            }
        }
        _ => Err(FieldError::new(
            field,
            format!("{id}: the member is in the recycle bin"),
        )),
    })
}

/// Sets department, position and location of many members.
pub async fn update(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: BulkUpdate,
) -> ApiResult<BulkResult> {
    let mut checks = Checks::new();
    let ids = check_ids(&mut checks, &input.member_ids);
    let position = input
        .set
        .position
        .map(|p| org_text(&mut checks, "set.position", p.as_deref()));
    let location = input
        .set
        .location
        .map(|l| org_text(&mut checks, "set.location", l.as_deref()));
    if input.set.department_id.is_none() && position.is_none() && location.is_none() {
        checks.fail("set", "must set department_id, position or location");
    }
    checks.finish()?;
    let department_key = input
        .set
        .department_id
        .map(|d| Key::department(tenant_id, d));
    let (access, _, members, department) =
        load(app, requester, tenant_id, &ids, department_key).await?;
    let department = match input.set.department_id {
        Some(_) => Some(department.ok_or_else(|| {
            ApiError::invalid("set.department_id", "is not a department of this tenant")
        })?),
        None => None,
    };
    let now = app.now();
    let set = FieldValues {
        department: department.as_ref(),
        position: position.as_ref(),
        location: location.as_ref(),
    };
    let edits: Vec<Edit> = members
        .iter()
        .filter_map(|(m, id_path)| field_edit(m, id_path, &set, now))
        .collect();
    let result = BulkResult {
        updated: edits.len(),
        member_ids: edits.iter().map(|e| e.member_id).collect(),
    };
    let moves = department.as_ref().map(|d| (d.id, d.id_path.clone()));
    apply(
        app,
        &access,
        tenant_id,
        edits,
        moves,
        0,
        "member.bulk_update",
        json!({
            "department_id": input.set.department_id, "position": position, "location": location
        }),
    )
    .await?;
    Ok(result)
}

/// Enables or disables many members. The last active owner stays active.
pub async fn status(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: BulkStatus,
) -> ApiResult<BulkResult> {
    let mut checks = Checks::new();
    let ids = check_ids(&mut checks, &input.member_ids);
    checks.finish()?;
    let status = MemberStatus::from(input.status);
    let (access, tenant, members, _) = load(app, requester, tenant_id, &ids, None).await?;
    let (edits, owner_delta) = status_edits(
        &members,
        status,
        app.now(),
        crate::model::user::new_session_epoch,
    );
    if i64::from(tenant.owner_count) + owner_delta < 1 {
        return Err(last_owner());
    }
    let result = BulkResult {
        updated: edits.len(),
        member_ids: edits.iter().map(|e| e.member_id).collect(),
    };
    apply(
        app,
        &access,
        tenant_id,
        edits,
        None,
        owner_delta,
        "member.bulk_status",
        json!({"status": status}),
    )
    .await?;
    Ok(result)
}

/// The values a bulk update sets (`None`: left as they are).
struct FieldValues<'a> {
    department: Option<&'a Department>,
    position: Option<&'a Option<String>>,
    location: Option<&'a Option<String>>,
}

/// The edit that gives `m` (in the department at `id_path`) the values `set`, only for the
/// fields that differ; `None` when it has them all already.
fn field_edit(m: &Member, id_path: &str, set: &FieldValues, now: OffsetDateTime) -> Option<Edit> {
    let mut after = m.clone();
    let mut sets: Vec<&str> = Vec::new();
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    if let Some(d) = set.department.filter(|d| d.id != m.department_id) {
        sets.push("department_id = :dept, gsi2sk = :tree");
        after.department_id = d.id;
        forward.push((":dept", s(d.id.to_string())));
        forward.push((":tree", s(tree_position(&d.id_path, m.id))));
        backward.push((":dept", s(m.department_id.to_string())));
        backward.push((":tree", s(tree_position(id_path, m.id))));
    }
    if let Some(p) = set.position.filter(|p| **p != m.position) {
        sets.push("#position = :position");
        after.position = p.clone();
        forward.push((":position", opt(p)));
        backward.push((":position", opt(&m.position)));
    }
    if let Some(l) = set.location.filter(|l| **l != m.location) {
        sets.push("#location = :location");
        after.location = l.clone();
        forward.push((":location", opt(l)));
        backward.push((":location", opt(&m.location)));
    }
    (!sets.is_empty()).then(|| edit(m, &after, now, (&sets, forward), (&sets, backward)))
}

/// The edits that give the members `status` (those that have it already are left alone), and
/// how many active owners that adds or takes away. Disabling ends the member's sessions for
/// good (an undo keeps them ended).
fn status_edits(
    members: &[(Member, String)],
    status: MemberStatus,
    now: OffsetDateTime,
    mut new_session_epoch: impl FnMut() -> u64,
) -> (Vec<Edit>, i64) {
    let target = s(status_word(status));
    let mut owner_delta = 0i64;
    let mut edits = Vec::new();
    for (m, _) in members {
        if m.status == status {
            continue;
        }
        if m.role == Role::Owner {
            owner_delta += if status == MemberStatus::Active {
                1
            } else {
                -1
            };
        }
        let before = s(status_word(m.status));
        let sessions = if status == MemberStatus::Disabled {
            new_session_epoch()
        } else {
            m.session_epoch
        };
        let after = Member {
            status,
            session_epoch: sessions,
            ..m.clone()
        };
        edits.push(edit(
            m,
            &after,
            now,
            (
                &["#status = :status", "session_epoch = :sessions"],
                vec![(":status", target.clone()), (":sessions", num(sessions))],
            ),
            (&["#status = :status"], vec![(":status", before)]),
        ));
    }
    (edits, owner_delta)
}

fn status_word(status: MemberStatus) -> &'static str {
    match status {
        MemberStatus::Active => "active",
        MemberStatus::Disabled => "disabled",
        MemberStatus::Deleted => "deleted",
        MemberStatus::Pending => "pending",
        MemberStatus::Rejected => "rejected",
    }
}

fn opt(value: &Option<String>) -> aws_sdk_dynamodb::types::AttributeValue {
    match value {
        Some(v) => s(v),
        None => aws_sdk_dynamodb::types::AttributeValue::Null(true),
    }
}

/// What a side of an edit sets, and the values it sets.
type Sets<'a> = (
    &'a [&'a str],
    Vec<(&'a str, aws_sdk_dynamodb::types::AttributeValue)>,
);

/// The edit of `m` into `after` at `now`, and back; each side with its event (the member as the
/// API shows it once that side is written).
fn edit(m: &Member, after: &Member, now: OffsetDateTime, forward: Sets, backward: Sets) -> Edit {
    let shown = |member: &Member| {
        let view = MemberView::from(&Member {
            updated_at: now,
            ..member.clone()
        });
        serde_json::to_value(view).unwrap_or_default()
    };
    let event = (update_event(m.status, after.status), shown(after));
    let undo_event = (update_event(after.status, m.status), shown(m));
    let now = rfc3339(now);
    let ((forward, forward_values), (backward, backward_values)) = (forward, backward);
    let build = |sets: &[&str],
                 values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
                 version: u64| {
        let mut c = Update::new(format!(
            "SET {}, updated_at = :now, version = :next",
            sets.join(", ")
        ))
        .name("#position", "position")
        .name("#location", "location")
        .name("#status", "status")
        .value(":now", s(&now))
        .value(":next", num(version));
        for (k, v) in values {
            c = c.value(k, v);
        }
        // Placeholders a statement does not use are refused by DynamoDB: keep only used names.
        let expression = c.expression.clone();
        c.names.retain(|k, _| expression.contains(k.as_str()));
        c
    };
    Edit {
        member_id: m.id,
        key: m.key(),
        forward: build(forward, forward_values, m.version + 1),
        backward: build(backward, backward_values, m.version + 2),
        version: m.version,
        old_department: m.department_id,
        event,
        undo_event,
    }
}

/// Writes the edits in transactions of at most 100 actions (member updates, the department and
/// owner counters they move, one audit entry each); undoes applied ones if a later one fails.
#[allow(clippy::too_many_arguments)]
async fn apply(
    app: &App,
    access: &crate::auth::Access,
    tenant_id: Uuid,
    edits: Vec<Edit>,
    move_to: Option<(Uuid, String)>,
    owner_delta: i64,
    action: &str,
    what: serde_json::Value,
) -> ApiResult<()> {
    let chunks = chunked(edits, move_to.is_some());
    let mut applied: Vec<&Vec<Edit>> = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        // The owner counter moves once, with the first transaction.
        let owners = if i == 0 { owner_delta } else { 0 };
        let mut tx = Transaction::new();
        add_forward(&mut tx, tenant_id, chunk, &move_to, owners)?;
        audit::record(
            app,
            &mut tx,
            &access.caller,
            Change {
                tenant_id,
                action,
                target_type: "members",
                target_id: tenant_id,
                before: None,
                after: Some(
                    json!({"member_ids": chunk.iter().map(|e| e.member_id).collect::<Vec<_>>(), "set": what}),
                ),
            },
        )?;
        let events = chunk.iter().map(|e| e.event.clone()).collect();
        events::record_many(app, &mut tx, &access.caller, tenant_id, events)?;
        if let Err(err) = app.store.transact(tx).await {
            undo(app, access, tenant_id, &applied, &move_to, owner_delta).await;
            return Err(err);
        }
        applied.push(chunk);
    }
    Ok(())
}

/// Groups the edits so each transaction fits: members + old departments + new department (when
/// `moving`) + owner counter + audit entry + the chunk's events (one item).
fn chunked(edits: Vec<Edit>, moving: bool) -> Vec<Vec<Edit>> {
    let mut chunks: Vec<Vec<Edit>> = Vec::new();
    let mut current: Vec<Edit> = Vec::new();
    for e in edits {
        let departments: std::collections::BTreeSet<Uuid> = current
            .iter()
            .chain(std::iter::once(&e))
            .map(|x| x.old_department)
            .collect();
        let extra = if moving { departments.len() + 1 } else { 0 } + 3;
        if current.len() + 1 + extra > MAX_TRANSACTION_ACTIONS {
            chunks.push(std::mem::take(&mut current));
        }
        current.push(e);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// How many members of `chunk` leave each department.
fn departments_left(chunk: &[Edit]) -> BTreeMap<Uuid, i64> {
    let mut leaving: BTreeMap<Uuid, i64> = BTreeMap::new();
    for e in chunk {
        *leaving.entry(e.old_department).or_default() += 1;
    }
    leaving
}

/// Adds to `tx` one chunk's edits (each on the version read), the department counts they move
/// and the owner count (`owner_delta`, 0 for none).
fn add_forward(
    tx: &mut Transaction,
    tenant_id: Uuid,
    chunk: &[Edit],
    move_to: &Option<(Uuid, String)>,
    owner_delta: i64,
) -> ApiResult<()> {
    for e in chunk {
        tx.update(
            &e.key,
            e.forward.clone(),
            Some((
                Condition::version_is(e.version),
                ApiError::Conflict(format!(
                    "member {} changed at the same time; retry",
                    e.member_id
                )),
            )),
        )?;
    }
    if let Some((new_id, new_path)) = move_to {
        for (dept, n) in &departments_left(chunk) {
            tx.update(
                &Key::department(tenant_id, *dept),
                Update::new("ADD member_count :d").value(":d", num(-n)),
                Some((
                    Condition::counters_cover(&[("member_count", -n)]),
                    ApiError::Conflict("members changed department at the same time; retry".into()),
                )),
            )?;
        }
        tx.update(
            &Key::department(tenant_id, *new_id),
            Update::new("ADD member_count :d").value(":d", num(chunk.len())),
            Some((
                Condition::new("id_path = :id_path").value(":id_path", s(new_path)),
                ApiError::Conflict("the department moved or was deleted; retry".into()),
            )),
        )?;
    }
    if owner_delta != 0 {
        tx.update(
            &Key::tenant(tenant_id),
            Update::new("ADD owner_count :d").value(":d", num(owner_delta)),
            Some((
                Condition::new("owner_count >= :need").value(":need", num(1 - owner_delta)),
                last_owner(),
            )),
        )?;
    }
    Ok(())
}

/// Puts applied chunks back after a later one failed (best effort: each undo is conditioned on
/// the version it wrote, so it never overwrites someone else's change). An undo is a change too:
/// readers of the events, who may have seen the chunk's, see each member put back.
async fn undo(
    app: &App,
    access: &crate::auth::Access,
    tenant_id: Uuid,
    applied: &[&Vec<Edit>],
    move_to: &Option<(Uuid, String)>,
    owner_delta: i64,
) {
    for (i, chunk) in applied.iter().enumerate() {
        let owners = if i == 0 { owner_delta } else { 0 };
        let backward = || {
            let mut tx = Transaction::new();
            add_backward(&mut tx, tenant_id, chunk, move_to, owners)?;
            let events = chunk.iter().map(|e| e.undo_event.clone()).collect();
            events::record_many(app, &mut tx, &access.caller, tenant_id, events)?;
            Ok(tx)
        };
        if let Err(err) = app.store.transact_undo(backward).await {
            tracing::error!(error = %err, "bulk undo failed");
        }
    }
}

/// Adds to `tx` what puts one applied chunk back: each edit undone (on the version it wrote),
/// the department counts and the owner count (`owner_delta` as applied) moved back.
fn add_backward(
    tx: &mut Transaction,
    tenant_id: Uuid,
    chunk: &[Edit],
    move_to: &Option<(Uuid, String)>,
    owner_delta: i64,
) -> ApiResult<()> {
    for e in chunk {
        tx.update(
            &e.key,
            e.backward.clone(),
            Some((
                Condition::version_is(e.version + 1),
                ApiError::internal("undo lost a race"),
            )),
        )?;
    }
    if let Some((new_id, _)) = move_to {
        for (dept, n) in &departments_left(chunk) {
            tx.update(
                &Key::department(tenant_id, *dept),
                Update::new("ADD member_count :d").value(":d", num(*n)),
                None,
            )?;
        }
        tx.update(
            &Key::department(tenant_id, *new_id),
            Update::new("ADD member_count :d").value(":d", num(-(chunk.len() as i64))),
            None,
        )?;
    }
    if owner_delta != 0 {
        tx.update(
            &Key::tenant(tenant_id),
            Update::new("ADD owner_count :d").value(":d", num(-owner_delta)),
            None,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::policy::tests::member;
    use crate::model::roles::Permissions;
    use time::OffsetDateTime;

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn department(id: u128) -> Department {
        let id = Uuid::from_u128(id);
        Department {
            id,
            tenant_id: Uuid::from_u128(1),
            name: "Research".into(),
            parent_id: None,
            path: "/Research".into(),
            id_path: format!("/{id}"),
            depth: 0,
            member_count: 0,
            child_count: 0,
            settings: Default::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            version: 1,
            scim_external_id: None,
        }
    }

    fn in_department(m: &Member) -> (Member, String) {
        (m.clone(), format!("/{}", m.department_id))
    }

    #[test]
    fn ids_are_deduplicated_and_bounded() {
        let a = Uuid::from_u128(10);
        let b = Uuid::from_u128(11);
        let mut checks = Checks::new();
        assert_eq!(check_ids(&mut checks, &[a, b, a]), vec![a, b]);
        assert!(checks.finish().is_ok());
        let mut checks = Checks::new();
        check_ids(&mut checks, &[]);
        assert!(checks.finish().is_err());
        let mut checks = Checks::new();
        check_ids(&mut checks, &vec![a; MAX_BULK + 1]);
        assert!(checks.finish().is_err());
    }

    #[test]
    fn a_field_edit_sets_only_what_differs_and_undoes_it() {
        let m = Member {
            position: Some("Engineer".into()),
            ..member(Role::Member, Permissions::none())
        };
        let (m, id_path) = in_department(&m);
        let same = Some("Engineer".to_string());
        let unchanged = FieldValues {
            department: None,
            position: Some(&same),
            location: None,
        };
        assert!(field_edit(&m, &id_path, &unchanged, NOW).is_none());

        let target = department(9);
        let lead = Some("Lead".to_string());
        let moved = FieldValues {
            department: Some(&target),
            position: Some(&lead),
            location: None,
        };
        let e = field_edit(&m, &id_path, &moved, NOW).expect("an edit");
        assert_eq!(
            e.forward.expression,
            "SET department_id = :dept, gsi2sk = :tree, #position = :position, updated_at = :now, version = :next"
        );
        assert_eq!(e.forward.values[":dept"], s(target.id.to_string()));
        assert_eq!(e.backward.values[":dept"], s(m.department_id.to_string()));
        assert_eq!(e.backward.values[":position"], s("Engineer"));
        assert_eq!(e.forward.values[":next"], num(m.version + 1));
        assert_eq!(e.backward.values[":next"], num(m.version + 2));
        assert_eq!(e.old_department, m.department_id);
        // Only the names the statement uses are sent.
        assert!(e.forward.names.contains_key("#position"));
        assert!(!e.forward.names.contains_key("#location"));
    }

    #[test]
    fn status_edits_skip_members_already_there_and_count_owners() {
        let owner = in_department(&member(Role::Owner, Permissions::All));
        let plain = in_department(&member(Role::Member, Permissions::none()));
        let disabled = in_department(&Member {
            status: MemberStatus::Disabled,
            ..member(Role::Member, Permissions::none())
        });
        let members = [owner.clone(), plain.clone(), disabled.clone()];
        let (edits, owner_delta) = status_edits(&members, MemberStatus::Disabled, NOW, || 42);
        let ids: Vec<Uuid> = edits.iter().map(|e| e.member_id).collect();
        assert_eq!(ids, vec![owner.0.id, plain.0.id]);
        assert_eq!(owner_delta, -1);
        assert_eq!(edits[0].forward.values[":sessions"], num(42));
        assert_eq!(edits[0].forward.values[":status"], s("disabled"));
        assert_eq!(edits[0].backward.values[":status"], s("active"));

        let (edits, owner_delta) = status_edits(&members, MemberStatus::Active, NOW, || 42);
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].member_id, disabled.0.id);
        assert_eq!(owner_delta, 0);
        // Enabling keeps the sessions that disabling ended.
        assert_eq!(
            edits[0].forward.values[":sessions"],
            num(disabled.0.session_epoch)
        );
    }

    fn edits(n: usize, departments: u128) -> Vec<Edit> {
        (0..n)
            .map(|i| {
                let m = Member {
                    department_id: Uuid::from_u128(100 + (i as u128 % departments)),
                    ..member(Role::Member, Permissions::none())
                };
                field_edit(
                    &m,
                    "/x",
                    &FieldValues {
                        department: None,
                        position: Some(&Some("Lead".into())),
                        location: None,
                    },
                    NOW,
                )
                .expect("an edit")
            })
            .collect()
    }

    #[test]
    fn each_transaction_stays_within_its_actions() {
        // Without a move: 97 members + owner counter + audit entry + the events.
        let sizes: Vec<usize> = chunked(edits(200, 1), false).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![97, 97, 6]);
        // A move also counts the departments left and the one joined.
        let sizes: Vec<usize> = chunked(edits(200, 2), true).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![94, 94, 12]);
        assert!(chunked(Vec::new(), true).is_empty());
    }

    #[test]
    fn departments_left_are_counted_per_department() {
        let chunk = edits(5, 2);
        let left = departments_left(&chunk);
        assert_eq!(left[&Uuid::from_u128(100)], 3);
        assert_eq!(left[&Uuid::from_u128(101)], 2);
    }
}
