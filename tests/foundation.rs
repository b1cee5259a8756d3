//! The foundation end to end: bootstrap admin → tenant → owner's mail link → department tree →
//! audit log, with the failure paths a client can hit.

use futures::future::join_all;
use reqwest::Method;
use roster_tests::{Env, unique};
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn a_client_builds_a_tenant_and_its_department_tree() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Acme").await;
    assert_eq!(
        t.body["seats"],
        json!({"total": 5, "used": 0, "available": 5})
    );
    assert_eq!(t.body["member_count"], 1);
    let depts = format!("/v1/tenants/{}/departments", t.id);

    // A 4-level tree under the root: Sales / EMEA / France / Paris.
    let mut parent = t.root.clone();
    let mut chain = Vec::new();
    for name in ["Sales", "EMEA", "France", "Paris"] {
        let created = env
            .post(
                &depts,
                Some(&t.owner_token),
                json!({"name": name, "parent_id": parent}),
            )
            .await;
        let d = created.ok(201);
        parent = d["id"].as_str().unwrap().to_string();
        chain.push(d.clone());
    }
    assert_eq!(chain[3]["path"], "Acme/Sales/EMEA/France/Paris");
    assert_eq!(chain[3]["depth"], 4);
    let support = env
        .post(
            &depts,
            Some(&t.owner_token),
            json!({"name": "Support", "parent_id": t.root}),
        )
        .await
        .ok(201)
        .clone();

    let tree = env.get(&depts, &t.owner_token).await;
    assert_eq!(ids(tree.ok(200)).len(), 6);
    let sales = env
        .get(
            &format!("{depts}/{}", chain[0]["id"].as_str().unwrap()),
            &t.owner_token,
        )
        .await;
    assert_eq!(sales.ok(200)["child_count"], 1);

    // Move France (with Paris) under Support: paths of the whole subtree follow.
    let france = chain[2]["id"].as_str().unwrap();
    let paris = chain[3]["id"].as_str().unwrap();
    let moved = env
        .patch(
            &format!("{depts}/{france}"),
            &t.owner_token,
            json!({"parent_id": support["id"]}),
        )
        .await;
    assert_eq!(moved.ok(200)["path"], "Acme/Support/France");
    let paris_now = env.get(&format!("{depts}/{paris}"), &t.owner_token).await;
    assert_eq!(paris_now.ok(200)["path"], "Acme/Support/France/Paris");
    assert_eq!(paris_now.body["depth"], 3);

    // Rename Support: descendants' paths follow.
    env.patch(
        &format!("{depts}/{}", support["id"].as_str().unwrap()),
        &t.owner_token,
        json!({"name": "Customer Care"}),
    )
    .await
    .ok(200);
    let paris_now = env.get(&format!("{depts}/{paris}"), &t.owner_token).await;
    assert_eq!(paris_now.ok(200)["path"], "Acme/Customer Care/France/Paris");

    // Delete the leaf, then its parent once it is empty.
    env.delete(&format!("{depts}/{paris}"), &t.owner_token)
        .await
        .ok(204);
    env.delete(&format!("{depts}/{france}"), &t.owner_token)
        .await
        .ok(204);
    env.get(&format!("{depts}/{paris}"), &t.owner_token)
        .await
        .problem(404, "not_found");
    assert_eq!(ids(env.get(&depts, &t.owner_token).await.ok(200)).len(), 4);

    // The audit log holds every change, newest first, with before/after and the source IP.
    let log = env
        .get(&format!("/v1/tenants/{}/audit-log", t.id), &t.owner_token)
        .await;
    let actions: Vec<&str> = log.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "department.delete",
            "department.delete",
            "department.update",
            "department.move",
            "department.create",
            "department.create",
            "department.create",
            "department.create",
            "department.create",
            "tenant.create"
        ]
    );
    let entry = &log.body["items"][3];
    assert_eq!(entry["before"]["path"], "Acme/Sales/EMEA/France");
    assert_eq!(entry["after"]["path"], "Acme/Support/France");
    assert_eq!(entry["source_ip"], "127.0.0.1");
    assert_eq!(entry["actor"]["email"], t.owner_email.as_str());

    let moves = env
        .get(
            &format!("/v1/tenants/{}/audit-log?action=department.move", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(moves.ok(200)["items"].as_array().unwrap().len(), 1);
    let owner_id = entry["actor"]["id"].as_str().unwrap();
    let by_owner = env
        .get(
            &format!(
                "/v1/tenants/{}/audit-log?actor_id={owner_id}&limit=200",
                t.id
            ),
            &t.owner_token,
        )
        .await;
    assert_eq!(by_owner.ok(200)["items"].as_array().unwrap().len(), 9);
    let future = env
        .get(
            &format!("/v1/tenants/{}/audit-log?from=2999-01-01T00:00:00Z", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(future.ok(200)["items"].as_array().unwrap().len(), 0);
    let past = env
        .get(
            &format!("/v1/tenants/{}/audit-log?to=2000-01-01T00:00:00Z", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(past.ok(200)["items"].as_array().unwrap().len(), 0);

    // Pages: two at a time, following cursors, every entry once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants/{}/audit-log?limit=2&cursor={c}", t.id),
            None => format!("/v1/tenants/{}/audit-log?limit=2", t.id),
        };
        let page = env.get(&path, &t.owner_token).await;
        seen.extend(ids(page.ok(200)));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
}

#[tokio::test]
async fn tree_rules_cycles_emptiness_root_and_sibling_names() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Globex").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let create = |name: &str, parent: &str| {
        env.post(
            &depts,
            Some(&t.owner_token),
            json!({"name": name, "parent_id": parent}),
        )
    };
    let a = create("Engineering", &t.root).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = create("Platform", &a).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Under itself or a descendant: a cycle.
    env.patch(
        &format!("{depts}/{a}"),
        &t.owner_token,
        json!({"parent_id": b}),
    )
    .await
    .problem(409, "department_cycle");
    env.patch(
        &format!("{depts}/{a}"),
        &t.owner_token,
        json!({"parent_id": a}),
    )
    .await
    .problem(409, "department_cycle");
    // The root neither moves nor goes away.
    env.patch(
        &format!("{depts}/{}", t.root),
        &t.owner_token,
        json!({"parent_id": a}),
    )
    .await
    .problem(409, "conflict");
    env.delete(&format!("{depts}/{}", t.root), &t.owner_token)
        .await
        .problem(409, "conflict");
    // A department with children stays.
    env.delete(&format!("{depts}/{a}"), &t.owner_token)
        .await
        .problem(409, "department_not_empty");

    // Sibling names are unique whatever their case, but the same name elsewhere is fine.
    create("engineering", &t.root)
        .await
        .problem(409, "conflict");
    create("ENGINEERING ", &t.root)
        .await
        .problem(409, "conflict");
    create("Engineering", &a).await.ok(201);
    env.patch(
        &format!("{depts}/{b}"),
        &t.owner_token,
        json!({"name": "engineering"}),
    )
    .await
    .problem(409, "conflict");
    // Changing only the case of one's own name is allowed.
    env.patch(
        &format!("{depts}/{a}"),
        &t.owner_token,
        json!({"name": "ENGINEERING"}),
    )
    .await
    .ok(200);
    // Moving next to a sibling of the same name is refused, and nothing changes.
    let c = create("Platform", &t.root).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.patch(
        &format!("{depts}/{c}"),
        &t.owner_token,
        json!({"parent_id": a}),
    )
    .await
    .problem(409, "conflict");
    let c_now = env.get(&format!("{depts}/{c}"), &t.owner_token).await;
    assert_eq!(c_now.ok(200)["parent_id"], t.root.as_str());

    // Bad input: 4xx problem documents, never 500.
    create("", &t.root).await.problem(400, "validation_failed");
    create("A/B", &t.root)
        .await
        .problem(400, "validation_failed");
    create(&"x".repeat(101), &t.root)
        .await
        .problem(400, "validation_failed");
    create("Orphan", &uuid::Uuid::now_v7().to_string())
        .await
        .problem(400, "validation_failed");
    env.post(
        &depts,
        Some(&t.owner_token),
        json!({"name": "X", "parent_id": t.root, "colour": "red"}),
    )
    .await
    .problem(400, "validation_failed");
    env.patch(
        &format!("{depts}/{a}"),
        &t.owner_token,
        json!({"settings": {"ip_allowlist": ["300.0.0.0/8"]}}),
    )
    .await
    .problem(400, "validation_failed");
    let with_settings = env
        .patch(
            &format!("{depts}/{a}"),
            &t.owner_token,
            json!({"settings": {"ip_allowlist": ["10.1.0.0/16"], "contact_visibility": "department",
                                "branding": {"primary_color": "#112233"}}}),
        )
        .await;
    assert_eq!(
        with_settings.ok(200)["settings"]["ip_allowlist"],
        json!(["10.1.0.0/16"])
    );
    let cleared = env
        .patch(
            &format!("{depts}/{a}"),
            &t.owner_token,
            json!({"settings": {"ip_allowlist": null}}),
        )
        .await;
    assert_eq!(cleared.ok(200)["settings"]["ip_allowlist"], Value::Null);
    assert_eq!(cleared.body["settings"]["contact_visibility"], "department");
}

#[tokio::test]
async fn nesting_is_limited_in_depth() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Deep").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let mut parent = t.root.clone();
    for level in 1..=15 {
        parent = env
            .post(
                &depts,
                Some(&t.owner_token),
                json!({"name": format!("L{level}"), "parent_id": parent}),
            )
            .await
            .ok(201)["id"]
            .as_str()
            .unwrap()
            .to_string();
    }
    env.post(
        &depts,
        Some(&t.owner_token),
        json!({"name": "L16", "parent_id": parent}),
    )
    .await
    .problem(400, "validation_failed");
}

#[tokio::test]
async fn owner_mail_link_works_once_and_login_is_uniform() {
    let env = Env::start().await;
    let admin = env.admin_token().await;
    let owner = format!("{}@initech.test", unique("Peter"));
    let created = env
        .post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "Initech", "kind": "customer", "plan": "free", "member_quota": 10,
                   "seats_total": 0, "owner_email": format!("  {} ", owner.to_uppercase()),
                   "owner_name": "Peter"}),
        )
        .await;
    created.ok(201);
    // The email is stored lowercase; the mail went there.
    let token = env.link_token(&owner.to_lowercase()).await;
    let owner = owner.to_lowercase();
    // Before a password is set, nobody can sign in as the owner.
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": owner, "password": "anything-at-all"}),
    )
    .await
    .problem(401, "unauthorized");
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "short"}),
    )
    .await
    .problem(400, "validation_failed");
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "a-long-password"}),
    )
    .await
    .ok(204);
    // Single use.
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "another-password"}),
    )
    .await
    .problem(400, "validation_failed");
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": "forged", "new_password": "another-password"}),
    )
    .await
    .problem(400, "validation_failed");

    // Sign in with any case of the email; wrong password and unknown email answer alike.
    let login = env
        .post(
            "/v1/auth/login",
            None,
            json!({"email": owner.to_uppercase(), "password": "a-long-password"}),
        )
        .await;
    assert_eq!(login.ok(200)["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let wrong = env
        .post(
            "/v1/auth/login",
            None,
            json!({"email": owner, "password": "wrong-password"}),
        )
        .await;
    let unknown = env
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "nobody@nowhere.test", "password": "wrong-password"}),
        )
        .await;
    wrong.problem(401, "unauthorized");
    unknown.problem(401, "unauthorized");
    assert_eq!(wrong.body, unknown.body);

    // The owner changes their password; the old one stops working.
    let token = login.body["access_token"].as_str().unwrap();
    env.post(
        "/v1/auth/password",
        Some(token),
        json!({"current_password": "nope-nope-nope", "new_password": "brand-new-password"}),
    )
    .await
    .problem(400, "validation_failed");
    env.post(
        "/v1/auth/password",
        Some(token),
        json!({"current_password": "a-long-password", "new_password": "brand-new-password"}),
    )
    .await
    .ok(200);
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": owner, "password": "a-long-password"}),
    )
    .await
    .problem(401, "unauthorized");
    env.login(&owner, "brand-new-password", None).await;
}

#[tokio::test]
async fn me_shows_and_edits_own_profile() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Umbrella").await;
    let me = env.get("/v1/me", &t.owner_token).await;
    let me = me.ok(200);
    assert_eq!(me["user"]["email"], t.owner_email.as_str());
    assert_eq!(me["current"]["role"], "owner");
    assert_eq!(me["current"]["permissions"], "all");
    assert_eq!(me["memberships"].as_array().unwrap().len(), 1);
    assert!(me["user"].get("password_hash").is_none());

    let patched = env
        .patch(
            "/v1/me",
            &t.owner_token,
            json!({"name": "Olive O.", "phone": "+33 1 23 45 67 89", "language": "fr"}),
        )
        .await;
    assert_eq!(patched.ok(200)["name"], "Olive O.");
    assert_eq!(patched.body["language"], "fr");
    let cleared = env
        .patch("/v1/me", &t.owner_token, json!({"phone": null}))
        .await;
    assert_eq!(cleared.ok(200)["phone"], Value::Null);
    env.patch("/v1/me", &t.owner_token, json!({"email": "new@x.test"}))
        .await
        .problem(400, "validation_failed");
    env.patch(
        "/v1/me",
        &t.owner_token,
        json!({"language": "not a language"}),
    )
    .await
    .problem(400, "validation_failed");

    let admin = env.get("/v1/me", &env.admin_token().await).await;
    assert_eq!(admin.ok(200)["platform_admin"], true);
    assert_eq!(admin.body["current"], Value::Null);
}

#[tokio::test]
async fn tenants_are_managed_by_platform_and_reseller_admins() {
    let env = Env::start().await;
    let admin = env.admin_token().await;
    let reseller = env.tenant_with_owner("Reseller placeholder").await;
    // Make a real reseller: platform admins create resellers.
    let reseller_owner = format!("{}@resell.test", unique("rita"));
    let r = env
        .post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "Resell Co", "kind": "reseller", "plan": "paid", "member_quota": 5,
                   "seats_total": 0, "owner_email": reseller_owner, "owner_name": "Rita"}),
        )
        .await;
    let r_id = r.ok(201)["id"].as_str().unwrap().to_string();
    let token = env.link_token(&reseller_owner).await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "rita-password-1"}),
    )
    .await
    .ok(204);
    let rita = env.login(&reseller_owner, "rita-password-1", None).await;

    // The reseller's owner creates a customer under it, lists and manages it.
    let customer = env
        .post(
            "/v1/tenants",
            Some(&rita),
            json!({"name": "Customer One", "kind": "customer", "plan": "free", "member_quota": 20,
                   "seats_total": 2, "owner_email": format!("{}@c1.test", unique("carl")), "owner_name": "Carl"}),
        )
        .await;
    let c = customer.ok(201).clone();
    assert_eq!(c["parent_id"], r_id.as_str());
    let c_id = c["id"].as_str().unwrap();
    let listed = env.get("/v1/tenants", &rita).await;
    assert_eq!(ids(listed.ok(200)), vec![c_id.to_string()]);
    env.post(
        &format!("/v1/tenants/{c_id}/departments"),
        Some(&rita),
        json!({"name": "Store 12", "parent_id": c["root_department_id"]}),
    )
    .await
    .ok(201);
    env.patch(
        &format!("/v1/tenants/{c_id}"),
        &rita,
        json!({"member_quota": 30, "plan": "paid"}),
    )
    .await
    .ok(200);
    // Resellers create customers only, and set no feature flags.
    env.post(
        "/v1/tenants",
        Some(&rita),
        json!({"name": "Sub", "kind": "reseller", "plan": "free", "member_quota": 1, "seats_total": 0,
               "owner_email": "x@y.test", "owner_name": "X"}),
    )
    .await
    .problem(400, "validation_failed");
    env.patch(
        &format!("/v1/tenants/{c_id}"),
        &rita,
        json!({"feature_flags": {"licence_renewal": true}}),
    )
    .await
    .problem(403, "forbidden");

    // Another tenant's owner sees nothing of the customer and cannot create or list tenants.
    env.get(&format!("/v1/tenants/{c_id}"), &reseller.owner_token)
        .await
        .problem(404, "not_found");
    // A customer's owner has no customers to list.
    let none = env.get("/v1/tenants", &reseller.owner_token).await;
    assert!(ids(none.ok(200)).is_empty());
    env.post(
        "/v1/tenants",
        Some(&reseller.owner_token),
        json!({"name": "Nope", "kind": "customer", "plan": "free", "member_quota": 1, "seats_total": 0,
               "owner_email": "n@o.test", "owner_name": "N"}),
    )
    .await
    .problem(403, "forbidden");

    // The platform admin sees all tenants, pages through them, sets flags.
    let all = env.get("/v1/tenants?limit=200", &admin).await;
    assert!(ids(all.ok(200)).len() >= 3);
    let page = env.get("/v1/tenants?limit=1", &admin).await;
    assert_eq!(ids(page.ok(200)).len(), 1);
    assert!(page.body["next_cursor"].is_string());
    let flagged = env
        .patch(
            &format!("/v1/tenants/{c_id}"),
            &admin,
            json!({"feature_flags": {"licence_renewal": true}}),
        )
        .await;
    assert_eq!(flagged.ok(200)["feature_flags"]["licence_renewal"], true);
}

#[tokio::test]
async fn tenant_settings_quotas_and_preconditions() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Hooli").await;
    let path = format!("/v1/tenants/{}", t.id);
    // Owners change settings, not their plan or quotas.
    let patched = env
        .patch(
            &path,
            &t.owner_token,
            json!({"settings": {"password_expiry_days": 90, "recycle_bin_retention_days": 60,
                                "ip_allowlist": ["203.0.113.0/24"], "branding": {"logo_url": "https://cdn.hooli.test/logo.png"}}}),
        )
        .await;
    let body = patched.ok(200);
    assert_eq!(body["settings"]["password_expiry_days"], 90);
    assert_eq!(body["settings"]["recycle_bin_retention_days"], 60);
    assert_eq!(body["settings"]["invitation_expiry_days"], 7);
    env.patch(&path, &t.owner_token, json!({"plan": "free"}))
        .await
        .problem(403, "forbidden");
    env.patch(
        &path,
        &t.owner_token,
        json!({"settings": {"recycle_bin_retention_days": 181}}),
    )
    .await
    .problem(400, "validation_failed");
    env.patch(
        &path,
        &t.owner_token,
        json!({"settings": {"password_expiry_days": null}}),
    )
    .await
    .ok(200);

    let admin = env.admin_token().await;
    // The owner counts toward the quota: it cannot drop below the members there are.
    env.patch(&path, &admin, json!({"member_quota": 0}))
        .await
        .problem(400, "validation_failed");
    env.patch(&path, &admin, json!({"seats_total": -1}))
        .await
        .problem(400, "validation_failed");

    // ETag / If-Match.
    let current = env.get(&path, &admin).await;
    let etag = current.headers["etag"].to_str().unwrap().to_string();
    let stale = env
        .http
        .request(Method::PATCH, format!("{}{}", env.base, path))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Hooli XYZ"}))
        .send()
        .await
        .unwrap();
    Env::answer(stale).await.problem(412, "precondition_failed");
    let fresh = env
        .http
        .request(Method::PATCH, format!("{}{}", env.base, path))
        .bearer_auth(&admin)
        .header("if-match", etag)
        .json(&json!({"name": "Hooli XYZ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(Env::answer(fresh).await.ok(200)["name"], "Hooli XYZ");
}

#[tokio::test]
async fn concurrent_changes_keep_the_tree_consistent() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Racers").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let parent = env
        .post(
            &depts,
            Some(&t.owner_token),
            json!({"name": "Parent", "parent_id": t.root}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Ten creations of one name at once: exactly one wins.
    let same = (0..10).map(|_| {
        env.post(
            &depts,
            Some(&t.owner_token),
            json!({"name": "Same", "parent_id": parent}),
        )
    });
    let answers = join_all(same).await;
    assert_eq!(
        answers.iter().filter(|a| a.status.as_u16() == 201).count(),
        1
    );
    assert!(
        answers
            .iter()
            .all(|a| [201, 409].contains(&a.status.as_u16()))
    );

    // Ten distinct children while the parent is renamed: the children all land, the counter
    // counts them, and the rename does not overwrite it.
    let children = (0..10).map(|i| {
        env.post(
            &depts,
            Some(&t.owner_token),
            json!({"name": format!("Child {i}"), "parent_id": parent}),
        )
    });
    let parent_path = format!("{depts}/{parent}");
    let rename = env.patch(&parent_path, &t.owner_token, json!({"name": "Renamed"}));
    let (answers, renamed) = tokio::join!(join_all(children), rename);
    let created = answers.iter().filter(|a| a.status.as_u16() == 201).count();
    assert!(
        answers
            .iter()
            .all(|a| [201, 409].contains(&a.status.as_u16()))
    );
    assert!([200, 409].contains(&renamed.status.as_u16()));
    let now = env.get(&format!("{depts}/{parent}"), &t.owner_token).await;
    assert_eq!(now.ok(200)["child_count"], created as u64 + 1);
    // Every child's path agrees with its parent's name.
    let tree = env.get(&format!("{depts}?limit=200"), &t.owner_token).await;
    let parent_path = now.body["path"].as_str().unwrap();
    for d in tree.ok(200)["items"].as_array().unwrap() {
        if d["parent_id"] == parent.as_str() {
            assert_eq!(
                d["path"],
                format!("{parent_path}/{}", d["name"].as_str().unwrap())
            );
        }
    }
    env.assert_consistent().await;
}
