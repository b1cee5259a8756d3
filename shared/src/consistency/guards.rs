//! Guards and search terms that name nothing, or something that does not hold them; and the
//! guards a department or a pending invitation must hold. (A member's own guards and terms are
//! checked with the member, in `rules`.)

use super::finding::{Finding, Fix, put_guard};
use super::snapshot::{Guard, MemberFacts, TenantPart};
use crate::model::department::Department;
use crate::model::keys::Key;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Guards and search terms that name nothing, or something that does not hold them.
pub(super) fn guards(tenant_id: Uuid, part: &TenantPart, now: i64, found: &mut Vec<Finding>) {
    let members: HashMap<Uuid, &MemberFacts> = part.members.iter().map(|m| (m.id, m)).collect();
    member_guard_holders(tenant_id, part, &members, now, found);
    department_name_guards(tenant_id, part, found);
    invitation_guards(tenant_id, part, now, found);
    search_term_holders(tenant_id, part, &members, found);
}

/// Whether a guard is still alive at `now` (one with a TTL expires with what it guarded).
fn live(guard: &Guard, now: i64) -> bool {
    guard.ttl.is_none_or(|ttl| ttl > now)
}

/// A guard (or search term) that names nothing holding it: deleted while it and its target are
/// unchanged.
fn orphan(
    tenant_id: Uuid,
    rule: &str,
    guard: &Guard,
    target: Key,
    version: Option<u64>,
    why: String,
) -> Finding {
    Finding::new(rule, Some(tenant_id), &guard.key, why).fix(Fix::Delete {
        key: guard.key.clone(),
        holder_attr: guard.holder_attr,
        holder: guard.holder,
        target,
        target_version: version,
    })
}

/// Each live user-in-tenant guard names a member of that user; each SCIM guard a member
/// holding it.
fn member_guard_holders(
    tenant_id: Uuid,
    part: &TenantPart,
    members: &HashMap<Uuid, &MemberFacts>,
    now: i64,
    found: &mut Vec<Finding>,
) {
    for guard in part.user_guards.iter().filter(|g| live(g, now)) {
        let member = guard.holder.and_then(|id| members.get(&id));
        let target = Key::member(tenant_id, guard.holder.unwrap_or_default());
        let (version, why) = match member {
            Some(m) if Key::user_in_tenant(tenant_id, m.user_id) == guard.key => continue,
            Some(m) => (
                Some(m.version),
                format!("names member {} of another user", m.id),
            ),
            None => (None, "names no member".into()),
        };
        let rule = "guard.user_in_tenant";
        found.push(orphan(tenant_id, rule, guard, target, version, why));
    }
    for guard in &part.scim_guards {
        let member = guard.holder.and_then(|id| members.get(&id));
        let target = Key::member(tenant_id, guard.holder.unwrap_or_default());
        match member {
            Some(m) if m.scim_guards.contains(&guard.key) => {}
            other => found.push(orphan(
                tenant_id,
                "guard.scim",
                guard,
                target,
                other.map(|m| m.version),
                "names no member holding it".into(),
            )),
        }
    }
}

/// Each sibling-name guard names a department of that name and parent, and each department
/// below the root holds its guard.
fn department_name_guards(tenant_id: Uuid, part: &TenantPart, found: &mut Vec<Finding>) {
    let departments: HashMap<Uuid, &Department> =
        part.departments.iter().map(|d| (d.id, d)).collect();
    for guard in &part.name_guards {
        let department = guard.holder.and_then(|id| departments.get(&id));
        let target = Key::department(tenant_id, guard.holder.unwrap_or_default());
        match department {
            Some(d)
                if d.parent_id
                    .is_some_and(|p| Key::sibling_name(tenant_id, p, &d.name) == guard.key) => {}
            other => found.push(orphan(
                tenant_id,
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
}

/// Each live invitee guard names a pending invitation for its address, and each pending
/// invitation not yet expired holds its guard.
fn invitation_guards(tenant_id: Uuid, part: &TenantPart, now: i64, found: &mut Vec<Finding>) {
    let invitations: HashMap<Uuid, _> = part.invitations.iter().map(|i| (i.id, i)).collect();
    for guard in part.invitation_guards.iter().filter(|g| live(g, now)) {
        let invitation = guard.holder.and_then(|id| invitations.get(&id));
        let target = Key::invitation(tenant_id, guard.holder.unwrap_or_default());
        match invitation {
            Some(i) if i.pending && i.guard == guard.key => {}
            other => found.push(orphan(
                tenant_id,
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
}

/// Each search term names a listed member holding it.
fn search_term_holders(
    tenant_id: Uuid,
    part: &TenantPart,
    members: &HashMap<Uuid, &MemberFacts>,
    found: &mut Vec<Finding>,
) {
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
                tenant_id,
                "search.term",
                term,
                Key::member(tenant_id, term.holder.unwrap_or_default()),
                member.map(|m| m.version),
                "names no listed member with this term".into(),
            ));
        }
    }
}
