//! Public doors do not fill the quota (SPEC.md §9.1): join requests through join links and the
//! join number count against their own cap of pending requests per tenant, not `member_quota`,
//! and take a quota place when approved; and `POST /v1/tenants/{t}/join-number/rotate` draws a
//! new join number, the old one stopping at once.

use roster_shared::app::Clock;
use roster_shared::limits::Limits;
use roster_tests::{Env, Tenant, unique};
use serde_json::{Value, json};

/// The cap of pending public requests these tests run under.
const CAP: u32 = 3;

async fn env_with_cap() -> Env {
    let limits = Limits {
        pending_join_requests: CAP,
        ..Limits::relaxed()
    };
    Env::start_with_limits(Clock::System, limits).await
}

fn newcomer(i: usize) -> Value {
    json!({"email": format!("{}@joiners.test", unique(&format!("j{i}"))),
           "name": format!("Joiner {i}"), "password": "joiner-password-1"})
}

async fn pending_ids(env: &Env, t: &Tenant) -> Vec<String> {
    let list = env
        .get(
            &format!("/v1/tenants/{}/join-requests?status=pending", t.id),
            &t.owner_token,
        )
        .await;
    list.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

async fn join_number_of(env: &Env, t: &Tenant) -> String {
    env.tenant_view(t).await["join_number"]
        .as_str()
        .expect("join number")
        .to_string()
}

#[tokio::test]
async fn public_requests_fill_their_own_cap_not_the_quota_and_approval_takes_a_place() {
    let env = env_with_cap().await;
    let t = env.tenant_with_owner("Door Co").await;
    env.set_settings(&t, json!({"join_rules": {"join_by_number": true}}))
        .await;
    // The quota holds the owner and nothing more.
    env.set_limits(&t, json!({"member_quota": 1})).await;
    let code = env.join_code(&t).await;
    let number = join_number_of(&env, &t).await;
    for i in 0..CAP as usize {
        env.join(&code, None, newcomer(i)).await.ok(202);
    }
    let view = env.tenant_view(&t).await;
    assert_eq!(view["quota_used"], 1, "{view}");
    assert_eq!(view["pending_join_requests"], CAP, "{view}");
    // Beyond the cap, through either door.
    env.join(&code, None, newcomer(10))
        .await
        .problem(409, "quota_exceeded");
    env.post(&format!("/v1/join/number/{number}"), None, newcomer(11))
        .await
        .problem(409, "quota_exceeded");

    // Approval takes a quota place: none is free.
    let ids = pending_ids(&env, &t).await;
    assert_eq!(ids.len(), CAP as usize);
    let approve = |id: &str| {
        let path = format!("/v1/tenants/{}/join-requests/{id}/approve", t.id);
        let env = &env;
        let token = t.owner_token.clone();
        async move { env.post(&path, Some(&token), json!({})).await }
    };
    approve(&ids[0]).await.problem(409, "quota_exceeded");
    env.set_limits(&t, json!({"member_quota": 2})).await;
    assert_eq!(approve(&ids[0]).await.ok(200)["status"], "active");
    approve(&ids[1]).await.problem(409, "quota_exceeded");
    let view = env.tenant_view(&t).await;
    assert_eq!(
        (&view["quota_used"], &view["member_count"]),
        (&json!(2), &json!(2))
    );
    // The approved request left the cap: there is room for one more; a rejection frees
    // another, without touching the quota.
    env.join(&code, None, newcomer(20)).await.ok(202);
    env.join(&code, None, newcomer(21))
        .await
        .problem(409, "quota_exceeded");
    env.post(
        &format!("/v1/tenants/{}/join-requests/{}/reject", t.id, ids[1]),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    env.post(&format!("/v1/join/number/{number}"), None, newcomer(22))
        .await
        .ok(202);
    let view = env.tenant_view(&t).await;
    assert_eq!(view["quota_used"], 2, "{view}");
    assert_eq!(view["pending_join_requests"], CAP, "{view}");
    env.assert_consistent().await;
}

#[tokio::test]
async fn rotating_the_join_number_retires_the_old_one_at_once() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Rotate Co").await;
    env.set_settings(&t, json!({"join_rules": {"join_by_number": true}}))
        .await;
    let old = join_number_of(&env, &t).await;
    let rotate = format!("/v1/tenants/{}/join-number/rotate", t.id);
    let rotated = env.post(&rotate, Some(&t.owner_token), json!({})).await;
    let new = rotated.ok(200)["join_number"]
        .as_str()
        .expect("join number")
        .to_string();
    assert_ne!(new, old);
    assert!(new.len() == 8 && new.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(join_number_of(&env, &t).await, new);
    env.get_public(&format!("/v1/join/number/{old}"))
        .await
        .problem(404, "not_found");
    env.post(&format!("/v1/join/number/{old}"), None, newcomer(0))
        .await
        .problem(404, "not_found");
    env.get_public(&format!("/v1/join/number/{new}"))
        .await
        .ok(200);
    env.post(&format!("/v1/join/number/{new}"), None, newcomer(1))
        .await
        .ok(202);

    // Who may: settings.write in the tenant, nobody outside it.
    let plain = env.member_in(&t, "Pam", json!({})).await;
    env.post(&rotate, Some(&plain.token), json!({}))
        .await
        .problem(403, "forbidden");
    let other = env.tenant_with_owner("Other Co").await;
    env.post(&rotate, Some(&other.owner_token), json!({}))
        .await
        .problem(404, "not_found");
    let admin = env
        .member_in(
            &t,
            "Sam",
            json!({"role": "admin", "permissions": ["settings.write"]}),
        )
        .await;
    let by_admin = env.post(&rotate, Some(&admin.token), json!({})).await;
    let newest = by_admin.ok(200)["join_number"].as_str().expect("number");
    assert_eq!(join_number_of(&env, &t).await, newest);

    // Two rotations at once: one number wins, every other one is gone.
    let (a, b) = tokio::join!(
        env.post(&rotate, Some(&t.owner_token), json!({})),
        env.post(&rotate, Some(&admin.token), json!({}))
    );
    let mut drawn = Vec::new();
    for answer in [&a, &b] {
        match answer.status.as_u16() {
            200 => drawn.push(answer.body["join_number"].as_str().expect("n").to_string()),
            _ => {
                answer.problem(409, "conflict");
            }
        }
    }
    let current = join_number_of(&env, &t).await;
    assert!(drawn.contains(&current), "{drawn:?} {current}");
    for number in drawn.iter().chain([&old, &new]) {
        let status = env
            .get_public(&format!("/v1/join/number/{number}"))
            .await
            .status
            .as_u16();
        assert_eq!(status, if *number == current { 200 } else { 404 });
    }
    env.assert_consistent().await;
}
