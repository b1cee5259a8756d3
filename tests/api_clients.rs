//! API clients: secrets shown once, the client-credentials grant, members created with source
//! `api`, tenant isolation and revocation.

use roster_tests::{Env, unique};
use serde_json::json;

#[tokio::test]
async fn an_api_client_creates_members_that_carry_its_id() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Integrations").await;
    env.enable_api_access(&t).await;
    let clients = format!("/v1/tenants/{}/api-clients", t.id);
    let created = env
        .post(
            &clients,
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read", "members.write"]}),
        )
        .await;
    let c = created.ok(201).clone();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43);
    let listed = env.get(&clients, &t.owner_token).await;
    assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 1);
    assert!(listed.body["items"][0].get("client_secret").is_none());
    assert!(!listed.body.to_string().contains(&secret));

    // The grant: JSON or form-encoded; anything wrong is a plain 401.
    let grant = env
        .post("/v1/auth/token", None, json!({"grant_type": "client_credentials", "client_id": c["id"], "client_secret": secret}))
        .await;
    let token = grant.ok(200)["access_token"].as_str().unwrap().to_string();
    assert_eq!(grant.body["expires_in"], 900);
    let form = env
        .http
        .post(format!("{}/v1/auth/token", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={secret}",
            c["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    Env::answer(form).await.ok(200);
    for (id, s) in [
        (c["id"].as_str().unwrap().to_string(), "wrong".to_string()),
        (uuid::Uuid::now_v7().to_string(), secret.clone()),
    ] {
        env.post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": id, "client_secret": s}),
        )
        .await
        .problem(401, "unauthorized");
    }
    env.post(
        "/v1/auth/token",
        None,
        json!({"grant_type": "password", "client_id": c["id"], "client_secret": secret}),
    )
    .await
    .problem(400, "validation_failed");

    // Members it creates carry source api and its id: the APIC list.
    let email = format!("{}@api.test", unique("api"));
    let m = env
        .post(
            &format!("/v1/tenants/{}/members", t.id),
            Some(&token),
            json!({"email": email, "name": "Api Made", "department_id": t.root}),
        )
        .await;
    assert_eq!(m.ok(201)["source"], "api");
    assert_eq!(m.body["api_client_id"], c["id"]);
    let apic = env
        .get(
            &format!("/v1/tenants/{}/members?source=api", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(apic.ok(200)["items"].as_array().unwrap().len(), 1);
    let log = env
        .get(
            &format!("/v1/tenants/{}/audit-log?action=member.create", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(log.ok(200)["items"][0]["actor"]["type"], "api_client");

    // Only what it was given, only in its tenant.
    env.post(
        &format!("/v1/tenants/{}/departments", t.id),
        Some(&token),
        json!({"name": "X", "parent_id": t.root}),
    )
    .await
    .problem(403, "forbidden");
    env.post(
        &clients,
        Some(&token),
        json!({"name": "child", "permissions": ["members.read"]}),
    )
    .await
    .problem(403, "forbidden");
    let other = env.tenant_with_owner("Elsewhere").await;
    env.enable_api_access(&other).await;
    env.get(&format!("/v1/tenants/{}/members", other.id), &token)
        .await
        .problem(404, "not_found");
    env.get("/v1/me", &token).await.problem(401, "unauthorized");
    env.delete(
        &format!(
            "/v1/tenants/{}/api-clients/{}",
            other.id,
            c["id"].as_str().unwrap()
        ),
        &other.owner_token,
    )
    .await
    .problem(404, "not_found");

    // Deleting the client stops its token at the next request.
    env.delete(
        &format!("{clients}/{}", c["id"].as_str().unwrap()),
        &t.owner_token,
    )
    .await
    .ok(204);
    env.get(&format!("/v1/tenants/{}/members", t.id), &token)
        .await
        .problem(401, "unauthorized");
    env.post(
        "/v1/auth/token",
        None,
        json!({"grant_type": "client_credentials", "client_id": c["id"], "client_secret": secret}),
    )
    .await
    .problem(401, "unauthorized");
    env.assert_consistent().await;
}

#[tokio::test]
async fn clients_get_no_more_than_their_creator_holds() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Grants").await;
    env.enable_api_access(&t).await;
    let clients = format!("/v1/tenants/{}/api-clients", t.id);
    for bad in [
        json!({"name": "x", "permissions": ["customers.write"]}),
        json!({"name": "x", "permissions": ["api_clients.write"]}),
        json!({"name": "", "permissions": []}),
        json!({"name": "x", "permissions": "some"}),
    ] {
        env.post(&clients, Some(&t.owner_token), bad)
            .await
            .problem(400, "validation_failed");
    }
    let email = format!("{}@grants.test", unique("gia"));
    env.post(
        &format!("/v1/tenants/{}/members", t.id),
        Some(&t.owner_token),
        json!({"email": email, "name": "Gia", "department_id": t.root, "role": "admin",
               "permissions": ["api_clients.write", "members.read"], "password": "gia-password-1"}),
    )
    .await
    .ok(201);
    let gia = env
        .prove_and_sign_in(&email, "gia-password-1", Some(&t.id))
        .await;
    env.post(
        &clients,
        Some(&gia),
        json!({"name": "ok", "permissions": ["members.read"]}),
    )
    .await
    .ok(201);
    env.post(
        &clients,
        Some(&gia),
        json!({"name": "too much", "permissions": ["members.write"]}),
    )
    .await
    .problem(403, "forbidden");
    env.assert_consistent().await;
}

#[tokio::test]
async fn api_access_is_a_feature_platform_admins_switch() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Unbought").await;
    let tenant = format!("/v1/tenants/{}", t.id);
    let clients = format!("{tenant}/api-clients");
    let read = env.get(&tenant, &t.owner_token).await;
    assert_eq!(read.ok(200)["feature_flags"]["api_access"], false);
    env.post(
        &clients,
        Some(&t.owner_token),
        json!({"name": "HR sync", "permissions": ["members.read"]}),
    )
    .await
    .problem(403, "feature_not_enabled");
    env.get(&clients, &t.owner_token)
        .await
        .problem(403, "feature_not_enabled");
    // Only platform admins switch it; the tenant's own owner cannot.
    env.patch(
        &tenant,
        &t.owner_token,
        json!({"feature_flags": {"api_access": true}}),
    )
    .await
    .problem(403, "forbidden");

    // Switching one flag on keeps the others as they were.
    env.set_limits(&t, json!({"feature_flags": {"licence_renewal": true}}))
        .await;
    env.enable_api_access(&t).await;
    let read = env.get(&tenant, &t.owner_token).await;
    assert_eq!(read.ok(200)["feature_flags"]["licence_renewal"], true);
    assert_eq!(read.body["feature_flags"]["api_access"], true);
    let c = env
        .post(
            &clients,
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read"]}),
        )
        .await
        .ok(201)
        .clone();
    let grant = json!({"grant_type": "client_credentials", "client_id": c["id"],
                       "client_secret": c["client_secret"]});
    let token = env
        .post("/v1/auth/token", None, grant.clone())
        .await
        .ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let members = format!("{tenant}/members");
    env.get(&members, &token).await.ok(200);

    // Switched off: the grant is refused and tokens already out stop working; a wrong secret
    // still learns nothing about the tenant.
    env.set_limits(&t, json!({"feature_flags": {"api_access": false}}))
        .await;
    env.post("/v1/auth/token", None, grant)
        .await
        .problem(403, "feature_not_enabled");
    env.post(
        "/v1/auth/token",
        None,
        json!({"grant_type": "client_credentials", "client_id": c["id"], "client_secret": "wrong"}),
    )
    .await
    .problem(401, "unauthorized");
    env.get(&members, &token)
        .await
        .problem(403, "feature_not_enabled");
    let read = env.get(&tenant, &t.owner_token).await;
    assert_eq!(read.ok(200)["feature_flags"]["licence_renewal"], true);
    env.assert_consistent().await;
}
