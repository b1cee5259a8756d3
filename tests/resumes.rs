//! Work that resumes (issue 11, item 7): an import stopped by a transient error gives its claim
//! back so a retry continues where it stopped (and one that keeps failing without progress ends);
//! the undo of a failed bulk licence chunk puts back only members still as the request left them;
//! one unreadable item in a due queue holds up none of the scheduled jobs; an import reads exactly
//! the file its start checked.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::BoxFuture;
use roster_shared::App;
use roster_shared::app::{AppOptions, Clock};
use roster_shared::model::keys::Key;
use roster_shared::store::Store;
use roster_shared::tokens::TokenKeys;
use roster_tests::{Env, Tenant, rfc3339, unique};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

async fn tenant_sized(env: &Env, name: &str, quota: u32, seats: u32) -> Tenant {
    let t = env.tenant_with_owner(name).await;
    env.set_limits(&t, json!({"member_quota": quota, "seats_total": seats}))
        .await;
    t
}

/// Puts an item straight into the table, as no route would write it.
async fn put_raw(env: &Env, item: HashMap<String, AttributeValue>) {
    env.app
        .store
        .client()
        .put_item()
        .table_name(env.app.table())
        .set_item(Some(item))
        .send()
        .await
        .expect("put");
}

fn text(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

// ---- imports ----

/// Creates a create-mode import of `t`, uploads `csv` and starts it; returns the job id and the
/// upload URL (still good for 15 minutes).
async fn started_import(env: &Env, t: &Tenant, csv: &str) -> (String, String) {
    let (job, url) = env.uploaded_import(t, csv, false).await;
    let started = env.start_import(t, &job).await;
    assert_eq!(started.ok(202)["status"], "queued");
    (job, url)
}

/// An email guard no account could have written: reading it fails, as a store failing would.
async fn unreadable_email_guard(env: &Env, email: &str) {
    let mut item = Key::email(email).to_item();
    item.insert("user_id".into(), text("not-a-uuid"));
    put_raw(env, item).await;
}

async fn remove_item(env: &Env, key: &Key) {
    env.app
        .store
        .client()
        .delete_item()
        .table_name(env.app.table())
        .set_key(Some(key.to_item()))
        .send()
        .await
        .expect("delete");
}

fn people(domain: &str, n: usize) -> (String, Vec<String>) {
    let emails: Vec<String> = (0..n).map(|i| format!("r{i}@{domain}.test")).collect();
    let mut csv = String::from("email,name\n");
    for (i, e) in emails.iter().enumerate() {
        csv.push_str(&format!("{e},Row {i}\n"));
    }
    (csv, emails)
}

#[tokio::test]
async fn an_interrupted_import_is_queued_again_and_a_retry_finishes_it() {
    let env = Env::start().await;
    let t = tenant_sized(&env, "Resume Co", 500, 5).await;
    let (csv, emails) = people(&unique("resume"), 150);
    // Row 122 (the 121st person) cannot be read past: the run stops there, midway through its
    // second batch.
    unreadable_email_guard(&env, &emails[120]).await;
    let before = env.member_count(&t).await;
    let (job_id, _) = started_import(&env, &t, &csv).await;

    assert!(env.play_import_record(&t, &job_id).await.is_err());
    // The claim is given back at once: queued, not running until it is stale.
    let stopped = env.job(&t, &job_id).await;
    assert_eq!(stopped["status"], "queued", "{stopped}");
    assert_eq!(env.member_count(&t).await, before + 120);

    // The failure passes; the retry (the event source's, or the queued record's) continues where
    // the first run stopped and imports no row twice.
    remove_item(&env, &Key::email(&emails[120])).await;
    assert_eq!(
        env.play_import_record(&t, &job_id)
            .await
            .expect("retry")
            .imported,
        1
    );
    let done = env.job(&t, &job_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["counts"],
        json!({"total": 150, "succeeded": 150, "failed": 0})
    );
    assert_eq!(env.member_count(&t).await, before + 150);
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_import_interrupted_again_and_again_without_progress_ends_failed() {
    let env = Env::start().await;
    let t = tenant_sized(&env, "Stuck Co", 500, 5).await;
    let (csv, emails) = people(&unique("stuck"), 3);
    unreadable_email_guard(&env, &emails[0]).await;
    let before = env.member_count(&t).await;
    let (job_id, _) = started_import(&env, &t, &csv).await;
    let limit = roster_shared::jobs::import::MAX_STALLED_RUNS;
    for run in 1..=limit {
        assert!(env.play_import_record(&t, &job_id).await.is_err());
        let state = env.job(&t, &job_id).await;
        let expected = if run < limit { "queued" } else { "failed" };
        assert_eq!(state["status"], expected, "after run {run}: {state}");
    }
    let failed = env.job(&t, &job_id).await;
    let error = failed["error"].as_str().expect("a reason");
    assert!(error.contains("interrupted"), "{error}");
    // The store's own error stays in the logs.
    assert!(
        !error.contains("not-a-uuid") && !error.contains("internal"),
        "{error}"
    );
    // Given up: further deliveries do nothing.
    assert_eq!(
        env.play_import_record(&t, &job_id)
            .await
            .expect("done")
            .imported,
        0
    );
    assert_eq!(env.member_count(&t).await, before);
}

#[tokio::test]
async fn an_import_reads_only_the_file_its_start_checked() {
    let env = Env::start().await;
    let t = tenant_sized(&env, "Checked Co", 500, 5).await;
    let (checked, checked_emails) = people(&unique("checked"), 2);
    let (job_id, url) = started_import(&env, &t, &checked).await;
    assert_eq!(env.job(&t, &job_id).await["counts"]["total"], 2);
    // The upload link still works: a bigger, different file replaces the checked one.
    let (swapped, swapped_emails) = people(&unique("swapped"), 40);
    env.upload_csv(&url, &swapped).await;
    let before = env.member_count(&t).await;

    assert_eq!(
        env.play_import_record(&t, &job_id)
            .await
            .expect("run")
            .imported,
        1
    );
    let done = env.job(&t, &job_id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error"].as_str().unwrap_or("").contains("replaced"),
        "{done}"
    );
    // Not one row of the file nobody checked.
    assert_eq!(env.member_count(&t).await, before);
    for email in swapped_emails.iter().take(3).chain(&checked_emails) {
        let found = env
            .get(
                &format!("/v1/tenants/{}/members?q={email}", t.id),
                &t.owner_token,
            )
            .await;
        assert_eq!(found.ok(200)["items"], json!([]), "{email}");
    }
}

// ---- licences ----

/// Runs `change` once, just before the `nth` TransactWriteItems its client sends (and holds that
/// request until it is done): another request's change landing between two transactions of one
/// request, every time.
struct Between {
    nth: usize,
    seen: AtomicUsize,
    change: Mutex<Option<BoxFuture<'static, ()>>>,
}

impl std::fmt::Debug for Between {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Between").field("nth", &self.nth).finish()
    }
}

impl Intercept for Between {
    fn name(&self) -> &'static str {
        "Between"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target");
        if !target.is_some_and(|t| t.ends_with(".TransactWriteItems")) {
            return Ok(());
        }
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 != self.nth {
            return Ok(());
        }
        let change = self.change.lock().expect("lock").take();
        if let Some(change) = change {
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(change));
        }
        Ok(())
    }
}

/// A second Roster over the same table and signing key, behind its own gateway, whose DynamoDB
/// client runs `between` before its `nth` transaction; returns the gateway's base URL.
async fn gateway_with(env: &'static Env, between: Between) -> String {
    let sdk = roster_tests::sdk_config().await;
    let mut app = App::new(
        &sdk,
        env.app.config.clone(),
        TokenKeys::from_private(&env.private_key).expect("keys"),
        AppOptions::default(),
    )
    .expect("app");
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(between)
        .build();
    app.store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(dynamo),
        env.app.config.table.clone(),
    );
    let app: &'static App = Box::leak(Box::new(app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(roster_functions::gateway::serve(app, listener));
    base
}

async fn licence_of(env: &Env, t: &Tenant, member: &str) -> Value {
    env.get(
        &format!("/v1/tenants/{}/members/{member}", t.id),
        &t.owner_token,
    )
    .await
    .ok(200)["licence"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_bulk_licence_chunk_undoes_only_members_still_as_it_left_them() {
    let env: &'static Env = Box::leak(Box::new(Env::start().await));
    let t = tenant_sized(env, "Undo Co", 200, 200).await;
    // 98 members a transaction: the request writes ids[..98], then ids[98..].
    let ids = env.add_members(&t, 100).await;
    let (x, y, z) = (ids[5].clone(), ids[6].clone(), ids[99].clone());
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (first, other) = (now + Duration::days(60), now + Duration::days(90));

    // Between the request's two transactions another admin moves x's licence, revokes y's and
    // gives z one, so the second transaction fails and the first is put back.
    let (tenant, owner) = (t.id.clone(), t.owner_token.clone());
    let (xa, ya, za) = (x.clone(), y.clone(), z.clone());
    let change: BoxFuture<'static, ()> = Box::pin(async move {
        let licence = |m: &str| format!("/v1/tenants/{tenant}/members/{m}/licence");
        let body = json!({"expires_at": rfc3339(other)});
        env.call(
            reqwest::Method::PUT,
            &licence(&xa),
            Some(&owner),
            Some(body.clone()),
        )
        .await
        .ok(200);
        env.delete(&licence(&ya), &owner).await.ok(204);
        env.call(
            reqwest::Method::PUT,
            &licence(&za),
            Some(&owner),
            Some(body),
        )
        .await
        .ok(200);
    });
    let base = gateway_with(
        env,
        Between {
            nth: 2,
            seen: AtomicUsize::new(0),
            change: Mutex::new(Some(change)),
        },
    )
    .await;
    let answer = Env::answer(
        env.http
            .post(format!("{base}/v1/tenants/{}/licences/assign", t.id))
            .bearer_auth(&t.owner_token)
            .json(&json!({"member_ids": ids, "expires_at": rfc3339(first)}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    answer.problem(409, "conflict");

    // The other admin's changes stand; everyone else is as before the request.
    assert_eq!(licence_of(env, &t, &x).await["expires_at"], rfc3339(other));
    assert_eq!(licence_of(env, &t, &y).await, Value::Null);
    assert_eq!(licence_of(env, &t, &z).await["expires_at"], rfc3339(other));
    assert_eq!(licence_of(env, &t, &ids[0]).await, Value::Null);
    assert_eq!(licence_of(env, &t, &ids[97]).await, Value::Null);
    let pool = env
        .get(&format!("/v1/tenants/{}/licences", t.id), &t.owner_token)
        .await;
    assert_eq!(pool.ok(200)["used"], 2, "x's and z's seats");
    let licensed = env
        .get(
            &format!("/v1/tenants/{}/members?licence=active&limit=200", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(licensed.ok(200)["items"].as_array().unwrap().len(), 2);
    env.assert_consistent().await;
}

// ---- due queues ----

/// An item in a due queue that no record reads as: a malformed member or invitation of a tenant
/// that does not exist, due long ago (first in its queue).
async fn unreadable_due_item(env: &Env, sk_prefix: &str, queue: (&str, &str, &str)) {
    let (pk_attr, sk_attr, partition) = queue;
    let (tenant, id) = (Uuid::now_v7(), Uuid::now_v7());
    let item = HashMap::from([
        ("pk".to_string(), text(format!("TENANT#{tenant}"))),
        ("sk".to_string(), text(format!("{sk_prefix}#{id}"))),
        (pk_attr.to_string(), text(partition)),
        (
            sk_attr.to_string(),
            text(format!("2000-01-01T00:00:00Z#{tenant}#{id}")),
        ),
        ("tenant_id".to_string(), text("not-a-uuid")),
        ("licence".to_string(), text("not a licence")),
    ]);
    put_raw(env, item).await;
}

fn report(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("report")
}

#[tokio::test]
async fn an_unreadable_item_does_not_stop_the_licence_expiry_job() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let mut t = tenant_sized(&env, "Due Licences", 50, 5).await;
    let member = env.add_members(&t, 1).await.remove(0);
    env.call(
        reqwest::Method::PUT,
        &format!("/v1/tenants/{}/members/{member}/licence", t.id),
        Some(&t.owner_token),
        Some(json!({"expires_at": rfc3339(clock.now() + Duration::days(1))})),
    )
    .await
    .ok(200);
    unreadable_due_item(&env, "MEMBER", ("gsi7pk", "gsi7sk", "LICENCEDUE")).await;

    clock.advance(2 * 24 * 3600);
    let ran = roster_shared::licences::expiry::run(env.app)
        .await
        .expect("the job goes on past the unreadable item");
    let ran = report(ran);
    assert_eq!(ran["released"], 1, "{ran}");
    assert_eq!(ran["unreadable"], 1, "{ran}");
    t.owner_token = env.owner_login(&t).await;
    assert_eq!(licence_of(&env, &t, &member).await, Value::Null);
    let pool = env
        .get(&format!("/v1/tenants/{}/licences", t.id), &t.owner_token)
        .await;
    assert_eq!(pool.ok(200)["used"], 0);
}

#[tokio::test]
async fn an_unreadable_item_does_not_stop_the_invitation_expiry_job() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let mut t = env.tenant_with_owner("Due Invitations").await;
    env.set_settings(&t, json!({"invitation_expiry_days": 1}))
        .await;
    env.invite(&t, &format!("{}@due.test", unique("late")))
        .await;
    let held = env.tenant_view(&t).await["quota_used"]
        .as_i64()
        .expect("quota_used");
    unreadable_due_item(&env, "INVITE", ("gsi4pk", "gsi4sk", "INVITEEXPIRY")).await;

    clock.advance(2 * 24 * 3600);
    let ran = roster_shared::invitations::expiry::run(env.app)
        .await
        .expect("the job goes on past the unreadable item");
    let ran = report(ran);
    assert_eq!(ran["released"], 1, "{ran}");
    assert_eq!(ran["unreadable"], 1, "{ran}");
    t.owner_token = env.owner_login(&t).await;
    let after = env.tenant_view(&t).await;
    assert_eq!(after["quota_used"], held - 1, "{after}");
    assert_eq!(after["pending_invitations"], 0, "{after}");
}

#[tokio::test]
async fn an_unreadable_item_does_not_stop_the_recycle_purge() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Due Purge").await;
    env.set_settings(&t, json!({"recycle_bin_retention_days": 1}))
        .await;
    let member = env.add_members(&t, 1).await.remove(0);
    env.delete(
        &format!("/v1/tenants/{}/members/{member}", t.id),
        &t.owner_token,
    )
    .await
    .ok(204);
    unreadable_due_item(&env, "MEMBER", ("gsi4pk", "gsi4sk", "PURGE")).await;

    clock.advance(2 * 24 * 3600);
    let ran = roster_shared::members::purge::run(env.app)
        .await
        .expect("the job goes on past the unreadable item");
    let ran = report(ran);
    assert_eq!(ran["purged"], 1, "{ran}");
    assert_eq!(ran["unreadable"], 1, "{ran}");
    let tenant_id: Uuid = t.id.parse().unwrap();
    let gone = env
        .app
        .store
        .get(&Key::member(tenant_id, member.parse().unwrap()))
        .await
        .expect("read");
    assert!(gone.is_none(), "the due entry was purged");
}
