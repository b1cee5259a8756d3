//! Webhooks (SPEC.md §9.2): endpoints and their secrets, deliveries signed as Standard Webhooks,
//! retried on the schedule while the receiver is down, never twice, recorded; an endpoint failing
//! for 5 days disabled; addresses that are not public refused.

use roster_shared::app::Clock;
use roster_shared::webhooks::signing::signature;
use roster_tests::receiver::Receiver;
use roster_tests::{Env, Tenant};
use serde_json::{Value, json};

fn manual_clock() -> Clock {
    Clock::manual(time::OffsetDateTime::now_utc())
}

/// `t` with a fresh owner token (after the clock moved past the last one's expiry).
async fn signed_in_again(env: &Env, t: &Tenant) -> Tenant {
    Tenant {
        owner_token: env.owner_login(t).await,
        ..t.clone()
    }
}

async fn endpoint(env: &Env, t: &Tenant, body: Value) -> Value {
    let made = env
        .post(
            &format!("/v1/tenants/{}/webhooks", t.id),
            Some(&t.owner_token),
            body,
        )
        .await;
    made.ok(201).clone()
}

/// Whether one of the `webhook-signature` header's signatures is `secret`'s of this request.
fn signed_by(
    secret: &str,
    headers: &std::collections::HashMap<String, String>,
    body: &[u8],
) -> bool {
    let id = &headers["webhook-id"];
    let timestamp: i64 = headers["webhook-timestamp"].parse().unwrap();
    let expected = signature(&[secret], id, timestamp, body);
    headers["webhook-signature"]
        .split(' ')
        .any(|s| s == expected)
}

async fn deliveries(env: &Env, t: &Tenant, hook: &str) -> Vec<Value> {
    let list = env
        .get(
            &format!("/v1/tenants/{}/webhooks/{hook}/deliveries", t.id),
            &t.owner_token,
        )
        .await;
    list.ok(200)["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn endpoints_are_managed_by_webhooks_writers_and_their_secret_is_shown_once() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Hooks Co").await;
    let base = format!("/v1/tenants/{}/webhooks", t.id);
    let made = endpoint(
        &env,
        &t,
        json!({"url": "https://hooks.example.com/roster", "event_types": ["member.created"],
               "description": "HR sync"}),
    )
    .await;
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = made["id"].as_str().unwrap();
    let listed = env.get(&base, &t.owner_token).await;
    let listed = listed.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none(), "never shown again");
    let one = env.get(&format!("{base}/{id}"), &t.owner_token).await;
    assert!(one.ok(200).get("secret").is_none());
    // The secret is not stored as it was shown.
    assert!(env.items_containing(secret).await.is_empty());

    let changed = env
        .patch(
            &format!("{base}/{id}"),
            &t.owner_token,
            json!({"enabled": false, "description": null}),
        )
        .await;
    assert_eq!(changed.ok(200)["enabled"], false);
    assert!(changed.ok(200)["description"].is_null());

    // Bad input, field by field.
    for (body, field) in [
        (json!({"url": "ftp://hooks.example.com/"}), "url"),
        (json!({"url": "https://10.0.0.7/hook"}), "url"),
        (json!({"url": "https://169.254.169.254/latest"}), "url"),
        (json!({"url": "https://user:pw@hooks.example.com/"}), "url"),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["member.exploded"]}),
            "event_types",
        ),
    ] {
        let refused = env.post(&base, Some(&t.owner_token), body.clone()).await;
        refused.problem(400, "validation_failed");
        assert!(
            refused.body["errors"].to_string().contains(field),
            "{body}: {:?}",
            refused.body
        );
    }

    // Others: a member without webhooks.write, another tenant's owner.
    let plain = env.member_in(&t, "Pat", json!({})).await;
    env.get(&base, &plain.token).await.problem(403, "forbidden");
    let other = env.tenant_with_owner("Other Hooks").await;
    let theirs = env.get(&format!("{base}/{id}"), &other.owner_token).await;
    assert!(
        matches!(theirs.status.as_u16(), 403 | 404),
        "{:?}",
        theirs.body
    );
    let own_path = format!("/v1/tenants/{}/webhooks/{id}", other.id);
    env.get(&own_path, &other.owner_token)
        .await
        .problem(404, "not_found");

    env.delete(&format!("{base}/{id}"), &t.owner_token)
        .await
        .ok(204);
    env.get(&format!("{base}/{id}"), &t.owner_token)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn a_change_is_delivered_signed_once_to_the_endpoints_that_hear_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Signed Co").await;
    let receiver = Receiver::start().await;
    let hears = endpoint(
        &env,
        &t,
        json!({"url": receiver.url, "event_types": ["member.created"]}),
    )
    .await;
    let deaf = Receiver::start().await;
    endpoint(
        &env,
        &t,
        json!({"url": deaf.url, "event_types": ["department.deleted"]}),
    )
    .await;
    let member = env.member_under(&t, "Eve", &t.root, json!({})).await;
    env.deliver_webhooks(&t).await;

    let got: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["id"] == member.as_str()
        })
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    let request = &got[0];
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "member.created");
    assert_eq!(request.headers["webhook-id"], body["id"].as_str().unwrap());
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(signed_by(
        hears["secret"].as_str().unwrap(),
        &request.headers,
        &request.body
    ));
    // One byte of the body changed, the signature no longer holds.
    let mut tampered = request.body.clone();
    tampered[0] = b' ';
    assert!(!signed_by(
        hears["secret"].as_str().unwrap(),
        &request.headers,
        &tampered
    ));
    assert!(
        deaf.received().is_empty(),
        "an endpoint hears only its types"
    );

    // Dispatched again (a redelivered stream record), nothing is sent twice.
    let before = receiver.received().len();
    env.deliver_webhooks(&t).await;
    assert_eq!(receiver.received().len(), before);
    let log = deliveries(&env, &t, hears["id"].as_str().unwrap()).await;
    let delivered = log.iter().find(|d| d["event_id"] == body["id"]).unwrap();
    assert_eq!(delivered["status"], "succeeded");
    assert_eq!(delivered["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(delivered["attempts"][0]["status_code"], 200);
    assert_eq!(delivered["attempts"][0]["response_body"], "ok");
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_once_when_it_is_back() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Down Co").await;
    let receiver = Receiver::start().await;
    let hook = endpoint(
        &env,
        &t,
        json!({"url": receiver.url, "event_types": ["department.created"]}),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    receiver.answer(503);
    for name in ["A", "B"] {
        env.department_in(&t, name).await;
    }
    env.deliver_webhooks(&t).await;
    // Each tried at once and again 5 s later.
    assert_eq!(receiver.received().len(), 4);
    let log = deliveries(&env, &t, hook_id).await;
    assert!(
        log.iter()
            .all(|d| d["status"] == "pending" && d["attempts"].as_array().unwrap().len() == 2)
    );
    let state = env
        .get(
            &format!("/v1/tenants/{}/webhooks/{hook_id}", t.id),
            &t.owner_token,
        )
        .await;
    assert!(state.ok(200)["failing_since"].is_string());

    // Not due yet: nothing is sent.
    let report = roster_shared::webhooks::worker::retry_due(env.app)
        .await
        .unwrap();
    assert_eq!(report.delivered + report.failed_again, 0, "{report:?}");
    // Still down 5 minutes later; back up after 30 more.
    clock.advance(5 * 60 + 1);
    roster_shared::webhooks::worker::retry_due(env.app)
        .await
        .unwrap();
    assert_eq!(receiver.received().len(), 6, "each tried a third time");
    receiver.answer(200);
    clock.advance(30 * 60 + 1);
    let report = roster_shared::webhooks::worker::retry_due(env.app)
        .await
        .unwrap();
    assert_eq!(report.delivered, 2, "{report:?}");
    let ids: std::collections::BTreeSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(ids.len(), 2, "every event arrived, each under its one id");
    let t = signed_in_again(&env, &t).await;
    let log = deliveries(&env, &t, hook_id).await;
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"].as_array().unwrap().len() == 4)
    );
    let state = env
        .get(
            &format!("/v1/tenants/{}/webhooks/{hook_id}", t.id),
            &t.owner_token,
        )
        .await;
    assert!(
        state.ok(200)["failing_since"].is_null(),
        "a success ends the streak"
    );
    // Nothing more is due.
    clock.advance(24 * 3600);
    let report = roster_shared::webhooks::worker::retry_due(env.app)
        .await
        .unwrap();
    assert_eq!(report.delivered + report.failed_again, 0);
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_with_its_event_and_a_mail_to_the_owners() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Dead Co").await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let hook = endpoint(&env, &t, json!({"url": receiver.url})).await;
    let hook_id = hook["id"].as_str().unwrap();
    env.department_in(&t, "Ops").await;
    env.deliver_webhooks(&t).await;
    // The schedule: 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then a new change 5 days on.
    for minutes in [6, 31, 121, 301, 601, 601] {
        clock.advance(minutes * 60);
        roster_shared::webhooks::worker::retry_due(env.app)
            .await
            .unwrap();
    }
    let t = signed_in_again(&env, &t).await;
    let log = deliveries(&env, &t, hook_id).await;
    let given_up = log
        .iter()
        .find(|d| d["event_type"] == "department.created")
        .unwrap();
    assert_eq!(given_up["status"], "failed");
    assert_eq!(given_up["attempts"].as_array().unwrap().len(), 8);
    assert!(given_up["next_attempt_at"].is_null());
    clock.advance(4 * 24 * 3600);
    let t = signed_in_again(&env, &t).await;
    env.department_in(&t, "Late").await;
    env.deliver_webhooks(&t).await;
    let state = env
        .get(
            &format!("/v1/tenants/{}/webhooks/{hook_id}", t.id),
            &t.owner_token,
        )
        .await;
    let state = state.ok(200).clone();
    assert_eq!(state["enabled"], false);
    assert!(
        state["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("5 days")
    );
    env.deliver_events().await;
    let (events, _) = env.events_after(&t, "").await;
    let disabled = events
        .iter()
        .find(|e| e["type"] == "webhook_endpoint.disabled")
        .unwrap();
    assert_eq!(disabled["data"]["id"], hook_id);
    assert_eq!(disabled["actor"]["type"], "system");
    let mails = env.mails_to(&t.owner_email).await;
    assert!(
        mails
            .iter()
            .any(|(subject, _)| subject.contains("disabled")),
        "{mails:?}"
    );

    // Nothing reaches a disabled endpoint; enabled again by a person, it starts afresh, and a
    // delivery sent again by hand goes through to the fixed receiver.
    let before = receiver.received().len();
    env.department_in(&t, "After").await;
    env.deliver_webhooks(&t).await;
    assert_eq!(receiver.received().len(), before);
    receiver.answer(200);
    let base = format!("/v1/tenants/{}/webhooks/{hook_id}", t.id);
    let enabled = env
        .patch(&base, &t.owner_token, json!({"enabled": true}))
        .await;
    assert!(enabled.ok(200)["disabled_reason"].is_null());
    let retried = env
        .post(
            &format!(
                "{base}/deliveries/{}/retry",
                given_up["id"].as_str().unwrap()
            ),
            Some(&t.owner_token),
            json!({}),
        )
        .await;
    let retried = retried.ok(200).clone();
    assert_eq!(retried["status"], "succeeded");
    assert_eq!(retried["attempts"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Rotate Co").await;
    let receiver = Receiver::start().await;
    let hook = endpoint(
        &env,
        &t,
        json!({"url": receiver.url, "event_types": ["department.created"]}),
    )
    .await;
    let (old, hook_id) = (
        hook["secret"].as_str().unwrap(),
        hook["id"].as_str().unwrap(),
    );
    let rotated = env
        .post(
            &format!("/v1/tenants/{}/webhooks/{hook_id}/rotate-secret", t.id),
            Some(&t.owner_token),
            json!({}),
        )
        .await;
    let new = rotated.ok(200)["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    env.department_in(&t, "One").await;
    env.deliver_webhooks(&t).await;
    let first = receiver.received().pop().unwrap();
    assert_eq!(first.headers["webhook-signature"].split(' ').count(), 2);
    assert!(
        signed_by(old, &first.headers, &first.body) && signed_by(&new, &first.headers, &first.body)
    );
    clock.advance(24 * 3600 + 1);
    let t = signed_in_again(&env, &t).await;
    env.department_in(&t, "Two").await;
    env.deliver_webhooks(&t).await;
    let second = receiver.received().pop().unwrap();
    assert!(signed_by(&new, &second.headers, &second.body));
    assert!(
        !signed_by(old, &second.headers, &second.body),
        "the old secret retired"
    );
}

#[tokio::test]
async fn a_host_that_is_not_public_is_refused_when_a_delivery_is_sent() {
    // Without the local stack's setting, a name resolving to loopback is refused at send time.
    let message = roster_shared::webhooks::send::Message {
        url: "https://localhost:9/hook",
        id: "evt".into(),
        timestamp: 1,
        signature: "v1,x".into(),
        body: b"{}".to_vec(),
    };
    let outcome = roster_shared::webhooks::send::send(message, false).await;
    assert!(outcome.status_code.is_none());
    let error = outcome.error.unwrap();
    assert!(error.contains("not a public address"), "{error}");
}
