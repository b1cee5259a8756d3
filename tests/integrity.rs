//! Integrity (issue 11): only legal states, every body an object, authentication before the
//! body, read scopes and contact visibility, stronger targets, file permissions, and a user in
//! many tenants.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use roster_functions::registry::{Access, OPERATIONS};
use roster_tests::{Env, Person, Tenant, id, unique};
use serde_json::{Value, json};

#[tokio::test]
async fn member_status_input_is_active_or_disabled_only() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("States").await;
    let m = env.member_in(&t, "Sam", json!({})).await;
    let before = env.tenant_view(&t).await;
    let path = format!("/v1/tenants/{}/members/{}", t.id, m.member_id);
    for status in ["pending", "rejected", "deleted", "invited", "ACTIVE"] {
        env.patch(&path, &t.owner_token, json!({"status": status}))
            .await
            .problem(400, "validation_failed");
        env.post(
            &format!("/v1/tenants/{}/members/bulk-status", t.id),
            Some(&t.owner_token),
            json!({"member_ids": [m.member_id], "status": status}),
        )
        .await
        .problem(400, "validation_failed");
    }
    // Nothing moved: the member is still listed and every counter is as it was.
    let member = env.get(&path, &t.owner_token).await;
    assert_eq!(member.ok(200)["status"], "active");
    let after = env.tenant_view(&t).await;
    assert_eq!(before["member_count"], after["member_count"]);
    assert_eq!(before["quota_used"], after["quota_used"]);
    assert_eq!(
        before["pending_join_requests"],
        after["pending_join_requests"]
    );
    // A member that came in through a join link is no join request once approved: reject and
    // approve do not act on it.
    let code = env.join_code(&t).await;
    let joiner = format!("{}@join.test", unique("jo"));
    env.join(
        &code,
        None,
        json!({"email": joiner, "name": "Jo", "password": "jo-password-12"}),
    )
    .await
    .ok(202);
    let requests = env
        .get(
            &format!("/v1/tenants/{}/join-requests", t.id),
            &t.owner_token,
        )
        .await;
    let request = requests.ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/v1/tenants/{}/join-requests/{request}", t.id);
    env.post(&format!("{base}/approve"), Some(&t.owner_token), json!({}))
        .await
        .ok(200);
    let counted = env.tenant_view(&t).await;
    env.post(&format!("{base}/reject"), Some(&t.owner_token), json!({}))
        .await
        .problem(409, "conflict");
    env.post(&format!("{base}/approve"), Some(&t.owner_token), json!({}))
        .await
        .problem(409, "conflict");
    env.patch(
        &format!("/v1/tenants/{}/members/{request}", t.id),
        &t.owner_token,
        json!({"status": "pending"}),
    )
    .await
    .problem(400, "validation_failed");
    assert_eq!(env.tenant_view(&t).await, counted);
    env.assert_consistent().await;
}

/// Every route that moves a counter, driven twice (or against what is gone): the second attempt is
/// refused or changes nothing, and no counter ever reads below zero.
#[tokio::test]
async fn no_counter_goes_below_zero_through_the_routes_that_move_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Counters").await;
    let base = format!("/v1/tenants/{}", t.id);
    let sales = env.department_in(&t, "Sales").await;
    let m = env
        .member_in(&t, "Cy", json!({"department_id": sales}))
        .await;
    let path = format!("{base}/members/{}", m.member_id);

    // Seats: assign once, revoke twice.
    env.patch(&base, &env.admin_token().await, json!({"seats_total": 2}))
        .await
        .ok(200);
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(90))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    env.call(
        Method::PUT,
        &format!("{path}/licence"),
        Some(&t.owner_token),
        Some(json!({"expires_at": expires})),
    )
    .await
    .ok(200);
    env.delete(&format!("{path}/licence"), &t.owner_token)
        .await
        .ok(204);
    let again = env.delete(&format!("{path}/licence"), &t.owner_token).await;
    assert!(again.status.is_client_error() || again.status.as_u16() == 204);
    // Invitations: cancel twice.
    let invited = env
        .post(
            &format!("{base}/invitations"),
            Some(&t.owner_token),
            json!({"email": format!("{}@inv.test", unique("iv")), "department_id": t.root}),
        )
        .await;
    let invitation = id(invited.ok(201));
    for _ in 0..2 {
        let cancel = env
            .delete(&format!("{base}/invitations/{invitation}"), &t.owner_token)
            .await;
        assert!(cancel.status.as_u16() == 204 || cancel.status.is_client_error());
    }
    // Join requests: reject twice.
    let code = env.join_code(&t).await;
    env.join(
        &code,
        None,
        json!({"email": format!("{}@req.test", unique("rq")), "name": "Rq", "password": "rq-password-123"}),
    )
    .await
    .ok(202);
    let requests = env
        .get(&format!("{base}/join-requests"), &t.owner_token)
        .await;
    let request = requests.ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.post(
        &format!("{base}/join-requests/{request}/reject"),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    env.post(
        &format!("{base}/join-requests/{request}/reject"),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .problem(409, "conflict");
    // Members: disable twice, move away, delete twice.
    for _ in 0..2 {
        env.patch(&path, &t.owner_token, json!({"status": "disabled"}))
            .await
            .ok(200);
    }
    env.patch(&path, &t.owner_token, json!({"department_id": t.root}))
        .await
        .ok(200);
    env.delete(&path, &t.owner_token).await.ok(204);
    env.delete(&path, &t.owner_token)
        .await
        .problem(404, "not_found");

    let counts = env.tenant_view(&t).await;
    assert_eq!(counts["member_count"], 1, "{counts}");
    assert_eq!(counts["pending_invitations"], 0, "{counts}");
    assert_eq!(counts["pending_join_requests"], 0, "{counts}");
    assert_eq!(counts["quota_used"], 1, "{counts}");
    assert_eq!(counts["seats"]["used"], 0, "{counts}");
    let sales_now = env
        .get(&format!("{base}/departments/{sales}"), &t.owner_token)
        .await;
    assert_eq!(sales_now.ok(200)["member_count"], 0);

    // A counter driven below zero before these rules (written directly here) still loads: the
    // tenant answers, its routes work.
    let key = std::collections::HashMap::from([
        (
            "pk".to_string(),
            AttributeValue::S(format!("TENANT#{}", t.id)),
        ),
        ("sk".to_string(), AttributeValue::S("TENANT".into())),
    ]);
    env.app
        .store
        .client()
        .update_item()
        .table_name(&env.app.config.table)
        .set_key(Some(key))
        .update_expression("SET join_request_count = :minus, invitation_count = :minus")
        .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
        .send()
        .await
        .expect("corrupt");
    let loaded = env.tenant_view(&t).await;
    assert_eq!(loaded["pending_join_requests"], 0);
    env.get(&format!("{base}/members"), &t.owner_token)
        .await
        .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn every_body_is_a_json_object() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Bodies").await;
    for body in [
        json!([null, null]),
        json!(["x"]),
        json!("x"),
        json!(5),
        json!(null),
    ] {
        env.patch("/v1/me", &t.owner_token, body.clone())
            .await
            .problem(400, "validation_failed");
        env.post("/v1/auth/login", None, body.clone())
            .await
            .problem(400, "validation_failed");
        env.post(
            &format!("/v1/tenants/{}/departments", t.id),
            Some(&t.owner_token),
            body,
        )
        .await
        .problem(400, "validation_failed");
    }
    let me = env.get("/v1/me", &t.owner_token).await;
    assert_eq!(me.ok(200)["user"]["name"], "Olive Owner");
    env.assert_consistent().await;
}

/// Every authenticated route answers 401 to a request without a token, or with a forged one,
/// whatever its body: nothing about the request is read before the caller is known.
#[tokio::test]
async fn authenticated_routes_answer_401_before_reading_the_body() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Auth first").await;
    let mut checked = 0;
    for route in OPERATIONS.iter().filter(|r| r.access != Access::Public) {
        let path = route
            .path
            .replace("{tenant_id}", &t.id)
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    s.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        for token in [None, Some("not.a.token"), Some("eyJhbGciOiJub25lIn0.e30.")] {
            for body in [
                Some(json!([1, 2])),
                Some(json!({"unknown_field": true})),
                None,
            ] {
                let answer = env.call(method.clone(), &path, token, body).await;
                if route.path.starts_with("/scim/") {
                    // SCIM's clients read SCIM error documents (RFC 7644 §3.12).
                    assert_eq!(answer.status.as_u16(), 401, "{path}: {:?}", answer.body);
                    assert_eq!(
                        answer.body["schemas"][0],
                        "urn:ietf:params:scim:api:messages:2.0:Error"
                    );
                } else {
                    answer.problem(401, "unauthorized");
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 40, "{checked} authenticated routes");
    env.assert_consistent().await;
}

async fn api_client_token(env: &Env, t: &Tenant, permissions: Value) -> String {
    env.enable_api_access(t).await;
    let created = env
        .post(
            &format!("/v1/tenants/{}/api-clients", t.id),
            Some(&t.owner_token),
            json!({"name": unique("client"), "permissions": permissions}),
        )
        .await;
    let c = created.ok(201).clone();
    let grant = env
        .post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": c["id"],
                   "client_secret": c["client_secret"]}),
        )
        .await;
    grant.ok(200)["access_token"].as_str().unwrap().to_string()
}

const ADMIN_ONLY: [&str; 8] = [
    "role",
    "permissions",
    "status",
    "source",
    "licence",
    "last_login_at",
    "user_id",
    "api_client_id",
];

#[tokio::test]
async fn the_admin_view_of_members_needs_members_read() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Scopes").await;
    let members = format!("/v1/tenants/{}/members", t.id);
    // A machine client without members.read reads nothing, not even the directory.
    let licences_only = api_client_token(&env, &t, json!(["licences.write"])).await;
    env.get(&members, &licences_only)
        .await
        .problem(403, "forbidden");
    env.get(&format!("{members}?q=olive"), &licences_only)
        .await
        .problem(403, "forbidden");
    let reader = api_client_token(&env, &t, json!(["members.read"])).await;
    let full = env.get(&members, &reader).await;
    assert_eq!(full.ok(200)["items"][0]["role"], "owner");

    // A plain member reads directory entries; an admin without members.read too.
    let plain = env.member_in(&t, "Pat", json!({})).await;
    let admin = env
        .member_in(
            &t,
            "Ada",
            json!({"role": "admin", "permissions": ["licences.write"]}),
        )
        .await;
    for reader in [&plain, &admin] {
        let listed = env.get(&members, &reader.token).await;
        for entry in listed.ok(200)["items"].as_array().unwrap() {
            for field in ADMIN_ONLY {
                assert!(entry.get(field).is_none(), "{field} in {entry}");
            }
            assert!(entry["name"].is_string() && entry["directory_number"].is_number());
        }
        let detail = env
            .get(&format!("{members}/{}", plain.member_id), &reader.token)
            .await;
        assert!(detail.ok(200).get("permissions").is_none());
        assert!(detail.headers.get("etag").is_none());
        // Filters and orders by what entries do not show are the admin view's.
        for query in [
            "status=active",
            "role=owner",
            "licence=active",
            "source=console",
            "sort=last_login_at",
        ] {
            env.get(&format!("{members}?{query}"), &reader.token)
                .await
                .problem(403, "forbidden");
        }
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn contact_visibility_hides_email_and_phone_from_plain_members() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Contacts").await;
    let north = env.department_in(&t, "North").await;
    let south = env.department_in(&t, "South").await;
    let reader: Person = env
        .member_in(&t, "Rea", json!({"department_id": north}))
        .await;
    let near = env
        .member_in(
            &t,
            "Ned",
            json!({"department_id": north, "phone": "+1 555 0001"}),
        )
        .await;
    let far = env
        .member_in(
            &t,
            "Faye",
            json!({"department_id": south, "phone": "+1 555 0002"}),
        )
        .await;
    let members = format!("/v1/tenants/{}/members", t.id);
    let entry = |list: &Value, member: &Person| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == member.member_id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{} not listed in {list}", member.member_id))
    };
    // Everyone (the default): contacts shown.
    let listed = env.get(&members, &reader.token).await;
    assert_eq!(entry(listed.ok(200), &far)["email"], far.email.as_str());

    let set = |visibility: &'static str| {
        let env = &env;
        let t = &t;
        async move {
            env.set_settings(t, json!({"contact_visibility": visibility}))
                .await;
        }
    };
    set("department").await;
    let listed = env.get(&members, &reader.token).await;
    let listed = listed.ok(200);
    assert_eq!(entry(listed, &near)["email"], near.email.as_str());
    assert_eq!(entry(listed, &near)["phone"], "+1 555 0001");
    assert_eq!(entry(listed, &far)["email"], Value::Null);
    assert_eq!(entry(listed, &far)["phone"], Value::Null);
    let detail = env
        .get(&format!("{members}/{}", far.member_id), &reader.token)
        .await;
    assert_eq!(detail.ok(200)["email"], Value::Null);
    // Hidden contacts are not found by them either; the name still finds the person.
    // Past the name ("faye-…"): only the email matches this prefix.
    let prefix = &far.email[..7];
    let by_email = env
        .get(&format!("{members}?q={prefix}"), &reader.token)
        .await;
    assert!(
        by_email.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"] != far.member_id.as_str())
    );
    let by_name = env.get(&format!("{members}?q=faye"), &reader.token).await;
    assert_eq!(entry(by_name.ok(200), &far)["email"], Value::Null);
    // The owner sees every contact.
    let owner_view = env.get(&members, &t.owner_token).await;
    assert_eq!(entry(owner_view.ok(200), &far)["email"], far.email.as_str());

    // A department overrides the tenant: South shows its contacts to everyone.
    env.patch(
        &format!("/v1/tenants/{}/departments/{south}", t.id),
        &t.owner_token,
        json!({"settings": {"contact_visibility": "everyone"}}),
    )
    .await
    .ok(200);
    let listed = env.get(&members, &reader.token).await;
    assert_eq!(entry(listed.ok(200), &far)["email"], far.email.as_str());
    // Admins only: no plain member sees them, not even in their own department.
    set("admins").await;
    let listed = env.get(&members, &reader.token).await;
    assert_eq!(entry(listed.ok(200), &near)["email"], Value::Null);
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_admin_acts_only_on_members_whose_permissions_it_holds() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Reach").await;
    let writer = env
        .member_in(
            &t,
            "Wes",
            json!({"role": "admin", "permissions": ["members.write", "members.read"]}),
        )
        .await;
    let strong = env
        .member_in(&t, "Sia", json!({"role": "admin", "permissions": "all"}))
        .await;
    let plain = env.member_in(&t, "Pip", json!({})).await;
    let members = format!("/v1/tenants/{}/members", t.id);
    let strong_path = format!("{members}/{}", strong.member_id);
    for body in [
        json!({"role": "member"}),
        json!({"status": "disabled"}),
        json!({"position": "Demoted"}),
    ] {
        env.patch(&strong_path, &writer.token, body)
            .await
            .problem(403, "forbidden");
    }
    env.delete(&strong_path, &writer.token)
        .await
        .problem(403, "forbidden");
    env.post(
        &format!("{strong_path}/reset-password"),
        Some(&writer.token),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    let bulk = env
        .post(
            &format!("{members}/bulk-status"),
            Some(&writer.token),
            json!({"member_ids": [strong.member_id], "status": "disabled"}),
        )
        .await;
    assert!(bulk.status.is_client_error(), "{:?}", bulk.body);
    let still = env.get(&strong_path, &t.owner_token).await;
    assert_eq!(still.ok(200)["status"], "active");
    assert_eq!(still.body["role"], "admin");
    // What it holds all of, it acts on.
    env.patch(
        &format!("{members}/{}", plain.member_id),
        &writer.token,
        json!({"position": "Promoted"}),
    )
    .await
    .ok(200);
    // Owners act on that admin.
    env.patch(&strong_path, &t.owner_token, json!({"position": "Lead"}))
        .await
        .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn job_files_need_the_permission_of_their_kind() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Files").await;
    let importer = env
        .member_in(
            &t,
            "Ian",
            json!({"role": "admin", "permissions": ["imports.run"]}),
        )
        .await;
    let export = env.queue_export(&t).await;
    let import = env
        .post(
            &format!("/v1/tenants/{}/imports", t.id),
            Some(&importer.token),
            json!({"mode": "create", "send_email": false}),
        )
        .await;
    let import = id(&import.ok(201)["job"]);
    let jobs = env
        .get(&format!("/v1/tenants/{}/jobs", t.id), &importer.token)
        .await;
    let seen: Vec<String> = jobs.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(seen, vec![import.clone()]);
    env.get(
        &format!("/v1/tenants/{}/jobs/{export}", t.id),
        &importer.token,
    )
    .await
    .problem(403, "forbidden");
    env.delete(
        &format!("/v1/tenants/{}/jobs/{export}", t.id),
        &importer.token,
    )
    .await
    .problem(403, "forbidden");
    env.get(
        &format!("/v1/tenants/{}/jobs/{import}", t.id),
        &importer.token,
    )
    .await
    .ok(200);
    // An export carries the admin view of members: exports.run alone does not make one.
    let exporter = env
        .member_in(
            &t,
            "Eli",
            json!({"role": "admin", "permissions": ["exports.run"]}),
        )
        .await;
    env.post(
        &format!("/v1/tenants/{}/exports", t.id),
        Some(&exporter.token),
        json!({"scope": "all", "format": "csv"}),
    )
    .await
    .problem(403, "forbidden");
    // An export's query is bounded like a search's.
    env.post(
        &format!("/v1/tenants/{}/exports", t.id),
        Some(&t.owner_token),
        json!({"scope": "query", "query": "x".repeat(201), "format": "csv"}),
    )
    .await
    .problem(400, "validation_failed");
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_user_in_fifty_tenants_renames_themselves() {
    let env = Env::start().await;
    let admin = env.admin_token().await;
    let owner = format!("{}@many.test", unique("mo"));
    let mut tenants = Vec::new();
    for i in 0..50 {
        let created = env
            .post(
                "/v1/tenants",
                Some(&admin),
                json!({"name": format!("Many {i}"), "kind": "customer", "plan": "paid",
                       "member_quota": 5, "seats_total": 0, "owner_email": owner,
                       "owner_name": "Mo Many"}),
            )
            .await;
        tenants.push(id(created.ok(201)));
    }
    let link = env.link_token_for(&owner, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "mo-password-123"}),
    )
    .await
    .ok(204);
    let token = env
        .login(&owner, "mo-password-123", Some(&tenants[0]))
        .await;
    let renamed = env
        .patch("/v1/me", &token, json!({"name": "Mo Renamed"}))
        .await;
    assert_eq!(renamed.ok(200)["name"], "Mo Renamed");
    for tenant in [&tenants[0], &tenants[24], &tenants[49]] {
        let found = env
            .get(&format!("/v1/tenants/{tenant}/members?q=renamed"), &admin)
            .await;
        assert_eq!(found.ok(200)["items"][0]["name"], "Mo Renamed", "{tenant}");
    }
    env.assert_consistent().await;
}
