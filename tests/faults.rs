//! Faults (SPEC.md §8.6): what a client sees when DynamoDB, S3 or SES stay throttled or failing
//! through the SDK's retries (503 `unavailable` with `Retry-After`, nothing written), answers that
//! are lost on the way back, and `Idempotency-Key` on creates. The faults come from the emulator
//! (scripts/emulator.py), aimed at this test's own table or bucket.

use futures::future::join_all;
use roster_tests::{Answer, Env, Tenant, unique};
use serde_json::{Value, json};
use std::time::Duration;

async fn create_member(env: &Env, t: &Tenant, key: Option<&str>, body: &Value) -> Answer {
    let mut request = env
        .http
        .post(format!("{}/v1/tenants/{}/members", env.base, t.id))
        .bearer_auth(&t.owner_token)
        .json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    Env::answer(request.send().await.expect("request")).await
}

fn new_member(t: &Tenant) -> Value {
    json!({
        "email": format!("{}@faults.test", unique("m")),
        "name": "Fault Tolerant",
        "department_id": t.root,
    })
}

async fn members_named(env: &Env, t: &Tenant, email: &str) -> usize {
    let listed = env
        .get(
            &format!("/v1/tenants/{}/members?q={}", t.id, email),
            &t.owner_token,
        )
        .await;
    listed.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["email"] == email)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_throttled_dependency_answers_503_with_retry_after_and_writes_nothing() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Throttled").await;
    let before = env.member_count(&t).await;
    let body = new_member(&t);

    // Every attempt at the create's transaction is throttled, through all the SDK's retries.
    env.inject_faults(json!([
        {"service": "dynamodb", "op": "TransactWriteItems", "fault": "throttle"}
    ]))
    .await;
    let refused = create_member(&env, &t, None, &body).await;
    refused.problem(503, "unavailable");
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.body["retry_after"], 1);
    env.clear_faults().await;

    // Reads that stay failing (HTTP 500) are 503s too, never 500s.
    env.inject_faults(json!([{"service": "dynamodb", "op": "Query", "fault": "error500"}]))
        .await;
    env.get(&format!("/v1/tenants/{}/members", t.id), &t.owner_token)
        .await
        .problem(503, "unavailable");
    env.clear_faults().await;

    // Nothing was written: no member, no counter moved, no guard left to refuse the retry.
    assert_eq!(env.member_count(&t).await, before);
    assert_eq!(
        members_named(&env, &t, body["email"].as_str().unwrap()).await,
        0
    );
    create_member(&env, &t, None, &body).await.ok(201);
    assert_eq!(env.member_count(&t).await, before + 1);
    env.clear_faults().await;
    env.assert_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_bucket_answers_503_not_a_validation_error() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Slow bucket").await;
    let csv = format!(
        "email,name\n{}@faults.test,Imported Person\n",
        unique("import")
    );
    let (job, _) = env.uploaded_import(&t, &csv, false).await;

    // The upload is there, but S3 answers SlowDown to every attempt at reading it.
    env.inject_faults(json!([{"service": "s3", "fault": "slowdown"}]))
        .await;
    env.start_import(&t, &job).await.problem(503, "unavailable");
    env.clear_faults().await;
    assert_eq!(env.job(&t, &job).await["status"], "awaiting_upload");
    env.start_import(&t, &job).await.ok(202);
    env.clear_faults().await;
    env.assert_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_answers_the_first_response_again_and_creates_once() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Idempotent").await;
    let before = env.member_count(&t).await;
    let body = new_member(&t);
    let key = unique("key");

    let first = create_member(&env, &t, Some(&key), &body).await;
    first.ok(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = create_member(&env, &t, Some(&key), &body).await;
    again.ok(201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["etag"], first.headers["etag"]);
    assert_eq!(env.member_count(&t).await, before + 1);

    // The same key with another body is refused, and creates nothing.
    create_member(&env, &t, Some(&key), &new_member(&t))
        .await
        .problem(409, "conflict");
    assert_eq!(env.member_count(&t).await, before + 1);

    // An error is an answer too: the duplicate's 409 comes back for its retries.
    let duplicate_key = unique("key");
    let duplicate = create_member(&env, &t, Some(&duplicate_key), &body).await;
    duplicate.problem(409, "conflict");
    create_member(&env, &t, Some(&duplicate_key), &body)
        .await
        .problem(409, "conflict");

    // Keys belong to their tenant and caller: another tenant's admin with the same key and body
    // gets its own create.
    let other = env.tenant_with_owner("Other").await;
    let mut elsewhere = body.clone();
    elsewhere["department_id"] = json!(other.root);
    create_member(&env, &other, Some(&key), &elsewhere)
        .await
        .ok(201);

    // Keys are 1 to 255 visible characters.
    create_member(&env, &t, Some(&"k".repeat(256)), &new_member(&t))
        .await
        .problem(400, "validation_failed");

    // Ten racing requests with one key: one create, every answer the same member or a 409
    // saying the first is still running.
    let racing_body = new_member(&t);
    let racing_key = unique("race");
    let answers =
        join_all((0..10).map(|_| create_member(&env, &t, Some(&racing_key), &racing_body))).await;
    let created: Vec<_> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty());
    assert!(
        created
            .iter()
            .all(|a| a.body["id"] == created[0].body["id"])
    );
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.problem(409, "conflict");
    }
    assert_eq!(env.member_count(&t).await, before + 2);
    env.clear_faults().await;
    env.assert_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_retried_with_its_key_after_a_503_runs_again_and_once() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Retried").await;
    let before = env.member_count(&t).await;
    let body = new_member(&t);
    let key = unique("key");

    // Three throttled attempts: all the SDK makes, so the first request answers 503.
    env.inject_faults(json!([
        {"service": "dynamodb", "op": "TransactWriteItems", "fault": "throughput", "count": 3}
    ]))
    .await;
    create_member(&env, &t, Some(&key), &body)
        .await
        .problem(503, "unavailable");
    env.clear_faults().await;

    // The 503 released the key: the retry runs, once, and its answer is kept.
    let retried = create_member(&env, &t, Some(&key), &body).await;
    retried.ok(201);
    let replayed = create_member(&env, &t, Some(&key), &body).await;
    assert_eq!(replayed.body, retried.body);
    assert_eq!(env.member_count(&t).await, before + 1);
    env.clear_faults().await;
    env.assert_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_whose_answer_is_lost_is_not_carried_out_twice() {
    let env = Env::start_with_attempt_timeout(Duration::from_millis(1500)).await;
    let t = env.tenant_with_owner("Lost answer").await;
    let name = unique("Department");

    // The department's transaction is carried out, but its answer comes after the SDK gave up
    // on it; the SDK sends it again with the same ClientRequestToken.
    env.inject_faults(json!([
        {"service": "dynamodb", "op": "TransactWriteItems", "fault": "delay", "seconds": 2.5, "count": 1}
    ]))
    .await;
    let created = env
        .post(
            &format!("/v1/tenants/{}/departments", t.id),
            Some(&t.owner_token),
            json!({"name": name, "parent_id": t.root}),
        )
        .await;
    env.clear_faults().await;
    created.ok(201);
    let tree = env
        .get(&format!("/v1/tenants/{}/departments", t.id), &t.owner_token)
        .await;
    let departments = tree.ok(200)["items"].as_array().expect("items");
    let named = departments
        .iter()
        .filter(|d| d["name"] == name.as_str())
        .count();
    assert_eq!(named, 1);
    let root = departments
        .iter()
        .find(|d| d["id"] == t.root.as_str())
        .expect("root");
    assert_eq!(root["child_count"], 1);
    env.clear_faults().await;
    env.assert_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_change_whose_last_transaction_fails_is_undone_even_through_a_throttled_undo() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Bulk undo").await;
    env.set_limits(&t, json!({"member_quota": 400})).await;
    let ids = env.add_members(&t, 250).await;
    let before = env.tenant_view(&t).await;

    // 250 members take three transactions. The first two pass; the third is throttled through
    // all its attempts, and so are the first attempts at undoing the first.
    env.inject_faults(json!([
        {"service": "dynamodb", "op": "TransactWriteItems", "fault": "throttle", "after": 2, "count": 6}
    ]))
    .await;
    env.post(
        &format!("/v1/tenants/{}/members/bulk-status", t.id),
        Some(&t.owner_token),
        json!({"member_ids": ids, "status": "disabled"}),
    )
    .await
    .problem(503, "unavailable");
    env.clear_faults().await;

    // Nothing of it is left: no member disabled, no counter moved.
    let disabled = env
        .get(
            &format!("/v1/tenants/{}/members?status=disabled&limit=200", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(disabled.ok(200)["items"], json!([]));
    let after = env.tenant_view(&t).await;
    for counter in ["member_count", "quota_used", "owner_count"] {
        assert_eq!(after[counter], before[counter], "{counter}");
    }
    env.clear_faults().await;
    env.assert_consistent().await;
}
