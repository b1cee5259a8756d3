//! Sign-in policy: the sign-in log, password expiry and IP allowlists.

use roster_shared::app::Clock;
use roster_tests::{Env, own_password, unique};
use serde_json::json;

#[tokio::test]
async fn sign_ins_are_logged_with_address_and_outcome() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Logged").await;
    let email = format!("{}@log.test", unique("lia"));
    env.post(
        &format!("/v1/tenants/{}/members", t.id),
        Some(&t.owner_token),
        json!({"email": email, "name": "Lia", "department_id": t.root, "password": "lia-password-1"}),
    )
    .await
    .ok(201);
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": "wrong-password", "tenant_id": t.id}),
    )
    .await
    .problem(401, "unauthorized");
    // Lia's address is unproven (the owner chose her password): the right password answers
    // email_unverified, logged too, until she proves it.
    let lia = env
        .prove_and_sign_in(&email, "lia-password-1", Some(&t.id))
        .await;

    let log = env
        .get(&format!("/v1/tenants/{}/login-log", t.id), &t.owner_token)
        .await;
    let entries = log.ok(200)["items"].as_array().unwrap().clone();
    // Newest first: Lia's success, her sign-in with the owner's password once proven (which
    // allows only changing it), her unproven sign-in, her failure, the owner's success.
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0]["email"], email.as_str());
    assert_eq!(entries[0]["success"], true);
    assert_eq!(entries[1]["success"], false);
    assert_eq!(entries[1]["failure"], "password_expired");
    assert_eq!(entries[2]["success"], false);
    assert_eq!(entries[2]["failure"], "email_unverified");
    assert_eq!(entries[3]["success"], false);
    assert_eq!(entries[3]["failure"], "bad_password");
    assert_eq!(entries[0]["source_ip"], "127.0.0.1");
    assert!(entries[0]["user_agent"].is_string() || entries[0]["user_agent"].is_null());

    let mine = env.get("/v1/me/login-log", &lia).await;
    assert_eq!(mine.ok(200)["items"].as_array().unwrap().len(), 4);
    // The member's last sign-in shows on the member.
    let member_id = entries[0]["member_id"].as_str().unwrap();
    let member = env
        .get(
            &format!("/v1/tenants/{}/members/{member_id}", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(member.ok(200)["last_login_at"], entries[0]["at"]);
    // Only audit readers see the tenant's log; other tenants see nothing.
    env.get(&format!("/v1/tenants/{}/login-log", t.id), &lia)
        .await
        .problem(403, "forbidden");
    let other = env.tenant_with_owner("Other").await;
    env.get(
        &format!("/v1/tenants/{}/login-log", t.id),
        &other.owner_token,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn an_expired_password_must_be_changed_first() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Expiry").await;
    env.set_settings(&t, json!({"password_expiry_days": 30}))
        .await;
    clock.advance(31 * 24 * 3600);
    let body = json!({"email": t.owner_email, "password": "owner-password-1", "tenant_id": t.id});
    let expired = env.post("/v1/auth/login", None, body.clone()).await;
    expired.problem(403, "password_expired");
    let change_token = expired.body["access_token"].as_str().unwrap().to_string();
    // That token does nothing but change the password.
    env.get("/v1/me", &change_token)
        .await
        .problem(401, "unauthorized");
    env.get(&format!("/v1/tenants/{}/departments", t.id), &change_token)
        .await
        .problem(401, "unauthorized");
    env.post(
        "/v1/auth/password",
        Some(&change_token),
        json!({"current_password": "owner-password-1", "new_password": "owner-password-2"}),
    )
    .await
    .ok(200);
    env.login(&t.owner_email, "owner-password-2", Some(&t.id))
        .await;
    let log = env
        .get(
            &format!("/v1/tenants/{}/login-log", t.id),
            &env.login(&t.owner_email, "owner-password-2", Some(&t.id))
                .await,
        )
        .await;
    assert!(
        log.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["failure"] == "password_expired")
    );
}

#[tokio::test]
async fn ip_allowlists_of_tenant_and_department() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Allowlist").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let lab = env
        .post(&depts, Some(&t.owner_token), json!({"name": "Lab", "parent_id": t.root, "settings": {"ip_allowlist": ["127.0.0.0/8"]}}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let email = format!("{}@ip.test", unique("ivy"));
    env.post(
        &format!("/v1/tenants/{}/members", t.id),
        Some(&t.owner_token),
        json!({"email": email, "name": "Ivy", "department_id": lab, "password": "ivy-password-1"}),
    )
    .await
    .ok(201);
    env.prove_and_sign_in(&email, "ivy-password-1", Some(&t.id))
        .await;
    // The tenant allows only a range the tests do not come from.
    env.set_settings(&t, json!({"ip_allowlist": ["203.0.113.0/24"]}))
        .await;
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": t.owner_email, "password": "owner-password-1", "tenant_id": t.id}),
    )
    .await
    .problem(403, "ip_not_allowed");
    // The Lab department's loopback list narrows the tenant's, it does not widen it (SPEC §8.2):
    // Ivy is refused too.
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": own_password("ivy-password-1"), "tenant_id": t.id}),
    )
    .await
    .problem(403, "ip_not_allowed");
    // Once the tenant's list takes loopback in as well, Ivy passes both.
    env.set_settings(
        &t,
        json!({"ip_allowlist": ["203.0.113.0/24", "127.0.0.0/8"]}),
    )
    .await;
    env.login(&email, &own_password("ivy-password-1"), Some(&t.id))
        .await;
}

#[test]
fn allowlist_matching() {
    use roster_shared::auth::ip_allowed;
    assert!(ip_allowed(Some("10.1.2.3"), &[]));
    assert!(ip_allowed(Some("10.1.2.3"), &["10.0.0.0/8".into()]));
    assert!(!ip_allowed(Some("11.1.2.3"), &["10.0.0.0/8".into()]));
    assert!(ip_allowed(Some("2001:db8::1"), &["2001:db8::/32".into()]));
    assert!(!ip_allowed(None, &["10.0.0.0/8".into()]));
    assert!(!ip_allowed(Some("not an ip"), &["10.0.0.0/8".into()]));
}

#[tokio::test]
async fn a_token_is_bound_to_the_allowlist_it_was_issued_under() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Bound").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    // The owner's root department allows loopback only; the token carries that list.
    env.patch(
        &format!("{depts}/{}", t.root),
        &t.owner_token,
        json!({"settings": {"ip_allowlist": ["127.0.0.0/8"]}}),
    )
    .await
    .ok(200);
    let token = env.owner_login(&t).await;
    env.get(&depts, &token).await.ok(200);
    // The same token presented from another address (as API Gateway would report it) is refused.
    let response = list_departments_from(&env, &t.id, &token, "198.51.100.7", &[]).await;
    assert_eq!(response.status().as_u16(), 403);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], "ip_not_allowed");
}

/// The departments of `tenant_id` listed as API Gateway hands the request to the function:
/// connected from `source_ip`, with `headers`.
async fn list_departments_from(
    env: &Env,
    tenant_id: &str,
    token: &str,
    source_ip: &str,
    headers: &[(&str, &str)],
) -> lambda_http::Response<lambda_http::Body> {
    use lambda_http::RequestExt;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
    };
    let mut request = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("/v1/tenants/{tenant_id}/departments"))
        .header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.source_ip = Some(source_ip.into());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = http;
    let request = request
        .body(lambda_http::Body::Empty)
        .unwrap()
        .with_path_parameters(std::collections::HashMap::from([(
            "tenant_id".to_string(),
            tenant_id.to_string(),
        )]))
        .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
    roster_functions::lambda::dispatch(
        env.app,
        request,
        &roster_functions::registry::LIST_DEPARTMENTS,
    )
    .await
}

#[tokio::test]
async fn through_the_console_distribution_the_viewer_address_counts_and_a_forged_one_never_does() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Edge").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    env.patch(
        &format!("{depts}/{}", t.root),
        &t.owner_token,
        json!({"settings": {"ip_allowlist": ["127.0.0.0/8", "192.0.2.0/24"]}}),
    )
    .await
    .ok(200);
    let token = env.owner_login(&t).await;
    let edge = "130.176.0.1";
    let secret = roster_tests::EDGE_SECRET;
    let status = |response: lambda_http::Response<lambda_http::Body>| response.status().as_u16();

    // CloudFront appended the viewer's allowed address and proved itself with the edge secret.
    let viewer = [("x-forwarded-for", "192.0.2.7"), ("x-roster-edge", secret)];
    assert_eq!(
        status(list_departments_from(&env, &t.id, &token, edge, &viewer).await),
        200
    );
    // The same hops without the secret, or with a guess, are the edge's own address: refused.
    let unproven = [("x-forwarded-for", "192.0.2.7")];
    assert_eq!(
        status(list_departments_from(&env, &t.id, &token, edge, &unproven).await),
        403
    );
    let guessed = [("x-forwarded-for", "192.0.2.7"), ("x-roster-edge", "guess")];
    assert_eq!(
        status(list_departments_from(&env, &t.id, &token, edge, &guessed).await),
        403
    );
    // A direct caller writing an allowed address into X-Forwarded-For is still itself.
    let forged = [("x-forwarded-for", "192.0.2.7")];
    let direct = list_departments_from(&env, &t.id, &token, "198.51.100.7", &forged).await;
    assert_eq!(status(direct), 403);
}

#[tokio::test]
async fn a_person_in_several_tenants_is_offered_them_by_name_after_the_right_password_only() {
    let env = Env::start().await;
    let first = env.tenant_with_owner("Zephyr Works").await;
    let second = env.tenant_with_owner("Acme Mills").await;
    let pat = env.member_in(&first, "Pat", json!({})).await;
    env.post(
        &format!("/v1/tenants/{}/members", second.id),
        Some(&second.owner_token),
        json!({"email": pat.email, "name": "Pat", "department_id": second.root}),
    )
    .await
    .ok(201);

    let wrong = env.try_login(&pat.email, "not-pats-password", None).await;
    wrong.problem(401, "unauthorized");
    assert!(wrong.body.get("tenants").is_none(), "{}", wrong.body);

    let choose = env.try_login(&pat.email, &pat.password, None).await;
    choose.problem(400, "validation_failed");
    assert_eq!(choose.body["errors"][0]["field"], "tenant_id");
    assert_eq!(
        choose.body["tenants"],
        json!([
            {"id": second.id, "name": "Acme Mills"},
            {"id": first.id, "name": "Zephyr Works"},
        ])
    );
    // Either choice signs in to that tenant.
    env.login(&pat.email, &pat.password, Some(&second.id)).await;
}
