//! The consistency checker (issue 16): it finds drift someone left in the table, the scheduled job
//! only reports it, a repair fixes counters, guards and search terms, and a repair planned before
//! a concurrent change does not overwrite it.

use aws_sdk_dynamodb::types::AttributeValue;
use roster_shared::consistency;
use roster_shared::model::keys::Key;
use roster_tests::{Env, Tenant, unique};
use serde_json::json;
use uuid::Uuid;

fn uuid(text: &str) -> Uuid {
    text.parse().expect("a uuid")
}

async fn user_of(env: &Env, t: &Tenant, member_id: &str) -> Uuid {
    let item = env
        .app
        .store
        .get(&Key::member(uuid(&t.id), uuid(member_id)))
        .await
        .expect("read")
        .expect("the member");
    match item.get("user_id") {
        Some(AttributeValue::S(id)) => uuid(id),
        other => panic!("user_id {other:?}"),
    }
}

/// Leaves four kinds of drift: a tenant counter off by three, a member without its one-per-tenant
/// guard, a member missing a search term, and an email guard naming no account.
async fn drift(env: &Env, t: &Tenant, member_id: &str) -> (Key, Key, Key) {
    let client = env.app.store.client();
    let table = env.app.table();
    client
        .update_item()
        .table_name(table)
        .set_key(Some(Key::tenant(uuid(&t.id)).to_item()))
        .update_expression("ADD member_count :three")
        .expression_attribute_values(":three", AttributeValue::N("3".into()))
        .send()
        .await
        .expect("counter drifted");
    let guard = Key::user_in_tenant(uuid(&t.id), user_of(env, t, member_id).await);
    let term = Key::search_term(uuid(&t.id), "quinn", uuid(member_id));
    for key in [&guard, &term] {
        client
            .delete_item()
            .table_name(table)
            .set_key(Some(key.to_item()))
            .send()
            .await
            .expect("deleted");
    }
    let orphan = Key::email(&format!("{}@nobody.test", unique("ghost")));
    let mut item = orphan.to_item();
    item.insert(
        "user_id".into(),
        AttributeValue::S(Uuid::now_v7().to_string()),
    );
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("orphan put");
    (guard, term, orphan)
}

fn rules(report: &consistency::Report) -> Vec<String> {
    let mut rules: Vec<String> = report.findings.iter().map(|f| f.rule.clone()).collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn drift_is_found_reported_by_the_job_and_repaired() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Drift").await;
    let quinn = env.member_in(&t, "Quinn", json!({})).await;
    env.assert_consistent().await;

    let (guard, term, orphan) = drift(&env, &t, &quinn.member_id).await;
    let report = consistency::check(env.app).await.expect("check");
    assert_eq!(
        rules(&report),
        [
            "guard.email",
            "guard.user_in_tenant",
            "search.term",
            "tenant.member_count"
        ]
    );
    assert!(report.findings.iter().all(|f| f.repairable));
    let counter = report
        .findings
        .iter()
        .find(|f| f.rule == "tenant.member_count")
        .expect("counter finding");
    assert_eq!(counter.detail, "member_count is 5, counts 2");

    // The scheduled job reports only (repair is off by default) and writes nothing.
    let job = consistency::run(env.app).await.expect("job");
    assert_eq!(rules(&job), rules(&report));
    assert_eq!(env.tenant_view(&t).await["member_count"], 5);

    let repaired = consistency::repair(env.app).await.expect("repair");
    assert!(repaired.is_clean(), "{:?}", repaired.findings);
    assert_eq!(repaired.repaired, 4);
    assert_eq!(env.tenant_view(&t).await["member_count"], 2);
    let store = &env.app.store;
    assert!(store.get(&guard).await.expect("read").is_some());
    assert!(store.get(&term).await.expect("read").is_some());
    assert!(store.get(&orphan).await.expect("read").is_none());
    // The repaired guard and term work: Quinn is found again, and cannot be added twice.
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q=quinn", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(found.ok(200)["items"].as_array().expect("items").len(), 1);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_repair_planned_before_a_concurrent_change_does_not_overwrite_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Racing repair").await;
    let quinn = env.member_in(&t, "Quinn", json!({})).await;
    let (guard, _, _) = drift(&env, &t, &quinn.member_id).await;
    let planned = consistency::check(env.app).await.expect("check");

    // Meanwhile the member changes: the put planned for its guard is conditioned on the member as
    // it was, so it is skipped rather than written against a state nobody checked.
    env.patch(
        &format!("/v1/tenants/{}/members/{}", t.id, quinn.member_id),
        &t.owner_token,
        json!({"position": "Engineer"}),
    )
    .await
    .ok(200);
    // And another member arrives: the recount reads afresh, so it counts the newcomer.
    env.member_in(&t, "Robin", json!({})).await;
    consistency::apply(env.app, &planned.findings)
        .await
        .expect("apply");
    assert!(!store_has(&env, &guard).await);
    assert_eq!(env.tenant_view(&t).await["member_count"], 3);

    // The next run repairs what the first left.
    let repaired = consistency::repair(env.app).await.expect("repair");
    assert!(repaired.is_clean(), "{:?}", repaired.findings);
    assert!(store_has(&env, &guard).await);
    env.assert_consistent().await;
}

async fn store_has(env: &Env, key: &Key) -> bool {
    env.app.store.get(key).await.expect("read").is_some()
}
