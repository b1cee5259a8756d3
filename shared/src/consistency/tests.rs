use super::*;
use crate::model::department::{Department, DepartmentSettings};
use crate::model::item::{Item, to_item};
use crate::model::keys::Key;
use crate::model::member::{Member, MemberSource, MemberStatus, Person, UserInTenant};
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::{FeatureFlags, Plan, Tenant, TenantKind, TenantSettings, TenantStatus};
use crate::model::user::{EmailGuard, User};
use time::OffsetDateTime;
use uuid::Uuid;

const NOW: i64 = 1_800_000_000;

/// A tenant whose owner is its one member, every counter, guard and term in place.
struct World {
    tenant: Tenant,
    root: Department,
    owner: Member,
    user: User,
}

impl World {
    fn new() -> Self {
        let now = OffsetDateTime::from_unix_timestamp(NOW).expect("time");
        let tenant_id = Uuid::now_v7();
        let root_id = Uuid::now_v7();
        let mut user = User::new(
            now,
            "ada@example.com".into(),
            "Ada Lovelace".into(),
            "en".into(),
        );
        user.email_verified = true;
        let owner = Member::new(
            tenant_id,
            root_id,
            Person::from(&user),
            Role::Owner,
            Permissions::All,
            MemberSource::Console,
            now,
        );
        let root = Department {
            id: root_id,
            tenant_id,
            name: "Acme".into(),
            parent_id: None,
            path: "Acme".into(),
            id_path: root_id.to_string(),
            depth: 0,
            member_count: 1,
            child_count: 0,
            settings: DepartmentSettings::default(),
            created_at: now,
            updated_at: now,
            version: 1,
            scim_external_id: None,
        };
        let tenant = Tenant {
            id: tenant_id,
            name: "Acme".into(),
            kind: TenantKind::Customer,
            parent_id: None,
            plan: Plan::Free,
            status: TenantStatus::Active,
            purge_after: None,
            member_quota: 100,
            member_count: 1,
            invitation_count: 0,
            join_request_count: 0,
            public_request_count: 0,
            quota_used: 1,
            seats_total: 10,
            seats_used: 0,
            owner_count: 1,
            join_number: None,
            feature_flags: FeatureFlags::default(),
            settings: TenantSettings::default(),
            root_department_id: root_id,
            owner_member_id: owner.id,
            sms_daily_budget: crate::model::tenant::DEFAULT_SMS_DAILY_BUDGET,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Self {
            tenant,
            root,
            owner,
            user,
        }
    }

    fn items(&self) -> Vec<Item> {
        let t = &self.tenant;
        let mut items = vec![
            to_item(t, &Key::tenant(t.id), &[]).expect("tenant"),
            self.root.to_item().expect("root"),
            self.owner.to_item(&self.root.id_path).expect("owner"),
            to_item(
                &UserInTenant {
                    member_id: self.owner.id,
                },
                &Key::user_in_tenant(t.id, self.user.id),
                &[],
            )
            .expect("guard"),
            to_item(&self.user, &Key::user(self.user.id), &[]).expect("user"),
            to_item(
                &EmailGuard {
                    user_id: self.user.id,
                    verified: true,
                },
                &Key::email(&self.user.email),
                &[],
            )
            .expect("email guard"),
        ];
        items.extend(self.owner.search_term_items().expect("terms"));
        items
    }

    fn findings_without(&self, drop: impl Fn(&Item) -> bool) -> Vec<Finding> {
        let mut snapshot = Snapshot::default();
        for item in self.items().into_iter().filter(|i| !drop(i)) {
            snapshot.add(item);
        }
        findings(&snapshot, NOW)
    }

    fn findings(&self) -> Vec<Finding> {
        self.findings_without(|_| false)
    }
}

fn rules(found: &[Finding]) -> Vec<&str> {
    found.iter().map(|f| f.rule.as_str()).collect()
}

fn sk_starts(item: &Item, prefix: &str) -> bool {
    matches!(item.get("sk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if sk.starts_with(prefix))
}

#[test]
fn a_consistent_tenant_has_no_findings() {
    assert_eq!(rules(&World::new().findings()), Vec::<&str>::new());
}

#[test]
fn a_member_set_to_pending_without_its_counters_is_found_and_repairable() {
    let mut world = World::new();
    let second = Member {
        id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        role: Role::Member,
        status: MemberStatus::Pending,
        ..world.owner.clone()
    };
    // What PATCH to pending once left: the member counted as listed, not as a join request.
    world.tenant.member_count = 2;
    world.tenant.quota_used = 2;
    world.root.member_count = 2;
    let mut snapshot = Snapshot::default();
    for item in world.items() {
        snapshot.add(item);
    }
    snapshot.add(second.to_item(&world.root.id_path).expect("member"));
    snapshot.add(
        to_item(
            &UserInTenant {
                member_id: second.id,
            },
            &Key::user_in_tenant(world.tenant.id, second.user_id),
            &[],
        )
        .expect("guard"),
    );
    let found = findings(&snapshot, NOW);
    assert_eq!(
        rules(&found),
        [
            "tenant.member_count",
            "tenant.join_request_count",
            "department.member_count"
        ]
    );
    assert!(
        found
            .iter()
            .all(|f| matches!(f.fix, Some(Fix::Counters(_))))
    );
    assert!(found[0].detail.contains("member_count is 2, counts 1"));
}

#[test]
fn a_missing_guard_or_term_is_found_with_the_put_that_restores_it() {
    let world = World::new();
    let found = world.findings_without(|i| sk_starts(i, "USERMEMBER#"));
    assert_eq!(rules(&found), ["guard.user_in_tenant"]);
    assert!(matches!(
        &found[0].fix,
        Some(Fix::Put {
            target_version: 1,
            ..
        })
    ));

    let found = world.findings_without(|i| {
        matches!(i.get("pk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) if pk.starts_with("SEARCH#"))
            && sk_starts(i, "ada@")
    });
    assert_eq!(rules(&found), ["search.term"]);

    let found = world.findings_without(|i| sk_starts(i, "EMAIL"));
    assert_eq!(rules(&found), ["guard.email"]);
    assert!(found[0].repairable);
}

#[test]
fn guards_and_terms_naming_nothing_are_found_with_the_delete_that_clears_them() {
    let world = World::new();
    let mut snapshot = Snapshot::default();
    for item in world.items() {
        snapshot.add(item);
    }
    let ghost = Uuid::now_v7();
    snapshot.add(
        to_item(
            &UserInTenant { member_id: ghost },
            &Key::user_in_tenant(world.tenant.id, Uuid::now_v7()),
            &[],
        )
        .expect("guard"),
    );
    let mut term = Key::search_term(world.tenant.id, "grace", ghost).to_item();
    term.insert("member_id".into(), crate::store::s(ghost.to_string()));
    snapshot.add(term);
    let found = findings(&snapshot, NOW);
    assert_eq!(rules(&found), ["guard.user_in_tenant", "search.term"]);
    for finding in &found {
        assert!(
            matches!(&finding.fix, Some(Fix::Delete { holder: Some(h), target_version: None, .. }) if *h == ghost),
            "{finding:?}"
        );
    }
}

#[test]
fn a_wrong_tree_key_or_id_path_is_reported() {
    let mut world = World::new();
    let child_id = Uuid::now_v7();
    let child = Department {
        id: child_id,
        name: "Sales".into(),
        parent_id: Some(world.root.id),
        path: "Acme/Sales".into(),
        // Not under the root's id path.
        id_path: format!("elsewhere/{child_id}"),
        depth: 1,
        member_count: 0,
        ..world.root.clone()
    };
    world.root.child_count = 1;
    let mut snapshot = Snapshot::default();
    for item in world.items() {
        snapshot.add(item);
    }
    snapshot.add(child.to_item().expect("child"));
    snapshot.add(
        to_item(
            &serde_json::json!({"department_id": child_id}),
            &Key::sibling_name(world.tenant.id, world.root.id, "Sales"),
            &[],
        )
        .expect("name guard"),
    );
    assert_eq!(rules(&findings(&snapshot, NOW)), ["department.id_path"]);

    world.root.child_count = 0;
    let mut snapshot = Snapshot::default();
    for item in world.items() {
        let mut item = item;
        if sk_starts(&item, "MEMBER#") {
            item.insert("gsi2sk".into(), crate::store::s("nowhere/#x"));
        }
        snapshot.add(item);
    }
    assert_eq!(rules(&findings(&snapshot, NOW)), ["member.tree_key"]);
}

#[test]
fn the_metric_line_is_embedded_metric_format() {
    let report = Report {
        findings: World::new().findings_without(|i| sk_starts(i, "USERMEMBER#")),
        ..Report::default()
    };
    let line = metric_line(&report, 1);
    assert_eq!(line["BrokenInvariants"], 1);
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Roster");
}

#[test]
fn segments_read_apart_merge_into_one_table() {
    let world = World::new();
    let (mut even, mut odd) = (Snapshot::default(), Snapshot::default());
    for (i, item) in world.items().into_iter().enumerate() {
        if i % 2 == 0 {
            even.add(item);
        } else {
            odd.add(item);
        }
    }
    // Apart, each half is missing what the other read.
    assert!(!findings(&even, NOW).is_empty());
    even.merge(odd);
    assert_eq!(rules(&findings(&even, NOW)), Vec::<&str>::new());
    assert_eq!(even.items, world.items().len() as u64);
}

#[test]
fn anything_left_of_a_tenant_without_its_item_is_one_leftover_finding() {
    let world = World::new();
    let without_tenant = world.findings_without(|i| sk_starts(i, "TENANT"));
    assert_eq!(rules(&without_tenant), ["tenant.exists"]);
    assert!(without_tenant[0].detail.contains("does not exist"));

    // A purge stopped after its members went still leaves guards and the root department.
    let only_guards_left =
        world.findings_without(|i| sk_starts(i, "TENANT") || sk_starts(i, "MEMBER#"));
    assert_eq!(rules(&only_guards_left), ["tenant.exists"]);
}

/// An item of `t`'s log: event `seq` of `event_type`, its data `data`.
fn logged(
    tenant_id: Uuid,
    seq: u64,
    event_type: crate::events::EventType,
    data: &impl serde::Serialize,
) -> Item {
    let at = OffsetDateTime::from_unix_timestamp(NOW).expect("time");
    let logged = crate::events::sequencer::Logged {
        kind: "event".into(),
        seq,
        id: Uuid::now_v7(),
        event_type,
        tenant_id,
        occurred_at: at,
        actor: crate::events::EventActor {
            kind: "user".into(),
            id: Uuid::nil(),
        },
        data: serde_json::to_string(data).expect("data"),
        ttl: NOW + 1,
        platform_seq: Some(seq),
    };
    to_item(&logged, &Key::event(Some(tenant_id), seq), &[]).expect("logged")
}

impl World {
    /// The world's items with the events of its creation (and `more`).
    fn with_events(&self, more: Vec<Item>) -> Vec<Finding> {
        use crate::events::EventType;
        let t = self.tenant.id;
        let root = crate::departments::DepartmentView::from(&self.root);
        let owner = crate::members::MemberView::from(&self.owner);
        let mut snapshot = Snapshot::default();
        let mut items = self.items();
        items.push(logged(t, 1, EventType::DepartmentCreated, &root));
        items.push(logged(t, 2, EventType::MemberCreated, &owner));
        items.extend(more);
        for item in items {
            snapshot.add(item);
        }
        findings(&snapshot, NOW)
    }
}

#[test]
fn every_change_has_its_event_and_every_event_its_change() {
    let world = World::new();
    assert!(world.with_events(Vec::new()).is_empty());
}

#[test]
fn a_change_without_its_event_is_found() {
    let mut world = World::new();
    let t = world.tenant.id;
    let root = crate::departments::DepartmentView::from(&world.root);
    // Its creation is told, then it changes a minute later without an event.
    world.owner.updated_at += time::Duration::minutes(1);
    let told = vec![logged(
        t,
        1,
        crate::events::EventType::DepartmentCreated,
        &root,
    )];
    let mut snapshot = Snapshot::default();
    for item in world.items().into_iter().chain(told) {
        snapshot.add(item);
    }
    let found = findings(&snapshot, NOW);
    assert_eq!(rules(&found), ["event.of_change"], "{found:?}");
    assert_eq!(found[0].sk, Key::member(t, world.owner.id).sk);
}

#[test]
fn a_change_older_than_the_log_needs_no_event() {
    let mut world = World::new();
    world.owner.updated_at -= time::Duration::days(40);
    let root = crate::departments::DepartmentView::from(&world.root);
    let told = vec![logged(
        world.tenant.id,
        1,
        crate::events::EventType::DepartmentCreated,
        &root,
    )];
    let mut snapshot = Snapshot::default();
    for item in world.items().into_iter().chain(told) {
        snapshot.add(item);
    }
    assert!(findings(&snapshot, NOW).is_empty());
}

#[test]
fn an_event_naming_nothing_is_found_unless_its_removal_is_told() {
    use crate::events::EventType;
    let world = World::new();
    let t = world.tenant.id;
    let gone = serde_json::json!({"id": Uuid::now_v7(), "updated_at": "2027-01-15T08:00:00Z"});
    let found = world.with_events(vec![logged(t, 3, EventType::MemberUpdated, &gone)]);
    assert_eq!(rules(&found), ["event.names_change"], "{found:?}");
    let purged = vec![
        logged(t, 3, EventType::MemberUpdated, &gone),
        logged(t, 4, EventType::MemberPurged, &gone),
    ];
    assert!(world.with_events(purged).is_empty());
    // Nor may an event tell a later change than its member shows.
    let mut later = crate::members::MemberView::from(&world.owner);
    later.updated_at += time::Duration::minutes(5);
    let found = world.with_events(vec![logged(t, 3, EventType::MemberUpdated, &later)]);
    assert_eq!(rules(&found), ["event.names_change"], "{found:?}");
}
