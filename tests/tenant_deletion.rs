//! Deleting a customer: hidden from its members, clients and public doors during a 7-day grace
//! period, restorable until then, and purged after it by a resumable job that removes every item
//! and file of the tenant and nothing of anyone else's.

use roster_shared::app::Clock;
use roster_tests::{Env, Tenant, unique};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const WEEK_AND_A_SECOND: i64 = 7 * 24 * 3600 + 1;

fn manual_clock() -> Clock {
    Clock::manual(time::OffsetDateTime::now_utc())
}

/// Every item of the table holding `needle` in any of its string attributes, by key.
async fn items_naming(env: &Env, needle: &str) -> BTreeSet<String> {
    let client = env.app.store.client();
    let mut found = BTreeSet::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(env.app.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let names_it = item
                .values()
                .any(|v| v.as_s().is_ok_and(|s| s.contains(needle)));
            if names_it {
                let key = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                found.insert(format!(
                    "{} | {}",
                    key("pk").unwrap_or_default(),
                    key("sk").unwrap_or_default()
                ));
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return found,
        }
    }
}

async fn files_of(env: &Env, t: &Tenant) -> Vec<String> {
    let listed = env
        .app
        .s3()
        .list_objects_v2()
        .bucket(&env.app.config.bucket)
        .prefix(format!("tenants/{}/", t.id))
        .send()
        .await
        .expect("list");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_deleted_tenant_is_gone_for_its_people_until_restored_within_the_week() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Doomed Co").await;
    let tenant = format!("/v1/tenants/{}", t.id);
    let kim = env.member_in(&t, "Kim", json!({})).await;
    let code = env.join_code(&t).await;
    let invitation = env
        .invite(&t, &format!("{}@doomed.test", unique("inv")))
        .await;
    env.enable_api_access(&t).await;
    let client = env
        .post(
            &format!("{tenant}/api-clients"),
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read"]}),
        )
        .await
        .ok(201)
        .clone();
    let client_token = env
        .post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": client["id"],
                   "client_secret": client["client_secret"]}),
        )
        .await
        .ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = env.admin_token().await;

    // Only operators delete: the tenant's own owner cannot.
    env.call(reqwest::Method::DELETE, &tenant, Some(&t.owner_token), None)
        .await
        .problem(403, "forbidden");
    let deleted = env
        .call(reqwest::Method::DELETE, &tenant, Some(&admin), None)
        .await;
    assert_eq!(deleted.ok(202)["status"], "deleting");
    let purge_after = time::OffsetDateTime::parse(
        deleted.body["purge_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let week = purge_after - clock.now();
    assert!(week.whole_days() == 6 || week.whole_days() == 7, "{week}");

    // Gone for its members, clients and public doors; its members cannot sign in into it.
    let members = format!("{tenant}/members");
    env.get(&tenant, &t.owner_token)
        .await
        .problem(404, "not_found");
    env.get(&members, &kim.token)
        .await
        .problem(404, "not_found");
    env.get(&members, &client_token)
        .await
        .problem(404, "not_found");
    env.get_public(&format!("/v1/join/{code}"))
        .await
        .problem(404, "not_found");
    env.get_public(&format!("/v1/invitations/{invitation}"))
        .await
        .problem(404, "not_found");
    env.try_login(&kim.email, &kim.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    // Its operator still sees it, and deleting it twice is a conflict.
    let seen = env.get(&tenant, &admin).await;
    assert_eq!(seen.ok(200)["status"], "deleting");
    env.call(reqwest::Method::DELETE, &tenant, Some(&admin), None)
        .await
        .problem(409, "conflict");
    env.post(
        &format!("{tenant}/restore"),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .problem(404, "not_found");

    // Restored as it was.
    let restored = env
        .post(&format!("{tenant}/restore"), Some(&admin), json!({}))
        .await;
    assert_eq!(restored.ok(200)["status"], "active");
    assert!(restored.body.get("purge_after").is_none());
    env.get(&members, &kim.token).await.ok(200);
    env.get(&members, &client_token).await.ok(200);
    env.get_public(&format!("/v1/join/{code}")).await.ok(200);
    env.login(&kim.email, &kim.password, Some(&t.id)).await;
    env.post(&format!("{tenant}/restore"), Some(&admin), json!({}))
        .await
        .problem(409, "conflict");

    // Past the week it cannot be restored any more.
    env.call(reqwest::Method::DELETE, &tenant, Some(&admin), None)
        .await
        .ok(202);
    clock.advance(WEEK_AND_A_SECOND);
    let admin = env.admin_token().await;
    env.post(&format!("{tenant}/restore"), Some(&admin), json!({}))
        .await
        .problem(409, "conflict");
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_reseller_admin_deletes_its_customers_but_not_a_reseller_that_has_some() {
    let env = Env::start().await;
    let admin = env.admin_token().await;
    let reseller = env
        .post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "Resell", "kind": "reseller", "plan": "paid", "member_quota": 10,
                   "seats_total": 0, "owner_email": format!("{}@resell.test", unique("r")),
                   "owner_name": "Rita"}),
        )
        .await
        .ok(201)
        .clone();
    let reseller_id = reseller["id"].as_str().unwrap().to_string();
    let customer = env
        .post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "Customer", "kind": "customer", "plan": "paid", "member_quota": 10,
                   "seats_total": 0, "parent_id": reseller_id,
                   "owner_email": format!("{}@customer.test", unique("c")), "owner_name": "Carl"}),
        )
        .await
        .ok(201)
        .clone();
    let customer_id = customer["id"].as_str().unwrap();
    env.call(
        reqwest::Method::DELETE,
        &format!("/v1/tenants/{reseller_id}"),
        Some(&admin),
        None,
    )
    .await
    .problem(409, "conflict");
    env.call(
        reqwest::Method::DELETE,
        &format!("/v1/tenants/{customer_id}"),
        Some(&admin),
        None,
    )
    .await
    .ok(202);
    env.post(
        &format!("/v1/tenants/{customer_id}/restore"),
        Some(&admin),
        json!({}),
    )
    .await
    .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn the_purge_removes_every_item_and_file_of_the_tenant_and_nothing_else_even_stopped_midway()
{
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Purged Co").await;
    let other = env.tenant_with_owner("Kept Co").await;

    // A thousand members straight into the table, with their search terms.
    env.seed_members(&t, 1_000, |i| {
        (
            format!("user{i:04}@purged.test"),
            format!("Purged Person {i:04}"),
            (i % 500) as u32 + 1,
        )
    })
    .await;
    // Through the routes: a department, a person in both tenants, invitations, a join link and
    // its requests, an API client, an import (job, row markers, upload and result files).
    env.department_in(&t, "Sales").await;
    let both = env.member_in(&other, "Bea", json!({})).await;
    env.post(
        &format!("/v1/tenants/{}/members", t.id),
        Some(&t.owner_token),
        json!({"email": both.email, "name": "Bea", "department_id": t.root}),
    )
    .await
    .ok(201);
    env.invite(&t, &format!("{}@purged.test", unique("inv")))
        .await;
    env.invite(&other, &format!("{}@kept.test", unique("inv")))
        .await;
    let code = env.join_code(&t).await;
    env.join(
        &code,
        None,
        json!({"email": format!("{}@purged.test", unique("j")), "name": "Jo",
               "password": "joiner-password-1"}),
    )
    .await
    .ok(202);
    // A session that was refreshed: its item and the marker of the token it spent.
    let session = env
        .session(&t.owner_email, roster_tests::OWNER_PASSWORD, &t.id)
        .await;
    let refreshed = env.refresh_by_cookie(&session.refresh).await;
    let session_id = env
        .get(
            "/v1/me/sessions",
            &roster_tests::sessions::session_of(&refreshed).access,
        )
        .await
        .ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        items_naming(&env, &session_id).await.len(),
        2,
        "the session and its spent token"
    );
    env.enable_api_access(&t).await;
    env.post(
        &format!("/v1/tenants/{}/api-clients", t.id),
        Some(&t.owner_token),
        json!({"name": "HR sync", "permissions": ["members.read"]}),
    )
    .await
    .ok(201);
    let import = env
        .import_create(&t, "email,name\nimp1@purged.test,Imp One\nbad-row,Bad\n")
        .await;
    assert_eq!(import["status"], "completed");
    let kept_import = env
        .import_create(&other, "email,name\nimp1@kept.test,Kept One\n")
        .await;
    assert_eq!(kept_import["status"], "completed");
    let join_number = env
        .get(&format!("/v1/tenants/{}", t.id), &t.owner_token)
        .await
        .ok(200)["join_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!files_of(&env, &t).await.is_empty());
    // Events numbered now: only the purge's own may be numbered later.
    env.deliver_events().await;
    let other_items = items_naming(&env, &other.id).await;
    let other_files = files_of(&env, &other).await;
    // Each member with its search terms (email, "purged", "person", its number).
    let before = items_naming(&env, &t.id).await.len();
    assert!(before > 5_000, "{before} items");

    let admin = env.admin_token().await;
    env.call(
        reqwest::Method::DELETE,
        &format!("/v1/tenants/{}", t.id),
        Some(&admin),
        None,
    )
    .await
    .ok(202);
    // Not due yet: the purge leaves it alone.
    let early = roster_shared::tenants::purge::run(env.app).await.unwrap();
    assert_eq!((early.purged, early.unfinished), (0, 0));
    clock.advance(WEEK_AND_A_SECOND);
    let admin = env.admin_token().await;

    // A run stopped midway (its budget spent): part is gone, the tenant is still listed for
    // its operator and can no longer be restored.
    let first = roster_shared::tenants::purge::run_with_budget(env.app, 2_000)
        .await
        .unwrap();
    assert_eq!((first.purged, first.unfinished), (0, 1), "{first:?}");
    assert!(files_of(&env, &t).await.is_empty());
    let left = items_naming(&env, &t.id).await;
    assert!(
        left.len() > 1_000 && left.len() < before - 1_000,
        "{} of {before} items left",
        left.len()
    );
    let seen = env.get(&format!("/v1/tenants/{}", t.id), &admin).await;
    assert_eq!(seen.ok(200)["status"], "deleting");
    env.post(
        &format!("/v1/tenants/{}/restore", t.id),
        Some(&admin),
        json!({}),
    )
    .await
    .problem(409, "conflict");

    // The next run finishes it: nothing names the tenant any more but the platform's log's
    // `tenant.purged` (its id and the time, nothing else), not a file is left.
    let second = roster_shared::tenants::purge::run(env.app).await.unwrap();
    assert_eq!((second.purged, second.unfinished), (1, 0), "{second:?}");
    env.deliver_events().await;
    let left = items_naming(&env, &t.id).await;
    assert!(
        left.len() == 1 && left.iter().all(|key| key.starts_with("EVENTS#ALL |")),
        "left behind: {left:?}"
    );
    let mut told = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = env
            .get(
                &format!("/v1/events?types=tenant.purged&limit=100{cursor}"),
                &admin,
            )
            .await;
        let page = page.ok(200).clone();
        told.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["tenant_id"] == t.id.as_str())
                .cloned(),
        );
        cursor = format!("&after={}", page["next_cursor"].as_str().unwrap());
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["data"]["id"], t.id.as_str());
    assert_eq!(told[0]["actor"]["type"], "system");
    let data_fields: Vec<&String> = told[0]["data"].as_object().unwrap().keys().collect();
    assert_eq!(data_fields, ["id", "purged_at"]);
    let left = items_naming(&env, &session_id).await;
    assert!(left.is_empty(), "left behind of a session: {left:?}");
    assert!(files_of(&env, &t).await.is_empty());
    env.get(&format!("/v1/tenants/{}", t.id), &admin)
        .await
        .problem(404, "not_found");
    env.get_public(&format!("/v1/join/{code}"))
        .await
        .problem(404, "not_found");
    assert!(
        env.app
            .store
            .get(&roster_shared::model::keys::Key::join_number(&join_number))
            .await
            .unwrap()
            .is_none(),
        "the join number is free again"
    );
    // Nothing of anyone else's: the other tenant's items and files are as they were, and the
    // person in both keeps that membership and signs in to it.
    assert_eq!(items_naming(&env, &other.id).await, other_items);
    assert_eq!(files_of(&env, &other).await, other_files);
    let token = env.login(&both.email, &both.password, None).await;
    let me = env.get("/v1/me", &token).await;
    let memberships: Vec<&Value> = me.ok(200)["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(memberships.len(), 1, "{memberships:?}");
    assert_eq!(memberships[0]["tenant_id"], other.id.as_str());
    // A run with nothing due does nothing.
    let idle = roster_shared::tenants::purge::run(env.app).await.unwrap();
    assert_eq!((idle.purged, idle.unfinished, idle.skipped), (0, 0, 0));
    env.assert_consistent().await;
}

/// SPEC §9.1: the purge removes the tenant's SCIM tokens with everything else; the identity
/// provider's next request answers 401 and no item of the token is left.
#[tokio::test]
async fn the_purge_removes_the_tenants_scim_tokens() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let s = roster_tests::scim::scim_tenant(&env, "Provisioned Co").await;
    let listed = env
        .get(
            &format!("/v1/tenants/{}/scim-tokens", s.t.id),
            &s.t.owner_token,
        )
        .await;
    let token_id = listed.ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.add_members(&s.t, 3).await;
    // A walk of its Users in pages leaves what paging keeps behind too.
    s.get(&env, "/Users?startIndex=1&count=2").await.ok(200);
    s.get(&env, "/Users?startIndex=3&count=2").await.ok(200);
    assert!(!items_naming(&env, &token_id).await.is_empty());

    let admin = env.admin_token().await;
    env.call(
        reqwest::Method::DELETE,
        &format!("/v1/tenants/{}", s.t.id),
        Some(&admin),
        None,
    )
    .await
    .ok(202);
    // While deleting, the tenant is gone for its identity provider.
    assert_eq!(s.get(&env, "/Users").await.status.as_u16(), 404);
    clock.advance(WEEK_AND_A_SECOND);
    let done = roster_shared::tenants::purge::run(env.app).await.unwrap();
    assert_eq!(done.purged, 1, "{done:?}");
    let after = s.get(&env, "/Users").await;
    assert_eq!(after.status.as_u16(), 401, "{:?}", after.body);
    let left = items_naming(&env, &token_id).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    // Nothing but the platform's `tenant.purged`, pending or numbered.
    let left = items_naming(&env, &s.t.id).await;
    assert!(
        left.len() == 1 && left.iter().all(|key| key.starts_with("EVENTQ#ALL |")),
        "left behind: {left:?}"
    );
    env.assert_consistent().await;
}
