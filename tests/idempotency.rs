//! `Idempotency-Key` replays (SPEC.md §8.6, §9.1): a kept answer is given again only to a caller
//! the route would let in now. A caller signed out, disabled, outside the allowlist or in a
//! deleting tenant gets what a new request gets (401/403/404), never the kept body; a caller still
//! in good standing gets the kept answer and nothing is created twice. Kept answers are sealed
//! under the deployment's secret, bound to their record.

use aws_sdk_dynamodb::types::AttributeValue;
use roster_shared::sealing::Purpose;
use roster_tests::{Answer, Env, Person, Tenant, unique};
use serde_json::json;

/// What a refused replay must be: the answer a new request (without the key) gets, and none of
/// the kept body.
#[track_caller]
fn refused_like(replay: &Answer, fresh: &Answer, status: u16, code: &str) {
    fresh.problem(status, code);
    replay.problem(status, code);
    assert!(replay.headers.get("idempotent-replayed").is_none());
    assert!(
        replay.body.get("client_secret").is_none(),
        "{:?}",
        replay.body
    );
}

async fn admin_for_clients(env: &Env, t: &Tenant) -> Person {
    env.member_in(
        t,
        "Ada",
        json!({"role": "admin", "permissions": ["api_clients.write", "members.read"]}),
    )
    .await
}

async fn clients_of(env: &Env, t: &Tenant) -> usize {
    let listed = env
        .get(&format!("/v1/tenants/{}/api-clients", t.id), &t.owner_token)
        .await;
    listed.ok(200)["items"].as_array().expect("items").len()
}

#[tokio::test]
async fn a_disabled_admins_replay_gets_the_refusal_not_the_kept_client_secret() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Replay Co").await;
    env.enable_api_access(&t).await;
    let ada = admin_for_clients(&env, &t).await;
    let clients = format!("/v1/tenants/{}/api-clients", t.id);
    let body = json!({"name": "HR sync", "permissions": ["members.read"]});
    let key = unique("key");
    let first = env
        .post_with_key(&clients, &ada.token, &key, body.clone())
        .await;
    assert!(first.ok(201)["client_secret"].is_string());

    // The owner disables Ada; her old token replays the key.
    env.patch(
        &format!("/v1/tenants/{}/members/{}", t.id, ada.member_id),
        &t.owner_token,
        json!({"status": "disabled"}),
    )
    .await
    .ok(200);
    let fresh = env.post(&clients, Some(&ada.token), body.clone()).await;
    let replay = env.post_with_key(&clients, &ada.token, &key, body).await;
    refused_like(&replay, &fresh, 403, "account_disabled");
    assert_eq!(clients_of(&env, &t).await, 1);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_replay_is_cleared_again_like_a_new_request() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Cleared Co").await;
    env.enable_api_access(&t).await;
    let ada = admin_for_clients(&env, &t).await;
    let clients = format!("/v1/tenants/{}/api-clients", t.id);
    let body = json!({"name": "HR sync", "permissions": ["members.read"]});
    let key = unique("key");
    let first = env
        .post_with_key(&clients, &ada.token, &key, body.clone())
        .await;
    first.ok(201);

    // Still in good standing: the kept answer, and no second client.
    let again = env
        .post_with_key(&clients, &ada.token, &key, body.clone())
        .await;
    assert_eq!(again.ok(201), &first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(clients_of(&env, &t).await, 1);

    // Her session ended (she changed her password): the old token gets 401; her new one, the
    // same person, still gets the kept answer.
    let new_password = "ada-password-2";
    let changed = env
        .post(
            "/v1/auth/password",
            Some(&ada.token),
            json!({"current_password": ada.password, "new_password": new_password}),
        )
        .await;
    let renewed = changed.ok(200)["access_token"]
        .as_str()
        .expect("a fresh token")
        .to_string();
    let fresh = env.post(&clients, Some(&ada.token), body.clone()).await;
    let replay = env
        .post_with_key(&clients, &ada.token, &key, body.clone())
        .await;
    refused_like(&replay, &fresh, 401, "unauthorized");
    let renewed_replay = env
        .post_with_key(&clients, &renewed, &key, body.clone())
        .await;
    assert_eq!(renewed_replay.ok(201), &first.body);
    assert_eq!(clients_of(&env, &t).await, 1);

    // A machine client outside the tenant's new allowlist: 403.
    let sync = env
        .post(
            &clients,
            Some(&t.owner_token),
            json!({"name": "Tree sync", "permissions": ["departments.write"]}),
        )
        .await
        .ok(201)
        .clone();
    let grant = env
        .post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": sync["id"],
                   "client_secret": sync["client_secret"]}),
        )
        .await;
    let machine = grant.ok(200)["access_token"].as_str().unwrap().to_string();
    let departments = format!("/v1/tenants/{}/departments", t.id);
    let department = json!({"name": "Ops", "parent_id": t.root});
    let machine_key = unique("key");
    env.post_with_key(&departments, &machine, &machine_key, department.clone())
        .await
        .ok(201);
    env.set_settings(&t, json!({"ip_allowlist": ["10.0.0.0/8"]}))
        .await;
    let fresh = env
        .post(&departments, Some(&machine), department.clone())
        .await;
    let replay = env
        .post_with_key(&departments, &machine, &machine_key, department)
        .await;
    refused_like(&replay, &fresh, 403, "ip_not_allowed");
    env.set_settings(&t, json!({"ip_allowlist": []})).await;

    // The tenant is deleted: 404 for its people, as for any route of it.
    let owner_key = unique("key");
    let member = json!({"email": format!("{}@cleared.test", unique("m")), "name": "Mo",
                        "department_id": t.root});
    let members = format!("/v1/tenants/{}/members", t.id);
    env.post_with_key(&members, &t.owner_token, &owner_key, member.clone())
        .await
        .ok(201);
    let admin = env.admin_token().await;
    env.delete(&format!("/v1/tenants/{}", t.id), &admin)
        .await
        .ok(202);
    let fresh = env
        .post(&members, Some(&t.owner_token), member.clone())
        .await;
    let replay = env
        .post_with_key(&members, &t.owner_token, &owner_key, member)
        .await;
    refused_like(&replay, &fresh, 404, "not_found");
    env.assert_consistent().await;
}

/// The idempotency records of the table.
async fn kept_records(env: &Env) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let page = env
        .app
        .store
        .client()
        .scan()
        .table_name(env.app.table())
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", AttributeValue::S("IDEMPOTENCY#".into()))
        .send()
        .await
        .expect("scan");
    page.items().to_vec()
}

#[tokio::test]
async fn kept_answers_are_sealed_and_bound_to_their_record() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Sealed Co").await;
    env.enable_api_access(&t).await;
    let clients = format!("/v1/tenants/{}/api-clients", t.id);
    let (key_a, key_b) = (unique("key"), unique("key"));
    let body_a = json!({"name": "A", "permissions": ["members.read"]});
    let body_b = json!({"name": "B", "permissions": ["members.read"]});
    let a = env
        .post_with_key(&clients, &t.owner_token, &key_a, body_a.clone())
        .await;
    let secret_a = a.ok(201)["client_secret"].as_str().unwrap().to_string();
    let record_a = kept_records(&env).await.pop().expect("A's record");
    env.post_with_key(&clients, &t.owner_token, &key_b, body_b.clone())
        .await
        .ok(201);
    let record_b = kept_records(&env)
        .await
        .into_iter()
        .find(|r| r["pk"] != record_a["pk"])
        .expect("B's record");

    // Neither the secret nor the request is readable in the table: the answer is sealed, the
    // request kept as an HMAC under the deployment's key.
    let sealed = record_a["answer"].as_b().expect("a sealed answer");
    let sealed = String::from_utf8_lossy(sealed.as_ref());
    assert!(!sealed.contains(&secret_a) && !sealed.contains("client_secret"));
    let request_a = format!(
        "POST {clients}\n{}",
        serde_json::to_string(&body_a).unwrap()
    );
    let keyed = env
        .app
        .sealing
        .fingerprint(Purpose::IdempotentRequest, request_a.as_bytes())
        .await
        .unwrap();
    assert_eq!(record_a["fingerprint"].as_s().unwrap(), &keyed);

    // A's sealed answer copied into B's record does not open there: B's retry never gets A's
    // secret.
    let mut moved = record_b.clone();
    moved.insert("answer".into(), record_a["answer"].clone());
    env.app
        .store
        .client()
        .put_item()
        .table_name(env.app.table())
        .set_item(Some(moved))
        .send()
        .await
        .expect("put");
    let retry_b = env
        .post_with_key(&clients, &t.owner_token, &key_b, body_b)
        .await;
    retry_b.problem(500, "internal");
    assert!(!retry_b.body.to_string().contains(&secret_a));
    // A's own retry still opens.
    let retry_a = env
        .post_with_key(&clients, &t.owner_token, &key_a, body_a)
        .await;
    assert_eq!(retry_a.ok(201)["client_secret"], secret_a.as_str());
    assert_eq!(clients_of(&env, &t).await, 2);
}
