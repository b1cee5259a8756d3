//! A deleting tenant issues nothing (SPEC.md §8.3, §9.1): its API clients' client-credentials
//! grant, its members' token renewals (password change, email confirm) and resellers acting for
//! or under it answer as for a deleted tenant; a tenant is not created under a deleting reseller.
//! Its operators still see and restore it.

use roster_tests::{Env, Tenant, unique};
use serde_json::{Value, json};

async fn delete_tenant(env: &Env, t: &Tenant) {
    let admin = env.admin_token().await;
    env.delete(&format!("/v1/tenants/{}", t.id), &admin)
        .await
        .ok(202);
}

async fn restore_tenant(env: &Env, t: &Tenant) {
    let admin = env.admin_token().await;
    env.post(
        &format!("/v1/tenants/{}/restore", t.id),
        Some(&admin),
        json!({}),
    )
    .await
    .ok(200);
}

#[tokio::test]
async fn a_deleting_tenants_api_client_is_granted_no_token() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Grantless Co").await;
    env.enable_api_access(&t).await;
    let client = env
        .post(
            &format!("/v1/tenants/{}/api-clients", t.id),
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read"]}),
        )
        .await
        .ok(201)
        .clone();
    let grant = json!({"grant_type": "client_credentials", "client_id": client["id"],
                       "client_secret": client["client_secret"]});
    env.post("/v1/auth/token", None, grant.clone())
        .await
        .ok(200);

    delete_tenant(&env, &t).await;
    let refused = env.post("/v1/auth/token", None, grant.clone()).await;
    refused.problem(401, "unauthorized");
    assert!(refused.body.get("access_token").is_none());

    // Restored as it was: the same credentials work again.
    restore_tenant(&env, &t).await;
    env.post("/v1/auth/token", None, grant).await.ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_deleting_tenants_members_renew_no_token_into_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Renewless Co").await;
    let kim = env.member_in(&t, "Kim", json!({})).await;
    let new_address = format!("{}@renewless.test", unique("kim"));
    env.patch(
        "/v1/me",
        &kim.token,
        json!({"email": new_address, "current_password": kim.password}),
    )
    .await
    .ok(202);
    let link = env.link_token_for(&new_address, "confirm-email").await;

    delete_tenant(&env, &t).await;
    // Changing the password answers no fresh token (and changes nothing).
    let changed = env
        .post(
            "/v1/auth/password",
            Some(&kim.token),
            json!({"current_password": kim.password, "new_password": "kim-password-2"}),
        )
        .await;
    changed.problem(401, "unauthorized");
    assert!(changed.body.get("access_token").is_none());
    // Nor does confirming an address (the link stays unused).
    let confirmed = env
        .post(
            "/v1/me/email/confirm",
            Some(&kim.token),
            json!({"token": link}),
        )
        .await;
    confirmed.problem(401, "unauthorized");
    assert!(confirmed.body.get("access_token").is_none());
    // The token itself opens nothing: the tenant's routes are gone, the rest as for a deleted
    // tenant's membership.
    env.get(&format!("/v1/tenants/{}/members", t.id), &kim.token)
        .await
        .problem(404, "not_found");
    env.get("/v1/me", &kim.token)
        .await
        .problem(401, "unauthorized");

    // Restored: the password is still the old one, and the same link confirms the address.
    restore_tenant(&env, &t).await;
    let token = env.login(&kim.email, &kim.password, Some(&t.id)).await;
    let confirmed = env
        .post("/v1/me/email/confirm", Some(&token), json!({"token": link}))
        .await;
    assert!(confirmed.ok(200)["access_token"].is_string());
    env.assert_consistent().await;
}

/// A reseller made by the platform admin, with its owner signed in.
async fn reseller(env: &Env) -> Tenant {
    env.tenant_of_kind("Resell Co", "reseller").await
}

/// A customer of `reseller`, made by its owner.
async fn customer_of(env: &Env, reseller: &Tenant) -> Value {
    env.post(
        "/v1/tenants",
        Some(&reseller.owner_token),
        json!({"name": "Customer", "kind": "customer", "plan": "paid", "member_quota": 10,
               "seats_total": 0, "owner_email": format!("{}@customer.test", unique("c")),
               "owner_name": "Carl"}),
    )
    .await
    .ok(201)
    .clone()
}

#[tokio::test]
async fn a_reseller_acts_for_a_deleting_customer_only_to_see_and_restore_it() {
    let env = Env::start().await;
    let rita = reseller(&env).await;
    let customer = customer_of(&env, &rita).await;
    let tenant = format!("/v1/tenants/{}", customer["id"].as_str().unwrap());
    let admin = env.admin_token().await;
    env.patch(
        &tenant,
        &admin,
        json!({"feature_flags": {"api_access": true}}),
    )
    .await
    .ok(200);
    env.get(&format!("{tenant}/members"), &rita.owner_token)
        .await
        .ok(200);

    env.delete(&tenant, &rita.owner_token).await.ok(202);
    // Nothing is issued or changed in it for the reseller: as for a deleted tenant.
    let member = json!({"email": format!("{}@customer.test", unique("m")), "name": "Mo",
                        "department_id": customer["root_department_id"]});
    env.post(
        &format!("{tenant}/members"),
        Some(&rita.owner_token),
        member.clone(),
    )
    .await
    .problem(404, "not_found");
    env.post(
        &format!("{tenant}/api-clients"),
        Some(&rita.owner_token),
        json!({"name": "Backdoor", "permissions": ["members.read"]}),
    )
    .await
    .problem(404, "not_found");
    env.post(
        &format!("{tenant}/invitations"),
        Some(&rita.owner_token),
        json!({"email": format!("{}@customer.test", unique("i")),
               "department_id": customer["root_department_id"]}),
    )
    .await
    .problem(404, "not_found");
    env.get(&format!("{tenant}/members"), &rita.owner_token)
        .await
        .problem(404, "not_found");
    env.patch(&tenant, &rita.owner_token, json!({"name": "Renamed"}))
        .await
        .problem(404, "not_found");
    // It still sees it, and restores it; its operator too.
    let seen = env.get(&tenant, &rita.owner_token).await;
    assert_eq!(seen.ok(200)["status"], "deleting");
    assert_eq!(env.get(&tenant, &admin).await.ok(200)["status"], "deleting");
    env.post(
        &format!("{tenant}/restore"),
        Some(&rita.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    env.post(
        &format!("{tenant}/members"),
        Some(&rita.owner_token),
        member,
    )
    .await
    .ok(201);
    env.assert_consistent().await;
}

#[tokio::test]
async fn nothing_is_created_or_done_under_a_deleting_reseller() {
    let env = Env::start().await;
    let rita = reseller(&env).await;
    let admin = env.admin_token().await;
    delete_tenant(&env, &rita).await;

    // Its admins act no more, anywhere: as for a deleted tenant's membership.
    let customer = json!({"name": "Late", "kind": "customer", "plan": "paid", "member_quota": 10,
                          "seats_total": 0, "owner_email": format!("{}@late.test", unique("c")),
                          "owner_name": "Lee"});
    env.post("/v1/tenants", Some(&rita.owner_token), customer.clone())
        .await
        .problem(401, "unauthorized");
    env.get("/v1/tenants", &rita.owner_token)
        .await
        .problem(401, "unauthorized");
    // Not even the platform admin hangs a customer under it.
    let mut under = customer.clone();
    under["parent_id"] = json!(rita.id);
    let refused = env.post("/v1/tenants", Some(&admin), under.clone()).await;
    refused.problem(400, "validation_failed");
    assert_eq!(refused.body["errors"][0]["field"], "parent_id");

    // Restored, it takes customers again.
    restore_tenant(&env, &rita).await;
    env.post("/v1/tenants", Some(&rita.owner_token), customer)
        .await
        .ok(201);
    env.post("/v1/tenants", Some(&admin), under).await.ok(201);
    env.assert_consistent().await;
}
