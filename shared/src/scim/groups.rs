//! SCIM Groups are the tenant's departments below the root (SPEC §8.5): `displayName` is the
//! department's name and `members` its own members (not those of its sub-departments). A member
//! has one department, so adding a User to a Group moves the member there and removing it moves
//! the member to the root. Groups a provider creates go under the root; deleting one moves its
//! members to the root first (a department with sub-departments is not deleted: 409).

use super::protocol::{
    Endpoint, GROUP_SCHEMA, ListQuery, Resource, invalid_value, meta, paging, parse_filter, project,
};
use super::user_list::whole_directory;
use super::{filter, patch};
use crate::app::App;
use crate::auth::{Access, Need, Requester, authorize, authorize_with_tenant};
use crate::departments::{self, CreateDepartment, DepartmentPatch};
use crate::error::{ApiError, ApiResult};
use crate::members::{self, MemberPatch};
use crate::model::department::Department;
use crate::model::keys::{GSI2, Key, subtree_prefix, tree_partition};
use crate::model::member::Member;
use crate::model::roles::Permission;
use crate::store::{Batch, Condition, Query, SortRange, Transaction, Update, from_item, num, s};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

/// A Group as a provider sends it, checked.
struct GroupInput {
    display_name: String,
    external_id: Option<String>,
    members: BTreeSet<Uuid>,
}

impl GroupInput {
    fn parse(body: &Value) -> ApiResult<Self> {
        let display_name = match filter::member(body, "displayName") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => return Err(invalid_value("displayName is required")),
        };
        let members = match filter::member(body, "members") {
            None | Some(Value::Null) => BTreeSet::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|m| {
                    filter::member(m, "value")
                        .and_then(Value::as_str)
                        .and_then(|v| Uuid::parse_str(v).ok())
                        .ok_or_else(|| invalid_value("members[].value must be a User's id"))
                })
                .collect::<ApiResult<_>>()?,
            Some(_) => return Err(invalid_value("members must be an array")),
        };
        let external_id = match filter::member(body, "externalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= 200 => {
                Some(s.trim().to_string()).filter(|s| !s.is_empty())
            }
            Some(_) => {
                return Err(invalid_value(
                    "externalId must be a string of at most 200 characters",
                ));
            }
        };
        Ok(Self {
            display_name,
            external_id,
            members,
        })
    }
}

/// The members whose own department is `department` (in the directory: active or disabled).
async fn own_members(app: &App, department: &Department) -> ApiResult<Vec<Member>> {
    let items = app
        .store
        .query_all(Query::new(
            Some(GSI2),
            tree_partition(department.tenant_id),
            SortRange::Prefix(format!("{}#", subtree_prefix(&department.id_path))),
        ))
        .await?;
    let members: Vec<Member> = items.into_iter().map(from_item).collect::<ApiResult<_>>()?;
    Ok(members
        .into_iter()
        .filter(|m| m.department_id == department.id && m.status.in_directory())
        .collect())
}

/// The Group's version: the department's, and who its members are (a member moving in or out
/// changes the Group), as one FNV-1a hash.
fn version(department: &Department, members: &[Member]) -> u64 {
    let mut ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    ids.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(&department.version.to_be_bytes());
    for id in ids {
        feed(id.as_bytes());
    }
    // ETags are decimal in a u64; keep them short and positive in every JSON reader.
    hash >> 12
}

fn group_json(department: &Department, members: Option<&[Member]>, endpoint: &Endpoint) -> Value {
    let location = endpoint.location("Groups", department.id);
    let mut group = json!({
        "schemas": [GROUP_SCHEMA],
        "id": department.id,
        "displayName": department.name,
        "meta": meta("Group", department.created_at, department.updated_at,
                     members.map_or(department.version, |m| version(department, m)), &location),
    });
    if let Some(external_id) = &department.scim_external_id {
        group["externalId"] = json!(external_id);
    }
    if let Some(members) = members {
        let mut sorted: Vec<&Member> = members.iter().collect();
        sorted.sort_by_key(|m| m.id);
        group["members"] = sorted
            .into_iter()
            .map(|m| {
                json!({
                    "value": m.id,
                    "$ref": endpoint.location("Users", m.id),
                    "type": "User",
                })
            })
            .collect();
    }
    group
}

fn group_of(item: Option<crate::store::Item>) -> ApiResult<Department> {
    let department: Department = from_item(item.ok_or(ApiError::NotFound)?)?;
    // The root is the tenant itself, not a group.
    if department.parent_id.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(department)
}

async fn resource(app: &App, department: &Department, endpoint: &Endpoint) -> ApiResult<Resource> {
    let members = own_members(app, department).await?;
    Ok(Resource {
        json: group_json(department, Some(&members), endpoint),
        version: version(department, &members),
        location: endpoint.location("Groups", department.id),
    })
}

async fn read_back(app: &App, endpoint: &Endpoint, department_id: Uuid) -> ApiResult<Resource> {
    let department = group_of(
        app.store
            .get(&Key::department(endpoint.tenant_id, department_id))
            .await?,
    )?;
    resource(app, &department, endpoint).await
}

pub async fn get(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    department_id: Uuid,
) -> ApiResult<Resource> {
    let mut batch = Batch::new();
    let department = batch.read_item(Key::department(endpoint.tenant_id, department_id));
    let (_, mut read) = authorize(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::MembersRead),
        batch,
    )
    .await?;
    let department = group_of(read.take_item(department))?;
    resource(app, &department, endpoint).await
}

/// Whether a list must read members: not when the client excludes them or asks for other
/// attributes only, and the filter does not look at them.
fn needs_members(query: &ListQuery) -> bool {
    let names = |t: &Option<String>| {
        t.as_deref()
            .unwrap_or_default()
            .split(',')
            .any(|n| n.trim().to_ascii_lowercase().starts_with("members"))
    };
    if filtered_on_members(query) {
        return true;
    }
    if query.attributes.is_some() {
        return names(&query.attributes);
    }
    !names(&query.excluded_attributes)
}

/// Whether the query's filter looks at members (then every Group's members are read to filter).
fn filtered_on_members(query: &ListQuery) -> bool {
    query
        .filter
        .as_deref()
        .is_some_and(|f| f.to_ascii_lowercase().contains("members"))
}

/// The members of every department, read whole: only for a filter on members, and only on a
/// directory small enough (`tooMany` otherwise, as for Users).
async fn members_by_department(
    app: &App,
    tenant: &crate::model::Tenant,
) -> ApiResult<HashMap<Uuid, Vec<Member>>> {
    let mut grouped: HashMap<Uuid, Vec<Member>> = HashMap::new();
    for member in whole_directory(app, tenant).await? {
        grouped
            .entry(member.department_id)
            .or_default()
            .push(member);
    }
    Ok(grouped)
}

/// The Groups the query's filter matches from `start` (1-based), at most `count`, projected as it
/// asks, and their total. The filter is evaluated on the departments (a few per tenant, read in
/// one query); members are read only for the Groups on the page, each Group's own members being
/// one key range of the tree index, so a page reads its own members and nobody else's (SPEC §9.1)
/// unless the filter itself looks at members.
pub(crate) async fn page(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    query: &ListQuery,
    (start, count): (usize, usize),
) -> ApiResult<(usize, Vec<Value>)> {
    let filter = parse_filter(query.filter.as_deref())?;
    let (_, tenant, _) = authorize_with_tenant(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::MembersRead),
        Batch::new(),
    )
    .await?;
    let departments = departments::all(app, endpoint.tenant_id)
        .await?
        .into_iter()
        .filter(|d| d.parent_id.is_some());
    let matches = |json: &Value| filter.as_ref().is_none_or(|f| f.matches(json));
    let matched: Vec<(Department, Option<Vec<Member>>)> = if filtered_on_members(query) {
        let mut grouped = members_by_department(app, &tenant).await?;
        departments
            .map(|d| {
                let members = grouped.remove(&d.id).unwrap_or_default();
                (d, Some(members))
            })
            .filter(|(d, m)| matches(&group_json(d, m.as_deref(), endpoint)))
            .collect()
    } else {
        departments
            .filter(|d| matches(&group_json(d, None, endpoint)))
            .map(|d| (d, None))
            .collect()
    };
    let total = matched.len();
    let mut resources = Vec::new();
    for (department, members) in matched.into_iter().skip(start - 1).take(count) {
        let members = match members {
            None if needs_members(query) => Some(own_members(app, &department).await?),
            members => members,
        };
        let json = group_json(&department, members.as_deref(), endpoint);
        resources.push(project(
            json,
            query.attributes.as_deref(),
            query.excluded_attributes.as_deref(),
        ));
    }
    Ok((total, resources))
}

pub async fn list(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    query: &ListQuery,
) -> ApiResult<Value> {
    let (start, count) = paging(query)?;
    let (total, resources) = page(app, requester, endpoint, query, (start, count)).await?;
    Ok(super::protocol::page_response(total, resources, start))
}

/// POST /Groups: a department under the root, then its members moved into it.
pub async fn create(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    body: &Value,
) -> ApiResult<Resource> {
    let input = GroupInput::parse(body)?;
    let (access, tenant, _) = authorize_with_tenant(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        Batch::new(),
    )
    .await?;
    movable(&access, &users_of(app, endpoint, &input.members).await?)?;
    let created = departments::create(
        app,
        requester,
        endpoint.tenant_id,
        CreateDepartment {
            name: input.display_name,
            parent_id: tenant.root_department_id,
            settings: None,
        },
    )
    .await?;
    if let Some(external_id) = &input.external_id {
        let department = group_of(
            app.store
                .get(&Key::department(endpoint.tenant_id, created.id))
                .await?,
        )?;
        set_external_id(app, &department, Some(external_id)).await?;
    }
    move_members(app, requester, endpoint, &input.members, created.id).await?;
    read_back(app, endpoint, created.id).await
}

/// The members `ids` name, each a User of the tenant; checked before anything is written, so a
/// wrong id changes nothing.
async fn users_of(app: &App, endpoint: &Endpoint, ids: &BTreeSet<Uuid>) -> ApiResult<Vec<Member>> {
    let keys: Vec<Key> = ids
        .iter()
        .map(|id| Key::member(endpoint.tenant_id, *id))
        .collect();
    let items = app.store.get_many(&keys).await?;
    ids.iter()
        .zip(items)
        .map(|(id, item)| {
            let member = item.map(from_item::<Member>).transpose()?;
            member
                .filter(|m| m.status.in_directory())
                .ok_or_else(|| invalid_value(format!("no User has the id {id}")))
        })
        .collect()
}

/// Refuses to move any of `members` unless the caller may: a Group write that moves members also
/// needs `members.write`, and moves only members the caller may act on (SPEC §8.2, the rule the
/// REST member edit follows). Checked for all of them before anything is written, so a refused
/// move leaves the Group as it was (name and members alike).
fn movable(access: &Access, members: &[Member]) -> ApiResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    if !access.allows(Permission::MembersWrite) {
        return Err(ApiError::Forbidden(
            "moving members between groups needs members.write",
        ));
    }
    if members.iter().any(|m| !members::may_manage(access, m)) {
        return Err(members::beyond_reach());
    }
    Ok(())
}

/// Moves each member in `ids` into `department_id` (those already there stay put).
async fn move_members(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    ids: &BTreeSet<Uuid>,
    department_id: Uuid,
) -> ApiResult<()> {
    for member in users_of(app, endpoint, ids).await? {
        let id = &member.id;
        if member.department_id == department_id {
            continue;
        }
        members::update(
            app,
            requester,
            endpoint.tenant_id,
            *id,
            MemberPatch {
                department_id: Some(department_id),
                ..MemberPatch::default()
            },
            None,
        )
        .await?;
    }
    Ok(())
}

/// PUT /Groups/{id}: the department's name and own members become what the body says.
pub async fn replace(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    department_id: Uuid,
    body: &Value,
    expected: Option<u64>,
) -> ApiResult<Resource> {
    let input = GroupInput::parse(body)?;
    let (access, department, members) =
        current(app, requester, endpoint, department_id, expected).await?;
    apply(
        app,
        (requester, &access),
        endpoint,
        &department,
        &members,
        input,
    )
    .await
}

/// PATCH /Groups/{id}: the operations applied to the Group as it reads now (Entra's
/// `members[value eq "…"]` removals and value-listed removals included), then written as a PUT.
pub async fn patch(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    department_id: Uuid,
    request: &patch::PatchRequest,
    expected: Option<u64>,
) -> ApiResult<Resource> {
    let (access, department, members) =
        current(app, requester, endpoint, department_id, expected).await?;
    let mut json = group_json(&department, Some(&members), endpoint);
    patch::apply(&mut json, request, &super::discovery::canonical).map_err(patch::patch_error)?;
    let input = GroupInput::parse(&json)?;
    apply(
        app,
        (requester, &access),
        endpoint,
        &department,
        &members,
        input,
    )
    .await
}

/// The department and its own members, for a caller who may change departments, if still at the
/// `If-Match` version when one is sent.
async fn current(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    department_id: Uuid,
    expected: Option<u64>,
) -> ApiResult<(Access, Department, Vec<Member>)> {
    let mut batch = Batch::new();
    let department = batch.read_item(Key::department(endpoint.tenant_id, department_id));
    let (access, mut read) = authorize(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        batch,
    )
    .await?;
    let department = group_of(read.take_item(department))?;
    let members = own_members(app, &department).await?;
    if expected.is_some_and(|v| v != version(&department, &members)) {
        return Err(ApiError::PreconditionFailed);
    }
    Ok((access, department, members))
}

/// Writes what `input` changes of the Group: every member it moves in or out is checked first.
async fn apply(
    app: &App,
    (requester, access): (&Requester, &Access),
    endpoint: &Endpoint,
    department: &Department,
    members: &[Member],
    input: GroupInput,
) -> ApiResult<Resource> {
    let now: BTreeSet<Uuid> = members.iter().map(|m| m.id).collect();
    let added: BTreeSet<Uuid> = input.members.difference(&now).copied().collect();
    let mut moving = users_of(app, endpoint, &added).await?;
    moving.extend(
        members
            .iter()
            .filter(|m| !input.members.contains(&m.id))
            .cloned(),
    );
    movable(access, &moving)?;
    if input.display_name != department.name {
        departments::update(
            app,
            requester,
            endpoint.tenant_id,
            department.id,
            DepartmentPatch {
                name: Some(input.display_name.clone()),
                ..DepartmentPatch::default()
            },
        )
        .await?;
    }
    set_external_id(app, department, input.external_id.as_deref()).await?;
    move_members(app, requester, endpoint, &added, department.id).await?;
    let removed: BTreeSet<Uuid> = now.difference(&input.members).copied().collect();
    to_root(app, requester, endpoint, &removed).await?;
    read_back(app, endpoint, department.id).await
}

/// The provider's id for the department, kept on it (changes its version).
async fn set_external_id(
    app: &App,
    department: &Department,
    external_id: Option<&str>,
) -> ApiResult<()> {
    if department.scim_external_id.as_deref() == external_id {
        return Ok(());
    }
    let update = match external_id {
        Some(id) => Update::new("SET scim_external_id = :id ADD version :one").value(":id", s(id)),
        None => Update::new("REMOVE scim_external_id ADD version :one"),
    }
    .value(":one", num(1));
    let mut tx = Transaction::new();
    tx.update(
        &department.key(),
        update,
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    app.store.transact(tx).await
}

async fn to_root(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    ids: &BTreeSet<Uuid>,
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let tenant: crate::model::Tenant = from_item(
        app.store
            .get(&Key::tenant(endpoint.tenant_id))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    move_members(app, requester, endpoint, ids, tenant.root_department_id).await
}

/// DELETE /Groups/{id}: its members move to the root, then the department goes.
pub async fn delete(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    department_id: Uuid,
) -> ApiResult<()> {
    let (access, department, members) =
        current(app, requester, endpoint, department_id, None).await?;
    // A department with sub-departments stays (and so do its members).
    if department.child_count > 0 {
        return Err(ApiError::DepartmentNotEmpty);
    }
    movable(&access, &members)?;
    let ids: BTreeSet<Uuid> = members.iter().map(|m| m.id).collect();
    to_root(app, requester, endpoint, &ids).await?;
    departments::delete(app, requester, endpoint.tenant_id, department.id).await
}
