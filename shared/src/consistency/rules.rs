//! The invariants, as pure functions of a snapshot: each broken one is a finding that names the
//! item, what it holds and what it should hold, and the repair that fixes it when there is one.

use super::finding::{Finding, Fix, put_guard};
use super::guards::guards;
use super::snapshot::{Guard, MemberFacts, Snapshot, TenantPart};
use crate::model::department::Department;
use crate::model::keys::{Key, tree_position};
use crate::model::member::{MemberStatus, SearchTerm};
use crate::model::tenant::Tenant;
use crate::model::user::EmailGuard;
use crate::store::to_item;
use std::collections::HashMap;
use uuid::Uuid;

/// Every finding of `snapshot` at `now` (epoch seconds): what expires by then counts as gone.
pub fn findings(snapshot: &Snapshot, now: i64) -> Vec<Finding> {
    let mut found = Vec::new();
    for (key, error) in &snapshot.unreadable {
        found.push(Finding::new(
            "item.readable",
            None,
            key,
            format!("cannot be read: {error}"),
        ));
    }
    let mut tenant_ids: Vec<&Uuid> = snapshot.tenants.keys().collect();
    tenant_ids.sort();
    for tenant_id in tenant_ids {
        let part = &snapshot.tenants[tenant_id];
        tenant_findings(*tenant_id, part, now, &mut found);
    }
    user_findings(snapshot, &mut found);
    found
}

fn tenant_findings(tenant_id: Uuid, part: &TenantPart, now: i64, found: &mut Vec<Finding>) {
    let Some(tenant) = &part.tenant else {
        // A tenant purge removes the tenant item last; anything left without it is a leftover.
        let leftovers = part.departments.len()
            + part.members.len()
            + part.invitations.len()
            + part.name_guards.len()
            + part.user_guards.len()
            + part.scim_guards.len()
            + part.invitation_guards.len()
            + part.search_terms.len();
        if leftovers > 0 {
            found.push(Finding::new(
                "tenant.exists",
                Some(tenant_id),
                &Key::tenant(tenant_id),
                format!("{leftovers} departments, members, invitations, guards or search terms are left of a tenant that does not exist"),
            ));
        }
        return;
    };
    counters(tenant, part, found);
    departments(tenant, part, found);
    members(tenant, part, now, found);
    super::events::findings(tenant_id, part, found);
    guards(tenant_id, part, now, found);
}

/// What the tenant's counters should hold, from what they count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TenantCounts {
    pub member_count: u32,
    pub join_request_count: u32,
    pub public_request_count: u32,
    pub invitation_count: u32,
    pub quota_used: u32,
    pub seats_used: u32,
    pub owner_count: u32,
}

impl TenantCounts {
    pub fn of(part: &TenantPart) -> Self {
        let count = |f: &dyn Fn(&MemberFacts) -> bool| {
            u32::try_from(part.members.iter().filter(|m| f(m)).count()).unwrap_or(u32::MAX)
        };
        let member_count = count(&|m| m.status.in_directory());
        let join_request_count = count(&|m| m.status == MemberStatus::Pending);
        let public_request_count =
            count(&|m| m.status == MemberStatus::Pending && m.public_request);
        let invitation_count =
            u32::try_from(part.invitations.iter().filter(|i| i.holds_quota).count())
                .unwrap_or(u32::MAX);
        let seats: i64 = part
            .members
            .iter()
            .filter(|m| m.status.in_directory())
            .map(|m| m.seats)
            .sum();
        Self {
            member_count,
            join_request_count,
            public_request_count,
            invitation_count,
            // Public doors' requests hold no quota place until approved.
            quota_used: member_count + join_request_count - public_request_count + invitation_count,
            seats_used: u32::try_from(seats).unwrap_or(u32::MAX),
            owner_count: count(&|m| m.owner && m.status == MemberStatus::Active),
        }
    }

    /// `(counter, stored, expected)` for each counter that differs.
    pub fn differences(&self, tenant: &Tenant) -> Vec<(&'static str, u32, u32)> {
        [
            ("member_count", tenant.member_count, self.member_count),
            (
                "join_request_count",
                tenant.join_request_count,
                self.join_request_count,
            ),
            (
                "public_request_count",
                tenant.public_request_count,
                self.public_request_count,
            ),
            (
                "invitation_count",
                tenant.invitation_count,
                self.invitation_count,
            ),
            ("quota_used", tenant.quota_used, self.quota_used),
            ("seats_used", tenant.seats_used, self.seats_used),
            ("owner_count", tenant.owner_count, self.owner_count),
        ]
        .into_iter()
        .filter(|(_, stored, expected)| stored != expected)
        .collect()
    }
}

/// A department's counters, from its members and children.
pub fn department_counts(department: &Department, part: &TenantPart) -> (u32, u32) {
    let members = part
        .members
        .iter()
        .filter(|m| m.status.in_directory() && m.department_id == department.id)
        .count();
    let children = part
        .departments
        .iter()
        .filter(|d| d.parent_id == Some(department.id))
        .count();
    (
        u32::try_from(members).unwrap_or(u32::MAX),
        u32::try_from(children).unwrap_or(u32::MAX),
    )
}

fn counters(tenant: &Tenant, part: &TenantPart, found: &mut Vec<Finding>) {
    for (counter, stored, expected) in TenantCounts::of(part).differences(tenant) {
        found.push(
            Finding::new(
                &format!("tenant.{counter}"),
                Some(tenant.id),
                &Key::tenant(tenant.id),
                format!("{counter} is {stored}, counts {expected}"),
            )
            .fix(Fix::Counters(tenant.id)),
        );
    }
    for department in &part.departments {
        let (members, children) = department_counts(department, part);
        for (counter, stored, expected) in [
            ("member_count", department.member_count, members),
            ("child_count", department.child_count, children),
        ] {
            if stored != expected {
                found.push(
                    Finding::new(
                        &format!("department.{counter}"),
                        Some(tenant.id),
                        &department.key(),
                        format!("{counter} is {stored}, counts {expected}"),
                    )
                    .fix(Fix::Counters(tenant.id)),
                );
            }
        }
    }
}

fn departments(tenant: &Tenant, part: &TenantPart, found: &mut Vec<Finding>) {
    let by_id: HashMap<Uuid, &Department> = part.departments.iter().map(|d| (d.id, d)).collect();
    match by_id.get(&tenant.root_department_id) {
        Some(root) if root.parent_id.is_none() => {}
        _ => found.push(Finding::new(
            "department.root",
            Some(tenant.id),
            &Key::tenant(tenant.id),
            format!(
                "root department {} is missing or has a parent",
                tenant.root_department_id
            ),
        )),
    }
    for department in &part.departments {
        let expected = match department.parent_id {
            None => (department.id.to_string(), 0, None),
            Some(parent_id) => match by_id.get(&parent_id) {
                Some(parent) => (
                    format!("{}/{}", parent.id_path, department.id),
                    parent.depth + 1,
                    Some(format!("{}/{}", parent.path, department.name)),
                ),
                None => {
                    found.push(Finding::new(
                        "department.parent",
                        Some(tenant.id),
                        &department.key(),
                        format!("parent {parent_id} does not exist"),
                    ));
                    continue;
                }
            },
        };
        let (id_path, depth, path) = expected;
        if department.id_path != id_path || department.depth != depth {
            found.push(Finding::new(
                "department.id_path",
                Some(tenant.id),
                &department.key(),
                format!(
                    "id path {} at depth {}, should be {id_path} at depth {depth}",
                    department.id_path, department.depth
                ),
            ));
        }
        if let Some(path) = path.filter(|p| *p != department.path) {
            found.push(Finding::new(
                "department.path",
                Some(tenant.id),
                &department.key(),
                format!("path {:?}, should be {path:?}", department.path),
            ));
        }
    }
}

/// Each listed member sits in a department that exists, under its tree key, with the licence
/// index keys its licence asks for, and holds its guards and search terms.
fn members(tenant: &Tenant, part: &TenantPart, now: i64, found: &mut Vec<Finding>) {
    let departments: HashMap<Uuid, &Department> =
        part.departments.iter().map(|d| (d.id, d)).collect();
    let held = Held {
        user_guards: part.user_guards.iter().map(|g| (&g.key, g)).collect(),
        scim_guards: part.scim_guards.iter().map(|g| (&g.key, g)).collect(),
        terms: part.search_terms.iter().map(|g| (&g.key, g)).collect(),
    };
    for member in &part.members {
        let key = Key::member(tenant.id, member.id);
        if !member_place(tenant.id, &departments, member, &key, found) {
            continue;
        }
        member_user_guard(tenant.id, &held, member, &key, now, found);
        member_scim_guards(tenant.id, &held, member, &key, found);
        member_terms(tenant.id, &held, member, &key, found);
    }
}

/// The guards and search terms of a tenant, by key.
struct Held<'a> {
    user_guards: HashMap<&'a Key, &'a Guard>,
    scim_guards: HashMap<&'a Key, &'a Guard>,
    terms: HashMap<&'a Key, &'a Guard>,
}

/// The member's department, tree key and licence index keys; false when a listed member's
/// department does not exist (nothing else of it is checked then).
fn member_place(
    tenant_id: Uuid,
    departments: &HashMap<Uuid, &Department>,
    member: &MemberFacts,
    key: &Key,
    found: &mut Vec<Finding>,
) -> bool {
    let listed = member.status.in_directory();
    let expected_tree = match departments.get(&member.department_id) {
        Some(department) => listed.then(|| tree_position(&department.id_path, member.id)),
        None if listed => {
            found.push(Finding::new(
                "member.department",
                Some(tenant_id),
                key,
                format!("department {} does not exist", member.department_id),
            ));
            return false;
        }
        None => None,
    };
    if member.tree_key != expected_tree {
        found.push(Finding::new(
            "member.tree_key",
            Some(tenant_id),
            key,
            format!(
                "tree key {:?}, should be {expected_tree:?}",
                member.tree_key
            ),
        ));
    }
    if member.licence_keys != member.expected_licence_keys {
        found.push(Finding::new(
            "member.licence_queue",
            Some(tenant_id),
            key,
            format!(
                "licence index keys {:?}, should be {:?}",
                member.licence_keys, member.expected_licence_keys
            ),
        ));
    }
    true
}

/// The member's guard of its user in the tenant names it.
fn member_user_guard(
    tenant_id: Uuid,
    held: &Held,
    member: &MemberFacts,
    key: &Key,
    now: i64,
    found: &mut Vec<Finding>,
) {
    // A binned member's guard may expire with it before the purge removes the member.
    let binned = member.status == MemberStatus::Deleted;
    let guard_may_be_gone = binned && member.ttl.is_some_and(|ttl| ttl <= now);
    let user_guard = Key::user_in_tenant(tenant_id, member.user_id);
    match held.user_guards.get(&user_guard) {
        Some(g) if g.holder == Some(member.id) => {}
        Some(g) => found.push(Finding::new(
            "guard.user_in_tenant",
            Some(tenant_id),
            &user_guard,
            format!("names {:?}, not member {}", g.holder, member.id),
        )),
        None if guard_may_be_gone => {}
        None => found.push(
            Finding::new(
                "guard.user_in_tenant",
                Some(tenant_id),
                &user_guard,
                format!("missing for member {}", member.id),
            )
            .fix(
                put_guard(&user_guard, "member_id", member.id, key, member.version)
                    .expiring(member.ttl.filter(|_| binned)),
            ),
        ),
    }
}

/// Each SCIM guard of the member names it.
fn member_scim_guards(
    tenant_id: Uuid,
    held: &Held,
    member: &MemberFacts,
    key: &Key,
    found: &mut Vec<Finding>,
) {
    for guard_key in &member.scim_guards {
        if held.scim_guards.get(guard_key).and_then(|g| g.holder) != Some(member.id) {
            found.push(
                Finding::new(
                    "guard.scim",
                    Some(tenant_id),
                    guard_key,
                    format!("does not name member {}", member.id),
                )
                .fix_if(!held.scim_guards.contains_key(guard_key), || {
                    put_guard(guard_key, "member_id", member.id, key, member.version)
                }),
            );
        }
    }
}

/// Each search term of the member names it.
fn member_terms(
    tenant_id: Uuid,
    held: &Held,
    member: &MemberFacts,
    key: &Key,
    found: &mut Vec<Finding>,
) {
    for term_key in &member.term_keys {
        if held.terms.get(term_key).and_then(|t| t.holder) != Some(member.id) {
            let term = member
                .term_places
                .clone()
                .map(|[directory, name]| SearchTerm {
                    member_id: member.id,
                    directory_place: Some(directory),
                    name_place: Some(name),
                });
            let mut finding = Finding::new(
                "search.term",
                Some(tenant_id),
                term_key,
                format!("missing for member {}", member.id),
            );
            if let Some(item) = term.and_then(|term| to_item(&term, term_key, &[]).ok()) {
                finding = finding.fix(Fix::Put {
                    item,
                    target: key.clone(),
                    target_version: member.version,
                });
            }
            found.push(finding);
        }
    }
}

/// Every user has its email guard, and every email guard its user.
fn user_findings(snapshot: &Snapshot, found: &mut Vec<Finding>) {
    let guards: HashMap<&Key, &Guard> = snapshot.email_guards.iter().map(|g| (&g.key, g)).collect();
    let users: HashMap<Uuid, _> = snapshot.users.iter().map(|u| (u.id, u)).collect();
    for user in &snapshot.users {
        let key = Key::email(&user.email);
        match guards.get(&key) {
            Some(g) if g.holder == Some(user.id) => {
                if g.verified != Some(user.email_verified) {
                    found.push(Finding::new(
                        "guard.email",
                        None,
                        &key,
                        format!(
                            "says verified {:?}, the user {}",
                            g.verified, user.email_verified
                        ),
                    ));
                }
            }
            Some(g) => found.push(Finding::new(
                "guard.email",
                None,
                &key,
                format!("names {:?}, not user {}", g.holder, user.id),
            )),
            None => {
                let guard = EmailGuard {
                    user_id: user.id,
                    verified: user.email_verified,
                };
                let mut finding = Finding::new(
                    "guard.email",
                    None,
                    &key,
                    format!("missing for user {}", user.id),
                );
                if let Ok(item) = to_item(&guard, &key, &[]) {
                    finding = finding.fix(Fix::Put {
                        item,
                        target: Key::user(user.id),
                        target_version: user.version,
                    });
                }
                found.push(finding);
            }
        }
    }
    for guard in &snapshot.email_guards {
        let user = guard.holder.and_then(|id| users.get(&id));
        match user {
            Some(u) if Key::email(&u.email) == guard.key => {}
            other => found.push(
                Finding::new(
                    "guard.email",
                    None,
                    &guard.key,
                    "names no user with this address".into(),
                )
                .fix(Fix::Delete {
                    key: guard.key.clone(),
                    holder_attr: guard.holder_attr,
                    holder: guard.holder,
                    target: Key::user(guard.holder.unwrap_or_default()),
                    target_version: other.map(|u| u.version),
                }),
            ),
        }
    }
}
