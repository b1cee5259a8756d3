//! The event log against the changes it tells (SPEC.md §9.2: no change without its event, no
//! event without its change):
//! - `event.of_change`: every member and department whose last change falls inside the log
//!   (since its oldest event still kept) has that change's event: one naming it that shows the
//!   same `updated_at`. A join request has an event naming it (its view has no `updated_at`).
//! - `event.names_change`: every member or department event names one that exists and shows no
//!   later change than it has, or one whose removal (`member.purged`, `department.deleted`, a
//!   join request turned down) the log tells.
//!
//! Pending events count as told: the sequencer numbers them into the log soon after their change.

use super::finding::Finding;
use super::snapshot::{EventFacts, TenantPart};
use crate::events::EventType;
use crate::model::keys::Key;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum About {
    Member,
    Department,
}

fn about(event_type: EventType) -> Option<About> {
    let name = event_type.name();
    if name.starts_with("member.") || name.starts_with("join_request.") {
        Some(About::Member)
    } else if name.starts_with("department.") {
        Some(About::Department)
    } else {
        None
    }
}

/// Whether the event tells that its resource is gone, or may go without another event: a
/// deleted member's bin entry also ends by DynamoDB's TTL.
fn removes(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::MemberPurged
            | EventType::MemberDeleted
            | EventType::DepartmentDeleted
            | EventType::JoinRequestRejected
    )
}

/// One tenant's findings.
pub(super) fn findings(tenant_id: Uuid, part: &TenantPart, found: &mut Vec<Finding>) {
    let Some(since) = part.events.iter().map(|e| e.occurred_at).min() else {
        return;
    };
    let mut told: HashMap<(About, Uuid), Vec<&EventFacts>> = HashMap::new();
    for event in &part.events {
        if let (Some(about), Some(id)) = (about(event.event_type), event.resource) {
            told.entry((about, id)).or_default().push(event);
        }
    }
    let none = Vec::new();
    let mut shown: HashMap<(About, Uuid), (i64, Key)> = HashMap::new();
    for member in &part.members {
        let key = Key::member(tenant_id, member.id);
        let at = member.updated_at.unix_timestamp();
        shown.insert((About::Member, member.id), (at, key.clone()));
        let events = told.get(&(About::Member, member.id)).unwrap_or(&none);
        let has_its_event = if member.status.is_join_request() {
            !events.is_empty()
        } else {
            events.iter().any(|e| e.updated_at == Some(at))
        };
        if member.updated_at >= since && !has_its_event {
            found.push(missing(tenant_id, &key, "member", member.updated_at));
        }
    }
    for department in &part.departments {
        let key = Key::department(tenant_id, department.id);
        let at = department.updated_at.unix_timestamp();
        shown.insert((About::Department, department.id), (at, key.clone()));
        let events = told
            .get(&(About::Department, department.id))
            .unwrap_or(&none);
        let has_its_event = events.iter().any(|e| e.updated_at == Some(at));
        if department.updated_at >= since && !has_its_event {
            found.push(missing(
                tenant_id,
                &key,
                "department",
                department.updated_at,
            ));
        }
    }
    for ((about, id), events) in &told {
        names_change(tenant_id, shown.get(&(*about, *id)), events, found);
    }
}

fn missing(tenant_id: Uuid, key: &Key, what: &str, at: OffsetDateTime) -> Finding {
    Finding::new(
        "event.of_change",
        Some(tenant_id),
        key,
        format!("the {what}'s change of {at} has no event"),
    )
}

/// The events of one resource against what it shows now (`None`: it is gone).
fn names_change(
    tenant_id: Uuid,
    shown: Option<&(i64, Key)>,
    events: &[&EventFacts],
    found: &mut Vec<Finding>,
) {
    match shown {
        Some((at, _)) => {
            let later: HashSet<&Key> = events
                .iter()
                .filter(|e| e.updated_at.is_some_and(|told| told > *at))
                .map(|e| &e.key)
                .collect();
            for key in later {
                found.push(Finding::new(
                    "event.names_change",
                    Some(tenant_id),
                    key,
                    "tells a later change than its resource shows".into(),
                ));
            }
        }
        None if events.iter().any(|e| removes(e.event_type)) => {}
        None => {
            let first = events[0];
            found.push(Finding::new(
                "event.names_change",
                Some(tenant_id),
                &first.key,
                format!(
                    "{} names {:?}, which does not exist and whose removal no event tells",
                    first.event_type.name(),
                    first.resource
                ),
            ));
        }
    }
}
