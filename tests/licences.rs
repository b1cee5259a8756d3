//! Seat licences: the pool figure, bulk assign/revoke with conflicts and skip_conflicts,
//! insufficient seats, single-member PUT/DELETE, renewal behind its feature flag, the expiry job
//! (with an injectable clock, two runs at once), seats released on delete, the concurrency
//! invariant, and the DynamoDB requests of a bulk assign.

use futures::future::join_all;
use roster_shared::app::Clock;
use roster_tests::{Env, Tenant, rfc3339};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

async fn pool(env: &Env, t: &Tenant) -> Value {
    env.get(&format!("/v1/tenants/{}/licences", t.id), &t.owner_token)
        .await
        .ok(200)
        .clone()
}

async fn licensed_count(env: &Env, t: &Tenant) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/tenants/{}/members?licence=active&limit=200", t.id);
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = env.get(&path, &t.owner_token).await;
        let page = page.ok(200);
        count += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return count,
        }
    }
}

fn reasons(answer: &Value) -> Vec<(String, String)> {
    answer["conflicts"]
        .as_array()
        .expect("conflicts")
        .iter()
        .map(|c| {
            (
                c["member_id"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn bulk_assign_lists_conflicts_skips_them_on_request_and_keeps_within_the_pool() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Seats Co").await;
    let ids = env.add_members(&t, 6).await;
    let base = format!("/v1/tenants/{}", t.id);
    let expires = OffsetDateTime::now_utc() + Duration::days(60);

    let assigned = env
        .post(
            &format!("{base}/licences/assign"),
            Some(&t.owner_token),
            json!({"member_ids": &ids[0..3], "expires_at": rfc3339(expires)}),
        )
        .await;
    let assigned = assigned.ok(200).clone();
    assert_eq!(assigned["member_ids"].as_array().unwrap().len(), 3);
    assert_eq!(
        assigned["seats"],
        json!({"total": 5, "used": 3, "available": 2})
    );
    assert_eq!(
        pool(&env, &t).await,
        json!({"total": 5, "used": 3, "available": 2, "expiring_within_30_days": 0})
    );
    let tenant = env.get(&base, &t.owner_token).await;
    assert_eq!(tenant.ok(200)["seats"]["used"], 3);
    let member = env
        .get(&format!("{base}/members/{}", ids[0]), &t.owner_token)
        .await;
    let licence = &member.ok(200)["licence"];
    assert!(licence["expires_at"].as_str().is_some());
    assert_eq!(licence["renewal"], Value::Null);

    // Conflicts: already licensed, disabled, deleted, unknown — nothing is assigned.
    env.patch(
        &format!("{base}/members/{}", ids[3]),
        &t.owner_token,
        json!({"status": "disabled"}),
    )
    .await
    .ok(200);
    env.delete(&format!("{base}/members/{}", ids[4]), &t.owner_token)
        .await
        .ok(204);
    let unknown = uuid::Uuid::now_v7().to_string();
    let wanted = json!([ids[0], ids[3], ids[4], unknown, ids[5]]);
    let refused = env
        .post(
            &format!("{base}/licences/assign"),
            Some(&t.owner_token),
            json!({"member_ids": wanted, "expires_at": rfc3339(expires)}),
        )
        .await;
    refused.problem(409, "licence_conflict");
    let mut got = reasons(&refused.body);
    got.sort();
    let mut expected = vec![
        (ids[0].clone(), "already_licensed".to_string()),
        (ids[3].clone(), "disabled".to_string()),
        (ids[4].clone(), "deleted".to_string()),
        (unknown.clone(), "unknown".to_string()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(pool(&env, &t).await["used"], 3);

    // skip_conflicts assigns the rest.
    let partly = env
        .post(
            &format!("{base}/licences/assign"),
            Some(&t.owner_token),
            json!({"member_ids": wanted, "expires_at": rfc3339(expires), "skip_conflicts": true}),
        )
        .await;
    let partly = partly.ok(200);
    assert_eq!(partly["member_ids"], json!([ids[5]]));
    assert_eq!(partly["skipped"].as_array().unwrap().len(), 4);
    assert_eq!(pool(&env, &t).await["used"], 4);

    // One seat left, two wanted: insufficient_seats, nothing assigned.
    env.patch(
        &format!("{base}/members/{}", ids[3]),
        &t.owner_token,
        json!({"status": "active"}),
    )
    .await
    .ok(200);
    let more = env.add_members(&t, 1).await;
    env.post(
        &format!("{base}/licences/assign"),
        Some(&t.owner_token),
        json!({"member_ids": [ids[3], more[0]], "expires_at": rfc3339(expires)}),
    )
    .await
    .problem(409, "insufficient_seats");
    assert_eq!(pool(&env, &t).await["used"], 4);
    // Bad input.
    env.post(
        &format!("{base}/licences/assign"),
        Some(&t.owner_token),
        json!({"member_ids": [ids[3]], "expires_at": rfc3339(OffsetDateTime::now_utc() - Duration::days(1))}),
    )
    .await
    .problem(400, "validation_failed");
    env.post(
        &format!("{base}/licences/assign"),
        Some(&t.owner_token),
        json!({"member_ids": [], "expires_at": rfc3339(expires)}),
    )
    .await
    .problem(400, "validation_failed");

    // The directory filters by licence.
    let licensed = env
        .get(&format!("{base}/members?licence=active"), &t.owner_token)
        .await;
    assert_eq!(licensed.ok(200)["items"].as_array().unwrap().len(), 4);
    let unlicensed = env
        .get(&format!("{base}/members?licence=none"), &t.owner_token)
        .await;
    assert_eq!(unlicensed.ok(200)["items"].as_array().unwrap().len(), 3);
    env.get(&format!("{base}/members?licence=gold"), &t.owner_token)
        .await
        .problem(400, "validation_failed");

    // Revoke gives seats back; members without a licence are conflicts unless skipped.
    env.post(
        &format!("{base}/licences/revoke"),
        Some(&t.owner_token),
        json!({"member_ids": [ids[0], ids[3]]}),
    )
    .await
    .problem(409, "licence_conflict");
    env.post(
        &format!("{base}/licences/revoke"),
        Some(&t.owner_token),
        json!({"member_ids": [ids[0], ids[3]], "skip_conflicts": true}),
    )
    .await
    .ok(200);
    assert_eq!(pool(&env, &t).await["used"], 3);

    // Deleting a licensed member releases the seat; restoring does not bring it back.
    env.delete(&format!("{base}/members/{}", ids[1]), &t.owner_token)
        .await
        .ok(204);
    assert_eq!(pool(&env, &t).await["used"], 2);
    let restored = env
        .post(
            &format!("{base}/recycle-bin/{}/restore", ids[1]),
            Some(&t.owner_token),
            json!({"department_id": t.root}),
        )
        .await;
    assert_eq!(restored.ok(200)["licence"], Value::Null);
    assert_eq!(pool(&env, &t).await["used"], 2);

    let actions = env.audit_actions(&t).await;
    assert!(actions.contains(&"licence.assign".to_string()));
    assert!(actions.contains(&"licence.revoke".to_string()));
    env.assert_consistent().await;
}

#[tokio::test]
async fn one_members_licence_is_set_moved_and_revoked() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Single Co").await;
    let other = env.tenant_with_owner("Other Co").await;
    let ids = env.add_members(&t, 1).await;
    let path = format!("/v1/tenants/{}/members/{}/licence", t.id, ids[0]);
    let first = OffsetDateTime::now_utc() + Duration::days(20);
    let set = env
        .call(
            reqwest::Method::PUT,
            &path,
            Some(&t.owner_token),
            Some(json!({"expires_at": rfc3339(first)})),
        )
        .await;
    assert!(set.ok(200)["licence"]["expires_at"].as_str().is_some());
    assert_eq!(
        pool(&env, &t).await,
        json!({"total": 5, "used": 1, "available": 4, "expiring_within_30_days": 1})
    );
    // Moving the expiry keeps the seat count.
    let later = first + Duration::days(100);
    env.call(
        reqwest::Method::PUT,
        &path,
        Some(&t.owner_token),
        Some(json!({"expires_at": rfc3339(later)})),
    )
    .await
    .ok(200);
    assert_eq!(
        pool(&env, &t).await,
        json!({"total": 5, "used": 1, "available": 4, "expiring_within_30_days": 0})
    );
    // Another tenant's owner: 404, whatever tenant id they put in the path.
    for tenant in [&t.id, &other.id] {
        env.call(
            reqwest::Method::PUT,
            &format!("/v1/tenants/{tenant}/members/{}/licence", ids[0]),
            Some(&other.owner_token),
            Some(json!({"expires_at": rfc3339(later)})),
        )
        .await
        .problem(404, "not_found");
    }
    env.delete(&path, &t.owner_token).await.ok(204);
    env.delete(&path, &t.owner_token).await.ok(204);
    assert_eq!(pool(&env, &t).await["used"], 0);
    env.assert_consistent().await;
}

#[tokio::test]
async fn renewal_needs_its_feature_and_queues_a_seat_for_expiring_licences() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let mut t = env.tenant_with_owner("Renew Co").await;
    let ids = env.add_members(&t, 4).await;
    let base = format!("/v1/tenants/{}", t.id);
    let now = clock.now();
    for (id, days) in [(&ids[0], 10), (&ids[1], 10), (&ids[2], 90)] {
        env.call(
            reqwest::Method::PUT,
            &format!("{base}/members/{id}/licence"),
            Some(&t.owner_token),
            Some(json!({"expires_at": rfc3339(now + Duration::days(days))})),
        )
        .await
        .ok(200);
    }
    let renew_path = format!("{base}/licences/renew");
    let renew = |ids: Value, skip: bool| {
        env.post(
            &renew_path,
            Some(&t.owner_token),
            json!({"member_ids": ids, "period_days": 30, "skip_conflicts": skip}),
        )
    };
    renew(json!([ids[0]]), false)
        .await
        .problem(403, "feature_not_enabled");
    // Only platform admins switch features on.
    env.patch(
        &base,
        &t.owner_token,
        json!({"feature_flags": {"licence_renewal": true}}),
    )
    .await
    .problem(403, "forbidden");
    env.set_limits(&t, json!({"feature_flags": {"licence_renewal": true}}))
        .await;

    let refused = renew(json!([ids[0], ids[2], ids[3]]), false).await;
    refused.problem(409, "licence_conflict");
    let mut got = reasons(&refused.body);
    got.sort();
    let mut expected = vec![
        (ids[2].clone(), "not_expiring".to_string()),
        (ids[3].clone(), "no_licence".to_string()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let renewed = renew(json!([ids[0], ids[2], ids[3]]), true).await;
    assert_eq!(renewed.ok(200)["member_ids"], json!([ids[0]]));
    // The queued renewal holds a seat: 3 licences + 1 renewal.
    assert_eq!(pool(&env, &t).await["used"], 4);
    renew(json!([ids[0]]), false)
        .await
        .problem(409, "licence_conflict");
    let member = env
        .get(&format!("{base}/members/{}", ids[0]), &t.owner_token)
        .await;
    assert_eq!(member.ok(200)["licence"]["renewal"]["period_days"], 30);

    // One seat free, and no more renewals than free seats.
    env.call(
        reqwest::Method::PUT,
        &format!("{base}/members/{}/licence", ids[3]),
        Some(&t.owner_token),
        Some(json!({"expires_at": rfc3339(now + Duration::days(5))})),
    )
    .await
    .ok(200);
    renew(json!([ids[1], ids[3]]), false)
        .await
        .problem(409, "insufficient_seats");
    assert_eq!(pool(&env, &t).await["used"], 5);

    // Eleven days later: the expiry job, twice at once. ids[0]'s renewal takes over; ids[1] and
    // ids[3] end; ids[2] runs on.
    clock.advance(11 * 24 * 3600);
    t.owner_token = env.owner_login(&t).await;
    let (a, b) = tokio::join!(
        roster_shared::licences::expiry::run(env.app),
        roster_shared::licences::expiry::run(env.app)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.renewed + b.renewed, 1);
    assert_eq!(a.released + b.released, 2);
    let again = roster_shared::licences::expiry::run(env.app).await.unwrap();
    assert_eq!((again.renewed, again.released), (0, 0));
    assert_eq!(pool(&env, &t).await["used"], 2);
    let renewed = env
        .get(&format!("{base}/members/{}", ids[0]), &t.owner_token)
        .await;
    let licence = renewed.ok(200)["licence"].clone();
    assert_eq!(licence["renewal"], Value::Null);
    assert_eq!(
        licence["expires_at"].as_str().unwrap(),
        rfc3339((now + Duration::days(40)).replace_nanosecond(0).unwrap())
    );
    let ended = env
        .get(&format!("{base}/members/{}", ids[1]), &t.owner_token)
        .await;
    assert_eq!(ended.ok(200)["licence"], Value::Null);
    assert_eq!(licensed_count(&env, &t).await, 2);
    env.assert_consistent().await;
}

#[tokio::test]
async fn two_hundred_concurrent_assignments_against_fifty_seats_make_fifty() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Rush Co").await;
    env.set_limits(&t, json!({"member_quota": 400, "seats_total": 50}))
        .await;
    let ids = env.add_members(&t, 200).await;
    let expires = rfc3339(OffsetDateTime::now_utc() + Duration::days(90));
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/v1/tenants/{}/members/{id}/licence", t.id))
        .collect();
    let answers = join_all(paths.iter().map(|path| {
        env.call(
            reqwest::Method::PUT,
            path,
            Some(&t.owner_token),
            Some(json!({"expires_at": expires})),
        )
    }))
    .await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 50);
    for lost in answers.iter().filter(|a| a.status != 200) {
        lost.problem(409, "insufficient_seats");
    }
    assert_eq!(pool(&env, &t).await["used"], 50);
    assert_eq!(licensed_count(&env, &t).await, 50);

    // Overlapping bulk assigns, after freeing the pool: the counter still equals the members
    // holding a licence, and never passes the total.
    let all: Vec<String> = ids.clone();
    env.post(
        &format!("/v1/tenants/{}/licences/revoke", t.id),
        Some(&t.owner_token),
        json!({"member_ids": all, "skip_conflicts": true}),
    )
    .await
    .ok(200);
    assert_eq!(pool(&env, &t).await["used"], 0);
    let sets: Vec<Vec<String>> = (0..6).map(|i| ids[i * 10..i * 10 + 30].to_vec()).collect();
    let assign_path = format!("/v1/tenants/{}/licences/assign", t.id);
    let answers = join_all(sets.iter().map(|set| {
        env.post(
            &assign_path,
            Some(&t.owner_token),
            json!({"member_ids": set, "expires_at": expires, "skip_conflicts": true}),
        )
    }))
    .await;
    assert!(answers.iter().any(|a| a.status == 200));
    for a in &answers {
        assert!(
            // All or nothing: a request that lost a member to a concurrent one says so.
            a.status == 200
                || a.body["code"] == "insufficient_seats"
                || a.body["code"] == "conflict",
            "{:?}",
            a.body
        );
    }
    let used = pool(&env, &t).await["used"].as_u64().unwrap();
    assert!(used <= 50);
    assert_eq!(licensed_count(&env, &t).await as u64, used);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_bulk_assign_of_250_members_is_six_requests() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Count Seats").await;
    env.set_limits(&t, json!({"member_quota": 400, "seats_total": 300}))
        .await;
    let ids = env.add_members(&t, 250).await;
    let expires = rfc3339(OffsetDateTime::now_utc() + Duration::days(90));
    let (answer, requests) = env
        .count(env.post(
            &format!("/v1/tenants/{}/licences/assign", t.id),
            Some(&t.owner_token),
            json!({"member_ids": ids, "expires_at": expires}),
        ))
        .await;
    assert_eq!(answer.ok(200)["seats"]["used"], 250);
    // 252 keys read in 3 batches; 250 members written in 3 transactions of at most 100 actions
    // (98 members + the seat counter + the audit entry).
    assert_eq!(requests, 6);
    let (answer, requests) = env
        .count(env.get(&format!("/v1/tenants/{}/licences", t.id), &t.owner_token))
        .await;
    answer.ok(200);
    assert_eq!(requests, 2);
    env.assert_consistent().await;
}
