//! The invariants, as pure functions of a snapshot: each broken one is a finding that names the
//! item, what it holds and what it should hold, and the repair that fixes it when there is one.

use super::snapshot::{Guard, MemberFacts, Snapshot, TenantPart};
use super::{Finding, Fix};
use crate::model::department::Department;
use crate::model::keys::{Key, tree_position};
use crate::model::member::{MemberStatus, SearchTerm};
use crate::model::tenant::Tenant;
use crate::model::user::EmailGuard;
use crate::store::to_item;
use std::collections::{HashMap, HashSet};
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

fn members(tenant: &Tenant, part: &TenantPart, now: i64, found: &mut Vec<Finding>) {
    let departments: HashMap<Uuid, &Department> =
        part.departments.iter().map(|d| (d.id, d)).collect();
    let user_guards: HashMap<&Key, &Guard> = part.user_guards.iter().map(|g| (&g.key, g)).collect();
    let scim_guards: HashMap<&Key, &Guard> = part.scim_guards.iter().map(|g| (&g.key, g)).collect();
    let terms: HashMap<&Key, &Guard> = part.search_terms.iter().map(|g| (&g.key, g)).collect();
    for member in &part.members {
        let key = Key::member(tenant.id, member.id);
        let listed = member.status.in_directory();
        let expected_tree = match departments.get(&member.department_id) {
            Some(department) => listed.then(|| tree_position(&department.id_path, member.id)),
            None if listed => {
                found.push(Finding::new(
                    "member.department",
                    Some(tenant.id),
                    &key,
                    format!("department {} does not exist", member.department_id),
                ));
                continue;
            }
            None => None,
        };
        if member.tree_key != expected_tree {
            found.push(Finding::new(
                "member.tree_key",
                Some(tenant.id),
                &key,
                format!(
                    "tree key {:?}, should be {expected_tree:?}",
                    member.tree_key
                ),
            ));
        }
        if member.licence_keys != member.expected_licence_keys {
            found.push(Finding::new(
                "member.licence_queue",
                Some(tenant.id),
                &key,
                format!(
                    "licence index keys {:?}, should be {:?}",
                    member.licence_keys, member.expected_licence_keys
                ),
            ));
        }
        // A binned member's guard may expire with it before the purge removes the member.
        let guard_may_be_gone =
            member.status == MemberStatus::Deleted && member.ttl.is_some_and(|ttl| ttl <= now);
        let user_guard = Key::user_in_tenant(tenant.id, member.user_id);
        match user_guards.get(&user_guard) {
            Some(g) if g.holder == Some(member.id) => {}
            Some(g) => found.push(Finding::new(
                "guard.user_in_tenant",
                Some(tenant.id),
                &user_guard,
                format!("names {:?}, not member {}", g.holder, member.id),
            )),
            None if guard_may_be_gone => {}
            None => found.push(
                Finding::new(
                    "guard.user_in_tenant",
                    Some(tenant.id),
                    &user_guard,
                    format!("missing for member {}", member.id),
                )
                .fix(
                    put_guard(&user_guard, "member_id", member.id, &key, member.version).expiring(
                        member
                            .ttl
                            .filter(|_| member.status == MemberStatus::Deleted),
                    ),
                ),
            ),
        }
        for guard_key in &member.scim_guards {
            if scim_guards.get(guard_key).and_then(|g| g.holder) != Some(member.id) {
                found.push(
                    Finding::new(
                        "guard.scim",
                        Some(tenant.id),
                        guard_key,
                        format!("does not name member {}", member.id),
                    )
                    .fix_if(!scim_guards.contains_key(guard_key), || {
                        put_guard(guard_key, "member_id", member.id, &key, member.version)
                    }),
                );
            }
        }
        for term_key in &member.term_keys {
            if terms.get(term_key).and_then(|t| t.holder) != Some(member.id) {
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
                    Some(tenant.id),
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
}

/// Guards and search terms that name nothing, or something that does not hold them.
fn guards(tenant_id: Uuid, part: &TenantPart, now: i64, found: &mut Vec<Finding>) {
    let members: HashMap<Uuid, &MemberFacts> = part.members.iter().map(|m| (m.id, m)).collect();
    let departments: HashMap<Uuid, &Department> =
        part.departments.iter().map(|d| (d.id, d)).collect();
    let live = |g: &Guard| g.ttl.is_none_or(|ttl| ttl > now);
    let orphan = |rule: &str, guard: &Guard, target: Key, version: Option<u64>, why: String| {
        Finding::new(rule, Some(tenant_id), &guard.key, why).fix(Fix::Delete {
            key: guard.key.clone(),
            holder_attr: guard.holder_attr,
            holder: guard.holder,
            target,
            target_version: version,
        })
    };
    for guard in part.user_guards.iter().filter(|g| live(g)) {
        let member = guard.holder.and_then(|id| members.get(&id));
        let target = Key::member(tenant_id, guard.holder.unwrap_or_default());
        match member {
            Some(m) if Key::user_in_tenant(tenant_id, m.user_id) == guard.key => {}
            Some(m) => found.push(orphan(
                "guard.user_in_tenant",
                guard,
                target,
                Some(m.version),
                format!("names member {} of another user", m.id),
            )),
            None => found.push(orphan(
                "guard.user_in_tenant",
                guard,
                target,
                None,
                "names no member".into(),
            )),
        }
    }
    for guard in &part.scim_guards {
        let member = guard.holder.and_then(|id| members.get(&id));
        let target = Key::member(tenant_id, guard.holder.unwrap_or_default());
        match member {
            Some(m) if m.scim_guards.contains(&guard.key) => {}
            other => found.push(orphan(
                "guard.scim",
                guard,
                target,
                other.map(|m| m.version),
                "names no member holding it".into(),
            )),
        }
    }
    for guard in &part.name_guards {
        let department = guard.holder.and_then(|id| departments.get(&id));
        let target = Key::department(tenant_id, guard.holder.unwrap_or_default());
        match department {
            Some(d)
                if d.parent_id
                    .is_some_and(|p| Key::sibling_name(tenant_id, p, &d.name) == guard.key) => {}
            other => found.push(orphan(
                "guard.department_name",
                guard,
                target,
                other.map(|d| d.version),
                "names no department of that name and parent".into(),
            )),
        }
    }
    let name_guards: HashMap<&Key, &Guard> = part.name_guards.iter().map(|g| (&g.key, g)).collect();
    for department in &part.departments {
        let Some(parent_id) = department.parent_id else {
            continue;
        };
        let guard_key = Key::sibling_name(tenant_id, parent_id, &department.name);
        match name_guards.get(&guard_key) {
            Some(g) if g.holder == Some(department.id) => {}
            Some(g) => found.push(Finding::new(
                "guard.department_name",
                Some(tenant_id),
                &guard_key,
                format!("names {:?}, not department {}", g.holder, department.id),
            )),
            None => found.push(
                Finding::new(
                    "guard.department_name",
                    Some(tenant_id),
                    &guard_key,
                    format!("missing for department {}", department.id),
                )
                .fix(put_guard(
                    &guard_key,
                    "department_id",
                    department.id,
                    &department.key(),
                    department.version,
                )),
            ),
        }
    }
    let invitations: HashMap<Uuid, _> = part.invitations.iter().map(|i| (i.id, i)).collect();
    for guard in part.invitation_guards.iter().filter(|g| live(g)) {
        let invitation = guard.holder.and_then(|id| invitations.get(&id));
        let target = Key::invitation(tenant_id, guard.holder.unwrap_or_default());
        match invitation {
            Some(i) if i.pending && i.guard == guard.key => {}
            other => found.push(orphan(
                "guard.invitation",
                guard,
                target,
                other.map(|i| i.version),
                "names no pending invitation for its address".into(),
            )),
        }
    }
    let invitation_guards: HashMap<&Key, &Guard> =
        part.invitation_guards.iter().map(|g| (&g.key, g)).collect();
    for invitation in part
        .invitations
        .iter()
        .filter(|i| i.pending && i.expires_epoch > now)
    {
        if invitation_guards
            .get(&invitation.guard)
            .and_then(|g| g.holder)
            != Some(invitation.id)
        {
            found.push(Finding::new(
                "guard.invitation",
                Some(tenant_id),
                &invitation.guard,
                format!("does not name pending invitation {}", invitation.id),
            ));
        }
    }
    let member_terms: HashSet<(&Key, Uuid)> = part
        .members
        .iter()
        .flat_map(|m| m.term_keys.iter().map(move |k| (k, m.id)))
        .collect();
    for term in &part.search_terms {
        let held = term
            .holder
            .is_some_and(|id| member_terms.contains(&(&term.key, id)));
        if !held {
            let member = term.holder.and_then(|id| members.get(&id));
            found.push(orphan(
                "search.term",
                term,
                Key::member(tenant_id, term.holder.unwrap_or_default()),
                member.map(|m| m.version),
                "names no listed member with this term".into(),
            ));
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

fn put_guard(key: &Key, attr: &str, holder: Uuid, target: &Key, target_version: u64) -> Fix {
    let mut item = key.to_item();
    item.insert(attr.to_string(), crate::store::s(holder.to_string()));
    Fix::Put {
        item,
        target: target.clone(),
        target_version,
    }
}
