//! The department tree of a tenant. Each department stores its name path and id path from the
//! root; members index their department's id path, so a subtree's members are one query (see
//! `keys`). Moves and renames rewrite the paths of the subtree in the same transaction.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Permission, authorize};
use crate::error::{ApiError, ApiResult, Checks};
use crate::http::{List, PageParams, RequestMeta};
use crate::keys::{DEPARTMENT_PREFIX, GSI2, Key, subtree_prefix, tenant_partition, tree_partition};
use crate::store::{
    Condition, Item, MAX_TRANSACTION_ACTIONS, Query, SortRange, Transaction, from_item, num, s,
    to_item,
};
use crate::tenants::Branding;
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Deepest level below the root. Keeps id paths (and the member index keys built from them) far
/// below DynamoDB's 1 KB sort-key limit.
pub const MAX_DEPTH: u32 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactVisibility {
    All,
    Department,
    None,
}

/// Overrides of the tenant's settings; `None` inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentSettings {
    pub branding: Option<Branding>,
    pub ip_allowlist: Option<Vec<String>>,
    pub contact_visibility: Option<ContactVisibility>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSettingsPatch {
    #[serde(default, deserialize_with = "crate::http::nullable")]
    pub branding: Option<Option<Branding>>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    pub ip_allowlist: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    pub contact_visibility: Option<Option<ContactVisibility>>,
}

impl DepartmentSettingsPatch {
    fn apply(self, checks: &mut Checks, settings: &mut DepartmentSettings) {
        if let Some(branding) = self.branding {
            settings.branding = branding.map(|b| b.validate(checks, "settings.branding"));
        }
        if let Some(list) = self.ip_allowlist {
            settings.ip_allowlist =
                list.map(|l| validate::cidrs(checks, "settings.ip_allowlist", &l));
        }
        if let Some(visibility) = self.contact_visibility {
            settings.contact_visibility = visibility;
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// Names from the root, `/`-separated.
    pub path: String,
    /// Ids from the root, `/`-separated: the prefix of its members' tree keys.
    pub id_path: String,
    pub depth: u32,
    pub member_count: u32,
    pub child_count: u32,
    pub settings: DepartmentSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub path: String,
    pub depth: u32,
    pub member_count: u32,
    pub child_count: u32,
    pub settings: DepartmentSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Department> for DepartmentView {
    fn from(d: &Department) -> Self {
        Self {
            id: d.id,
            tenant_id: d.tenant_id,
            name: d.name.clone(),
            parent_id: d.parent_id,
            path: d.path.clone(),
            depth: d.depth,
            member_count: d.member_count,
            child_count: d.child_count,
            settings: d.settings.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

impl Department {
    pub fn key(&self) -> Key {
        Key::department(self.tenant_id, self.id)
    }

    pub fn to_item(&self) -> ApiResult<Item> {
        to_item(self, &self.key(), &[])
    }

    /// Whether `other` lies in this department's subtree (itself included).
    pub fn contains(&self, other: &Department) -> bool {
        other.id == self.id || other.id_path.starts_with(&subtree_prefix(&self.id_path))
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "a department named \"{name}\" already exists under this parent"
    ))
}

fn changed_concurrently() -> ApiError {
    ApiError::Conflict("the department changed at the same time; read it again and retry".into())
}

fn department(item: Option<Item>) -> ApiResult<Department> {
    from_item(item.ok_or(ApiError::NotFound)?)
}

/// The tree, flat, in creation order, one page at a time.
pub async fn list(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<DepartmentView>> {
    authorize(app, meta, tenant_id, Need::Member, &[]).await?;
    let query = Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(DEPARTMENT_PREFIX.into()),
    )
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|d: Department| DepartmentView::from(&d))
}

pub async fn get(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    department_id: Uuid,
) -> ApiResult<DepartmentView> {
    let (_, items) = authorize(
        app,
        meta,
        tenant_id,
        Need::Member,
        &[Key::department(tenant_id, department_id)],
    )
    .await?;
    Ok(DepartmentView::from(&department(
        items.into_iter().next().flatten(),
    )?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartment {
    pub name: String,
    pub parent_id: Uuid,
    #[serde(default)]
    pub settings: Option<DepartmentSettingsPatch>,
}

/// A department's IP allowlist is a security setting: it takes `settings.write`, like the
/// tenant's, not only `departments.write`.
fn settings_write_needed(access: &crate::auth::Access) -> ApiResult<()> {
    if access.allows(Permission::SettingsWrite) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "a department's IP allowlist needs the settings.write permission",
        ))
    }
}

/// A sub-department: one batched read (caller and parent), one transaction.
pub async fn create(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    input: CreateDepartment,
) -> ApiResult<DepartmentView> {
    let mut checks = Checks::new();
    let name = validate::department_name(&mut checks, "name", &input.name);
    let mut settings = DepartmentSettings::default();
    if let Some(patch) = input.settings {
        patch.apply(&mut checks, &mut settings);
    }
    checks.finish()?;
    let (access, items) = authorize(
        app,
        meta,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        &[Key::department(tenant_id, input.parent_id)],
    )
    .await?;
    if settings.ip_allowlist.is_some() {
        settings_write_needed(&access)?;
    }
    let parent = department(items.into_iter().next().flatten())
        .map_err(|_| ApiError::invalid("parent_id", "is not a department of this tenant"))?;
    if parent.depth >= MAX_DEPTH {
        return Err(ApiError::invalid(
            "parent_id",
            format!("departments nest at most {MAX_DEPTH} levels deep"),
        ));
    }
    let now = app.now();
    let id = Uuid::now_v7();
    let created = Department {
        id,
        tenant_id,
        name: name.clone(),
        parent_id: Some(parent.id),
        path: format!("{}/{}", parent.path, name),
        id_path: format!("{}/{}", parent.id_path, id),
        depth: parent.depth + 1,
        member_count: 0,
        child_count: 0,
        settings,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        created.to_item()?,
        Some((Condition::absent(), changed_concurrently())),
    )?;
    tx.put(
        app.table(),
        to_item(
            &NameGuard { department_id: id },
            &Key::sibling_name(tenant_id, parent.id, &name),
            &[],
        )?,
        Some((Condition::absent(), name_taken(&name))),
    )?;
    // The parent must still be where and what it was read as: a concurrent move or rename
    // would leave the new department's paths wrong.
    tx.update(
        app.table(),
        &parent.key(),
        Condition::new("ADD child_count :one").value(":one", num(1)),
        Some((
            Condition::new("id_path = :id_path AND #path = :path")
                .name("#path", "path")
                .value(":id_path", s(&parent.id_path))
                .value(":path", s(&parent.path)),
            ApiError::Conflict(
                "the parent department was moved, renamed or deleted meanwhile; retry".into(),
            ),
        )),
    )?;
    let view = DepartmentView::from(&created);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "department.create",
            target_type: "department",
            target_id: id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// The guard that keeps sibling names unique (case-insensitively).
#[derive(Debug, Serialize, Deserialize)]
struct NameGuard {
    department_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub settings: Option<DepartmentSettingsPatch>,
}

/// Rename, move and settings. A move never goes under the department itself or a descendant;
/// the subtree's paths and its members' tree keys change in the same transaction when they fit in
/// one (DynamoDB's 100 actions), otherwise in follow-up transactions that a retry completes.
pub async fn update(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    department_id: Uuid,
    patch: DepartmentPatch,
) -> ApiResult<DepartmentView> {
    let mut checks = Checks::new();
    let name = patch
        .name
        .as_deref()
        .map(|n| validate::department_name(&mut checks, "name", n));
    checks.finish()?;
    let mut keys = vec![Key::department(tenant_id, department_id)];
    if let Some(parent_id) = patch.parent_id {
        keys.push(Key::department(tenant_id, parent_id));
    }
    let (access, items) = authorize(
        app,
        meta,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        &keys,
    )
    .await?;
    let mut items = items.into_iter();
    let before = department(items.next().flatten())?;
    let new_parent =
        match patch.parent_id {
            Some(_) => Some(department(items.next().flatten()).map_err(|_| {
                ApiError::invalid("parent_id", "is not a department of this tenant")
            })?),
            None => None,
        };

    let mut after = before.clone();
    let mut checks = Checks::new();
    if let Some(settings) = patch.settings {
        settings.apply(&mut checks, &mut after.settings);
    }
    checks.finish()?;
    if after.settings.ip_allowlist != before.settings.ip_allowlist {
        settings_write_needed(&access)?;
    }
    if let Some(name) = name {
        after.name = name;
    }
    let moved = match &new_parent {
        Some(parent) if Some(parent.id) != before.parent_id => {
            if before.parent_id.is_none() {
                return Err(ApiError::Conflict("the root department cannot move".into()));
            }
            if before.contains(parent) {
                return Err(ApiError::DepartmentCycle);
            }
            after.parent_id = Some(parent.id);
            after.id_path = format!("{}/{}", parent.id_path, before.id);
            after.depth = parent.depth + 1;
            true
        }
        _ => false,
    };
    let parent_path = match (&new_parent, before.parent_id) {
        (Some(parent), _) if moved => Some(parent.path.clone()),
        (_, Some(_)) => before.path.rsplit_once('/').map(|(p, _)| p.to_string()),
        (_, None) => None,
    };
    after.path = match parent_path {
        Some(p) => format!("{p}/{}", after.name),
        None => after.name.clone(),
    };
    after.updated_at = app.now();
    after.version += 1;

    let mut tx = Transaction::new();
    // Only the editable fields: the counters move concurrently without touching `version`.
    tx.update(
        app.table(),
        &after.key(),
        Condition::new(
            "SET #name = :name, parent_id = :parent, #path = :path, id_path = :id_path, \
             #depth = :depth, settings = :settings, updated_at = :now, version = :next",
        )
        .name("#name", "name")
        .name("#path", "path")
        .name("#depth", "depth")
        .value(":name", s(&after.name))
        .value(
            ":parent",
            serde_dynamo::to_attribute_value(after.parent_id).map_err(ApiError::internal)?,
        )
        .value(":path", s(&after.path))
        .value(":id_path", s(&after.id_path))
        .value(":depth", num(after.depth))
        .value(
            ":settings",
            serde_dynamo::to_attribute_value(&after.settings).map_err(ApiError::internal)?,
        )
        .value(":now", s(crate::users::rfc3339(after.updated_at)))
        .value(":next", num(after.version)),
        Some((
            // The children read are all the children: one created meanwhile would keep the old
            // paths, so the change is refused and retried instead.
            Condition::new("#version = :version AND child_count = :children")
                .name("#version", "version")
                .value(":version", num(before.version))
                .value(":children", num(before.child_count)),
            changed_concurrently(),
        )),
    )?;
    if let (Some(old_parent), Some(new_parent_id)) = (before.parent_id, after.parent_id) {
        let old_guard = Key::sibling_name(tenant_id, old_parent, &before.name);
        let new_guard = Key::sibling_name(tenant_id, new_parent_id, &after.name);
        if old_guard != new_guard {
            tx.delete(app.table(), &old_guard, None)?;
            tx.put(
                app.table(),
                to_item(&NameGuard { department_id }, &new_guard, &[])?,
                Some((Condition::absent(), name_taken(&after.name))),
            )?;
        }
    }
    if moved {
        let parent = new_parent
            .as_ref()
            .ok_or_else(|| ApiError::internal("moved without a parent"))?;
        if let Some(old_parent) = before.parent_id {
            tx.update(
                app.table(),
                &Key::department(tenant_id, old_parent),
                Condition::new("ADD child_count :minus").value(":minus", num(-1)),
                None,
            )?;
        }
        // The new parent must not have moved since it was read: that is what keeps two concurrent
        // moves from building a cycle.
        tx.update(
            app.table(),
            &parent.key(),
            Condition::new("ADD child_count :one").value(":one", num(1)),
            Some((
                Condition::new("id_path = :id_path").value(":id_path", s(&parent.id_path)),
                ApiError::Conflict("the new parent moved or was deleted; retry".into()),
            )),
        )?;
    }
    let view = DepartmentView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: if moved {
                "department.move"
            } else {
                "department.update"
            },
            target_type: "department",
            target_id: department_id,
            before: audit::snapshot(&DepartmentView::from(&before)),
            after: audit::snapshot(&view),
        },
    )?;

    let mut rewrites = Vec::new();
    if (after.path != before.path || moved) && before.child_count > 0 {
        rewrites.extend(subtree_rewrites(app, &before, &after).await?);
    }
    if moved && before.member_count + before.child_count > 0 {
        rewrites.extend(member_rewrites(app, &before, &after).await?);
    }
    let mut transactions = vec![tx];
    for rewrite in rewrites {
        let current = transactions
            .last_mut()
            .ok_or_else(|| ApiError::internal("no transaction"))?;
        let target = if current.len() < MAX_TRANSACTION_ACTIONS {
            current
        } else {
            transactions.push(Transaction::new());
            transactions
                .last_mut()
                .ok_or_else(|| ApiError::internal("no transaction"))?
        };
        let condition = rewrite.condition.map(|c| (c, changed_concurrently()));
        target.update(app.table(), &rewrite.key, rewrite.update, condition)?;
    }
    for tx in transactions {
        app.store.transact(tx).await?;
    }
    Ok(view)
}

struct Rewrite {
    key: Key,
    update: Condition,
    /// For a descendant department: it still has the children read (none added meanwhile).
    condition: Option<Condition>,
}

/// New name paths, id paths and depths of every descendant.
async fn subtree_rewrites(
    app: &App,
    before: &Department,
    after: &Department,
) -> ApiResult<Vec<Rewrite>> {
    let tree = app
        .store
        .query_all(Query::new(
            None,
            tenant_partition(before.tenant_id),
            SortRange::Prefix(DEPARTMENT_PREFIX.into()),
        ))
        .await?;
    let mut rewrites = Vec::new();
    for item in tree {
        let d: Department = from_item(item)?;
        if d.id == before.id || !before.contains(&d) {
            continue;
        }
        let depth = d.depth - before.depth + after.depth;
        if depth > MAX_DEPTH {
            return Err(ApiError::invalid(
                "parent_id",
                format!("departments nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        let path = format!("{}{}", after.path, &d.path[before.path.len()..]);
        let id_path = format!("{}{}", after.id_path, &d.id_path[before.id_path.len()..]);
        rewrites.push(Rewrite {
            key: d.key(),
            update: Condition::new("SET #path = :path, id_path = :id_path, #depth = :depth")
                .name("#path", "path")
                .name("#depth", "depth")
                .value(":path", s(path))
                .value(":id_path", s(id_path))
                .value(":depth", num(depth)),
            condition: Some(
                Condition::new("child_count = :children").value(":children", num(d.child_count)),
            ),
        });
    }
    Ok(rewrites)
}

/// New tree keys of every member in the moved subtree (one query on gsi2).
async fn member_rewrites(
    app: &App,
    before: &Department,
    after: &Department,
) -> ApiResult<Vec<Rewrite>> {
    let members = app
        .store
        .query_all(Query::new(
            Some(GSI2),
            tree_partition(before.tenant_id),
            SortRange::Prefix(subtree_prefix(&before.id_path)),
        ))
        .await?;
    let mut rewrites = Vec::new();
    for item in members {
        let key = Key {
            pk: string_attr(&item, "pk")?,
            sk: string_attr(&item, "sk")?,
        };
        let position = string_attr(&item, GSI2.sk)?;
        let moved = format!("{}{}", after.id_path, &position[before.id_path.len()..]);
        rewrites.push(Rewrite {
            key,
            update: Condition::new("SET #tree = :tree")
                .name("#tree", GSI2.sk)
                .value(":tree", s(moved)),
            condition: None,
        });
    }
    Ok(rewrites)
}

fn string_attr(item: &Item, name: &str) -> ApiResult<String> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("item without {name}")))
}

/// Deletes an empty department; the root never.
pub async fn delete(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    department_id: Uuid,
) -> ApiResult<()> {
    let (access, items) = authorize(
        app,
        meta,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        &[Key::department(tenant_id, department_id)],
    )
    .await?;
    let dept = department(items.into_iter().next().flatten())?;
    let Some(parent_id) = dept.parent_id else {
        return Err(ApiError::Conflict(
            "the root department cannot be deleted".into(),
        ));
    };
    if dept.member_count > 0 || dept.child_count > 0 {
        return Err(ApiError::DepartmentNotEmpty);
    }
    let mut tx = Transaction::new();
    // The counters are re-checked in the transaction: a member added meanwhile keeps it alive.
    tx.delete(
        app.table(),
        &dept.key(),
        Some((
            Condition::new("attribute_exists(pk) AND member_count = :zero AND child_count = :zero")
                .value(":zero", num(0)),
            ApiError::DepartmentNotEmpty,
        )),
    )?;
    tx.delete(
        app.table(),
        &Key::sibling_name(tenant_id, parent_id, &dept.name),
        None,
    )?;
    tx.update(
        app.table(),
        &Key::department(tenant_id, parent_id),
        Condition::new("ADD child_count :minus").value(":minus", num(-1)),
        None,
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "department.delete",
            target_type: "department",
            target_id: department_id,
            before: audit::snapshot(&DepartmentView::from(&dept)),
            after: None,
        },
    )?;
    app.store.transact(tx).await
}
