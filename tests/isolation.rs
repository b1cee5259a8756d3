//! Security: tenant isolation on every id, token verification, live lockout, and bad input that
//! must answer 4xx problem documents, never 500.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use roster_shared::model::keys::Key;
use roster_shared::store::s;
use roster_tests::{Env, Tenant};
use serde_json::{Value, json};

#[tokio::test]
async fn another_tenants_ids_answer_404_on_every_route() {
    let env = Env::start().await;
    let a = env.tenant_with_owner("Alpha").await;
    let b = env.tenant_with_owner("Beta").await;
    let b_dept = env.department_in(&b, "Secret").await;
    let a_dept = env.department_in(&a, "Mine").await;

    let tok = &a.owner_token;
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/tenants/{}", b.id), None),
        (
            Method::PATCH,
            format!("/v1/tenants/{}", b.id),
            Some(json!({"name": "Pwned"})),
        ),
        (
            Method::GET,
            format!("/v1/tenants/{}/departments", b.id),
            None,
        ),
        (
            Method::POST,
            format!("/v1/tenants/{}/departments", b.id),
            Some(json!({"name": "X", "parent_id": b.root})),
        ),
        (
            Method::GET,
            format!("/v1/tenants/{}/departments/{b_dept}", b.id),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/tenants/{}/departments/{b_dept}", b.id),
            Some(json!({"name": "Pwned"})),
        ),
        (
            Method::DELETE,
            format!("/v1/tenants/{}/departments/{b_dept}", b.id),
            None,
        ),
        // B's department under A's tenant id.
        (
            Method::GET,
            format!("/v1/tenants/{}/departments/{b_dept}", a.id),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/tenants/{}/departments/{b_dept}", a.id),
            Some(json!({"name": "Pwned"})),
        ),
        (
            Method::DELETE,
            format!("/v1/tenants/{}/departments/{b_dept}", a.id),
            None,
        ),
        (Method::GET, format!("/v1/tenants/{}/audit-log", b.id), None),
    ];
    for (method, path, body) in cases {
        let answer = env.call(method.clone(), &path, Some(tok), body).await;
        assert_eq!(
            answer.status.as_u16(),
            404,
            "{method} {path}: {:?}",
            answer.body
        );
        answer.problem(404, "not_found");
    }
    // Ids of B in bodies are refused as invalid, and change nothing.
    env.post(
        &format!("/v1/tenants/{}/departments", a.id),
        Some(tok),
        json!({"name": "X", "parent_id": b.root}),
    )
    .await
    .problem(400, "validation_failed");
    env.patch(
        &format!("/v1/tenants/{}/departments/{a_dept}", a.id),
        tok,
        json!({"parent_id": b_dept}),
    )
    .await
    .problem(400, "validation_failed");
    let b_tree = env
        .get(&format!("/v1/tenants/{}/departments", b.id), &b.owner_token)
        .await;
    assert_eq!(b_tree.ok(200)["items"].as_array().unwrap().len(), 2);
    let b_secret = env
        .get(
            &format!("/v1/tenants/{}/departments/{b_dept}", b.id),
            &b.owner_token,
        )
        .await;
    assert_eq!(b_secret.ok(200)["name"], "Secret");

    // A cursor of B's list cannot page A's (or the other way round).
    let page = env
        .get(
            &format!("/v1/tenants/{}/departments?limit=1", b.id),
            &b.owner_token,
        )
        .await;
    let cursor = page.ok(200)["next_cursor"].as_str().unwrap().to_string();
    env.get(
        &format!("/v1/tenants/{}/departments?cursor={cursor}", a.id),
        tok,
    )
    .await
    .problem(400, "validation_failed");
    env.get(
        &format!("/v1/tenants/{}/departments?cursor=garbage", a.id),
        tok,
    )
    .await
    .problem(400, "validation_failed");
    env.assert_consistent().await;
}

fn forge(env: &Env, header: Header, claims: &Value) -> String {
    let der = STANDARD.decode(&env.private_key).unwrap();
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&der)).unwrap()
}

#[tokio::test]
async fn bad_tokens_answer_401() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Tokens Inc").await;
    let jwks = env
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let key = &jwks.ok(200)["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");
    let kid = key["kid"].as_str().unwrap().to_string();
    let me = env.get("/v1/me", &t.owner_token).await;
    let current = me.ok(200)["current"].clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // The owner's real token says which session epoch a live token carries.
    let issued: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(t.owner_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let claims = |iat: i64, exp: i64| {
        json!({"iss": "roster", "aud": "roster-api", "sub": me.body["user"]["id"],
               "tid": current["tenant_id"], "mid": current["member_id"], "scp": "tenant",
               "iat": iat, "exp": exp, "jti": uuid::Uuid::now_v7(), "sev": issued["sev"]})
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.clone());

    // The forging works: a well-formed token with the right key is accepted.
    let good = forge(&env, header.clone(), &claims(now, now + 600));
    env.get("/v1/me", &good).await.ok(200);

    let expired = forge(&env, header.clone(), &claims(now - 3600, now - 1));
    let mut parts: Vec<String> = t.owner_token.split('.').map(str::to_string).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["scp"] = json!("platform");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    let other_key = roster_shared::tokens::TokenKeys::from_private(
        &roster_shared::tokens::generate_key()
            .unwrap()
            .private_pkcs8_base64,
    )
    .unwrap()
    .issue(
        time::OffsetDateTime::now_utc(),
        &roster_shared::tokens::Grant::new(
            uuid::Uuid::now_v7(),
            roster_shared::tokens::TokenScope::Platform,
        ),
    )
    .await
    .unwrap();
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    let none_payload = URL_SAFE_NO_PAD.encode(claims(now, now + 600).to_string());
    let alg_none = format!("{none_header}.{none_payload}.");
    let wrong_audience = forge(
        &env,
        header.clone(),
        &json!({"iss": "roster", "aud": "elsewhere", "sub": me.body["user"]["id"], "scp": "platform",
                "iat": now, "exp": now + 600, "jti": uuid::Uuid::now_v7()}),
    );

    for (what, token) in [
        ("expired", expired.as_str()),
        ("tampered", tampered.as_str()),
        ("wrong key", other_key.as_str()),
        ("alg none", alg_none.as_str()),
        ("wrong audience", wrong_audience.as_str()),
        ("garbage", "not.a.token"),
    ] {
        let answer = env.get("/v1/me", token).await;
        assert_eq!(answer.status.as_u16(), 401, "{what}: {:?}", answer.body);
        answer.problem(401, "unauthorized");
        env.get(&format!("/v1/tenants/{}/departments", t.id), token)
            .await
            .problem(401, "unauthorized");
    }
    // No token at all.
    env.call(Method::GET, "/v1/me", None, None)
        .await
        .problem(401, "unauthorized");
    let basic = env
        .http
        .get(format!("{}/v1/me", env.base))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    Env::answer(basic).await.problem(401, "unauthorized");
    // A tenant token that claims platform scope for a user who is not an operator.
    let fake_platform = forge(
        &env,
        header,
        &json!({"iss": "roster", "aud": "roster-api", "sub": me.body["user"]["id"], "scp": "platform",
                "iat": now, "exp": now + 600, "jti": uuid::Uuid::now_v7()}),
    );
    env.get("/v1/tenants", &fake_platform)
        .await
        .problem(401, "unauthorized");
    env.assert_consistent().await;
}

/// Sets `attribute` of `t`'s owner's membership (found through `/v1/me`) to `value` straight in
/// the table, as no route would.
async fn set_owners_membership(env: &Env, t: &Tenant, attribute: &str, value: &str) {
    let me = env.get("/v1/me", &t.owner_token).await;
    let member_id: uuid::Uuid = me.ok(200)["current"]["member_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let tenant_id: uuid::Uuid = t.id.parse().unwrap();
    env.app
        .store
        .client()
        .update_item()
        .table_name(env.app.table())
        .set_key(Some(Key::member(tenant_id, member_id).to_item()))
        .update_expression(format!("SET #{attribute} = :{value}"))
        .expression_attribute_names(format!("#{attribute}"), attribute)
        .expression_attribute_values(format!(":{value}"), s(value))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_member_is_locked_out_at_the_next_request() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Lockout").await;
    let path = format!("/v1/tenants/{}/departments", t.id);
    env.get(&path, &t.owner_token).await.ok(200);
    // Disable the membership behind the API's back (the member API arrives with issue 3).
    set_owners_membership(&env, &t, "status", "disabled").await;
    // The still-valid token is refused at once, and signing in again is refused too.
    env.get(&path, &t.owner_token)
        .await
        .problem(403, "account_disabled");
    env.get("/v1/me", &t.owner_token)
        .await
        .problem(403, "account_disabled");
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": t.owner_email, "password": "owner-password-1", "tenant_id": t.id}),
    )
    .await
    .problem(403, "account_disabled");
}

#[tokio::test]
async fn bad_input_answers_4xx_problems() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Inputs").await;
    let tok = t.owner_token.as_str();
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let raw = |method: Method, path: String, body: Vec<u8>| {
        env.http
            .request(method, format!("{}{}", env.base, path))
            .bearer_auth(tok)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let malformed = raw(Method::POST, depts.clone(), b"{\"name\": ".to_vec())
        .await
        .unwrap();
    Env::answer(malformed)
        .await
        .problem(400, "validation_failed");
    let not_object = raw(Method::POST, depts.clone(), b"[1,2]".to_vec())
        .await
        .unwrap();
    Env::answer(not_object)
        .await
        .problem(400, "validation_failed");
    let empty = raw(Method::POST, depts.clone(), Vec::new()).await.unwrap();
    Env::answer(empty).await.problem(400, "validation_failed");
    let unknown = env
        .post(
            &depts,
            Some(tok),
            json!({"name": "X", "parent_id": t.root, "admin": true}),
        )
        .await;
    unknown.problem(400, "validation_failed");
    assert!(
        unknown.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
    let wrong_type = env
        .post(&depts, Some(tok), json!({"name": 42, "parent_id": t.root}))
        .await;
    wrong_type.problem(400, "validation_failed");
    assert_eq!(wrong_type.body["errors"][0]["field"], "name");
    let bad_uuid = env
        .post(&depts, Some(tok), json!({"name": "X", "parent_id": "nope"}))
        .await;
    bad_uuid.problem(400, "validation_failed");

    let mut big = b"{\"name\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    big.extend(b"\"}");
    let oversized = raw(Method::POST, depts.clone(), big).await.unwrap();
    Env::answer(oversized)
        .await
        .problem(413, "payload_too_large");
    let oversized_login = env
        .http
        .post(format!("{}/v1/auth/login", env.base))
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    Env::answer(oversized_login)
        .await
        .problem(413, "payload_too_large");

    for path in [
        "/v1/tenants/not-a-uuid".to_string(),
        "/v1/tenants/not-a-uuid/departments".to_string(),
        format!("{depts}/12345"),
        format!("/v1/tenants/{}", uuid::Uuid::now_v7()),
        "/v1/nothing-here".to_string(),
    ] {
        env.get(&path, tok).await.problem(404, "not_found");
    }
    env.call(Method::PUT, "/v1/tenants", Some(tok), Some(json!({})))
        .await
        .problem(405, "method_not_allowed");
    for query in ["limit=0", "limit=201", "limit=ten", "cursor=%%%"] {
        env.get(&format!("{depts}?{query}"), tok)
            .await
            .problem(400, "validation_failed");
    }
    for query in [
        "from=yesterday",
        "actor_id=me",
        "from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
    ] {
        env.get(&format!("/v1/tenants/{}/audit-log?{query}", t.id), tok)
            .await
            .problem(400, "validation_failed");
    }
    let admin = env.admin_token().await;
    let many_errors = env
        .post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "", "kind": "customer", "plan": "free", "member_quota": 0, "seats_total": -5,
                   "owner_email": "not-an-email", "owner_name": ""}),
        )
        .await;
    many_errors.problem(400, "validation_failed");
    let fields: Vec<&str> = many_errors.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "name",
        "owner_email",
        "owner_name",
        "member_quota",
        "seats_total",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    env.post(
        "/v1/tenants",
        Some(&admin),
        json!({"name": "X", "kind": "empire"}),
    )
    .await
    .problem(400, "validation_failed");
    // Nothing of the refused tenants was written.
    let tenants = env.get("/v1/tenants?limit=200", &admin).await;
    assert_eq!(tenants.ok(200)["items"].as_array().unwrap().len(), 1);
    env.assert_consistent().await;
}

#[tokio::test]
async fn members_without_permission_are_forbidden_in_their_own_tenant() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Perms").await;
    // Demote the owner to a plain member behind the API's back (roles arrive with issue 3).
    set_owners_membership(&env, &t, "role", "member").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    // Reading the tree is fine; changing it, settings and the audit log are not.
    env.get(&depts, &t.owner_token).await.ok(200);
    env.post(
        &depts,
        Some(&t.owner_token),
        json!({"name": "X", "parent_id": t.root}),
    )
    .await
    .problem(403, "forbidden");
    env.get(&format!("/v1/tenants/{}/audit-log", t.id), &t.owner_token)
        .await
        .problem(403, "forbidden");
    env.patch(
        &format!("/v1/tenants/{}", t.id),
        &t.owner_token,
        json!({"settings": {"default_language": "de"}}),
    )
    .await
    .problem(403, "forbidden");
}
