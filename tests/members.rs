//! Members: creation (mail, uniqueness, quota, concurrency), detail and edits with If-Match, the
//! last-owner rule, lockout, the recycle bin, the directory and search, and tenant isolation.

use futures::future::join_all;
use reqwest::Method;
use roster_shared::app::Clock;
use roster_tests::{Answer, Env, Tenant, id, own_password, unique};
use serde_json::{Value, json};

async fn add(env: &Env, t: &Tenant, body: Value) -> Answer {
    env.post(
        &format!("/v1/tenants/{}/members", t.id),
        Some(&t.owner_token),
        body,
    )
    .await
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_member_is_created_mailed_and_signs_in() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Members Co").await;
    let email = format!("{}@members.test", unique("mia"));
    let created = add(
        &env,
        &t,
        json!({"email": format!(" {} ", email.to_uppercase()), "name": "Mia Müller", "department_id": t.root,
               "position": "Engineer", "work_number": "E-7", "location": "Berlin", "phone": "+49 30 1234",
               "directory_number": 5}),
    )
    .await;
    let m = created.ok(201).clone();
    assert_eq!(m["email"], email.as_str());
    assert_eq!(m["role"], "member");
    assert_eq!(m["status"], "active");
    assert_eq!(m["source"], "console");
    assert_eq!(m["licence"], Value::Null);
    assert!(created.headers.get("etag").is_some());

    // The set-password link in the mail works, and the member signs in.
    let token = env.link_token(&email).await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "mia-password-1"}),
    )
    .await
    .ok(204);
    let mia = env.login(&email, "mia-password-1", Some(&t.id)).await;
    // A plain member reads the directory and a member, and changes nothing.
    let path = format!("/v1/tenants/{}/members", t.id);
    assert_eq!(names(env.get(&path, &mia).await.ok(200)).len(), 2);
    env.get(&format!("{path}/{}", id(&m)), &mia).await.ok(200);
    env.post(
        &path,
        Some(&mia),
        json!({"email": "x@y.test", "name": "X", "department_id": t.root}),
    )
    .await
    .problem(403, "forbidden");
    env.patch(
        &format!("{path}/{}", id(&m)),
        &mia,
        json!({"position": "CEO"}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(env.tenant_view(&t).await["member_count"], 2);

    // Random-password mode mails a password instead of a link.
    env.set_settings(&t, json!({"new_member_password": "random_password_mail"}))
        .await;
    let rita = format!("{}@members.test", unique("rita"));
    add(
        &env,
        &t,
        json!({"email": rita, "name": "Rita", "department_id": t.root}),
    )
    .await
    .ok(201);
    let (_, body) = env.mails_to(&rita).await.pop().expect("mail");
    let start = body.find("<code>").expect("password") + "<code>".len();
    let password = &body[start..body.find("</code>").unwrap()];
    // A mailed password is not a single-use link: the address is proven at first sign-in.
    env.prove_and_sign_in(&rita, password, Some(&t.id)).await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn emails_are_unique_per_tenant_whatever_their_case_and_concurrency() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Unique").await;
    let email = format!("{}@unique.test", unique("dup"));
    add(
        &env,
        &t,
        json!({"email": email, "name": "First", "department_id": t.root}),
    )
    .await
    .ok(201);
    add(
        &env,
        &t,
        json!({"email": email.to_uppercase(), "name": "Second", "department_id": t.root}),
    )
    .await
    .problem(409, "conflict");
    add(&env, &t, json!({"email": t.owner_email.to_uppercase(), "name": "Owner again", "department_id": t.root}))
        .await
        .problem(409, "conflict");

    // Twenty creates of one new email at once: exactly one member, one user.
    let racer = format!("{}@unique.test", unique("racer"));
    let answers = join_all((0..20).map(|i| {
        add(
            &env,
            &t,
            json!({"email": racer, "name": format!("Racer {i}"), "department_id": t.root}),
        )
    }))
    .await;
    let won = answers.iter().filter(|a| a.status.as_u16() == 201).count();
    assert_eq!(
        won,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|a| [201, 409].contains(&a.status.as_u16()))
    );
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q={}", t.id, &racer[..10]),
            &t.owner_token,
        )
        .await;
    assert_eq!(names(found.ok(200)).len(), 1);
    assert_eq!(env.tenant_view(&t).await["member_count"], 3);

    // The same person may join another tenant: the user is reused.
    let other = env.tenant_with_owner("Other").await;
    let again = add(
        &env,
        &other,
        json!({"email": email, "name": "First", "department_id": other.root}),
    )
    .await;
    let first = env
        .get(
            &format!("/v1/tenants/{}/members?q={email}", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(
        again.ok(201)["user_id"],
        first.ok(200)["items"][0]["user_id"]
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn the_member_quota_holds_under_concurrency() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Quota").await;
    env.set_limits(&t, json!({"member_quota": 5})).await;
    // The owner is one of five: ten concurrent creates leave exactly four more.
    let answers = join_all((0..10).map(|i| {
        add(&env, &t, json!({"email": format!("{}@quota.test", unique("q")), "name": format!("Q {i}"), "department_id": t.root}))
    }))
    .await;
    let created = answers.iter().filter(|a| a.status.as_u16() == 201).count();
    assert_eq!(created, 4);
    for a in answers.iter().filter(|a| a.status.as_u16() != 201) {
        assert!(
            ["quota_exceeded", "conflict"].contains(&a.body["code"].as_str().unwrap()),
            "{:?}",
            a.body
        );
    }
    add(
        &env,
        &t,
        json!({"email": "late@quota.test", "name": "Late", "department_id": t.root}),
    )
    .await
    .problem(409, "quota_exceeded");
    assert_eq!(env.tenant_view(&t).await["member_count"], 5);
    env.assert_consistent().await;
}

#[tokio::test]
async fn edits_honour_if_match_roles_and_the_last_owner() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Edits").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let sales = env.department_in(&t, "Sales").await;
    let m = add(&env, &t, json!({"email": format!("{}@e.test", unique("ed")), "name": "Ed", "department_id": t.root, "password": "ed-password-12"}))
        .await
        .ok(201)
        .clone();
    let path = format!("/v1/tenants/{}/members/{}", t.id, id(&m));
    let etag = env.get(&path, &t.owner_token).await.headers["etag"]
        .to_str()
        .unwrap()
        .to_string();

    let send = |tag: &str, body: Value| {
        env.http
            .request(Method::PATCH, format!("{}{}", env.base, path))
            .bearer_auth(&t.owner_token)
            .header("if-match", tag)
            .json(&body)
            .send()
    };
    let moved = Env::answer(send(&etag, json!({"department_id": sales, "position": "Lead", "role": "admin",
                                                "permissions": ["members.read", "departments.write"]})).await.unwrap()).await;
    assert_eq!(moved.ok(200)["department_id"], sales.as_str());
    assert_eq!(
        moved.body["permissions"],
        json!(["members.read", "departments.write"])
    );
    // The old tag is stale now.
    Env::answer(send(&etag, json!({"position": "Boss"})).await.unwrap())
        .await
        .problem(412, "precondition_failed");
    // Personal fields are not editable here.
    env.patch(&path, &t.owner_token, json!({"name": "Edward"}))
        .await
        .problem(400, "validation_failed");
    env.patch(&path, &t.owner_token, json!({"email": "e@e.test"}))
        .await
        .problem(400, "validation_failed");
    env.patch(&path, &t.owner_token, json!({"directory_number": 0}))
        .await
        .problem(400, "validation_failed");
    env.patch(&path, &t.owner_token, json!({"status": "deleted"}))
        .await
        .problem(400, "validation_failed");
    // Department counts follow the member.
    let sales_now = env.get(&format!("{depts}/{sales}"), &t.owner_token).await;
    assert_eq!(sales_now.ok(200)["member_count"], 1);
    env.delete(&format!("{depts}/{sales}"), &t.owner_token)
        .await
        .problem(409, "department_not_empty");

    // An admin with departments.write cannot grant what it lacks, nor touch owners.
    let ed = env
        .prove_and_sign_in(m["email"].as_str().unwrap(), "ed-password-12", Some(&t.id))
        .await;
    let me = env.get("/v1/me", &t.owner_token).await;
    let owner_member = me.ok(200)["current"]["member_id"]
        .as_str()
        .unwrap()
        .to_string();
    let owner_path = format!("/v1/tenants/{}/members/{owner_member}", t.id);
    env.patch(&owner_path, &ed, json!({"position": "x"}))
        .await
        .problem(403, "forbidden");

    // The last owner can be neither demoted, disabled nor deleted.
    env.patch(&owner_path, &t.owner_token, json!({"role": "admin"}))
        .await
        .problem(409, "conflict");
    env.patch(&owner_path, &t.owner_token, json!({"status": "disabled"}))
        .await
        .problem(409, "conflict");
    env.delete(&owner_path, &t.owner_token)
        .await
        .problem(409, "conflict");
    // With a second owner, the first may step down.
    env.patch(&path, &t.owner_token, json!({"role": "owner"}))
        .await
        .ok(200);
    env.patch(&owner_path, &t.owner_token, json!({"role": "admin"}))
        .await
        .ok(200);
    let tenant = env.get(&format!("/v1/tenants/{}", t.id), &ed).await;
    assert_eq!(tenant.ok(200)["member_count"], 2);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_disabled_member_is_locked_out_at_once() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Lock").await;
    let email = format!("{}@lock.test", unique("lou"));
    let m = add(&env, &t, json!({"email": email, "name": "Lou", "department_id": t.root, "password": "lou-password-1"}))
        .await
        .ok(201)
        .clone();
    let lou = env
        .prove_and_sign_in(&email, "lou-password-1", Some(&t.id))
        .await;
    let dir = format!("/v1/tenants/{}/members", t.id);
    env.get(&dir, &lou).await.ok(200);
    let path = format!("{dir}/{}", id(&m));
    env.patch(&path, &t.owner_token, json!({"status": "disabled"}))
        .await
        .ok(200);
    env.get(&dir, &lou).await.problem(403, "account_disabled");
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": own_password("lou-password-1"), "tenant_id": t.id}),
    )
    .await
    .problem(403, "account_disabled");
    env.patch(&path, &t.owner_token, json!({"status": "active"}))
        .await
        .ok(200);
    // Enabled again: the session the disable ended stays ended (SPEC §8.1); a new one works.
    env.get(&dir, &lou).await.problem(401, "unauthorized");
    let lou = env
        .login(&email, &own_password("lou-password-1"), Some(&t.id))
        .await;
    env.get(&dir, &lou).await.ok(200);
    // Deleted: the token stops working too.
    env.delete(&path, &t.owner_token).await.ok(204);
    env.get(&dir, &lou).await.problem(401, "unauthorized");
    env.assert_consistent().await;
}

#[tokio::test]
async fn the_recycle_bin_keeps_deleted_members_until_purge() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Bin").await;
    let ops = env.department_in(&t, "Ops").await;
    let email = format!("{}@bin.test", unique("bea"));
    let m = add(
        &env,
        &t,
        json!({"email": email, "name": "Bea Bin", "department_id": ops, "role": "admin",
                                 "permissions": ["members.read"], "position": "Ops lead"}),
    )
    .await
    .ok(201)
    .clone();
    let path = format!("/v1/tenants/{}/members/{}", t.id, id(&m));
    env.delete(&path, &t.owner_token).await.ok(204);
    env.get(&path, &t.owner_token)
        .await
        .problem(404, "not_found");
    // Out of the directory, search and the department; the department can go.
    let dir = env
        .get(
            &format!("/v1/tenants/{}/members?q=bea", t.id),
            &t.owner_token,
        )
        .await;
    assert!(names(dir.ok(200)).is_empty());
    assert_eq!(env.tenant_view(&t).await["member_count"], 1);
    // Adding the email again while it is in the bin is refused: restore it instead (the
    // answer names the member, as an invitation's does).
    add(
        &env,
        &t,
        json!({"email": email, "name": "Bea", "department_id": t.root}),
    )
    .await
    .problem(409, "previously_removed");

    let bin = env
        .get(&format!("/v1/tenants/{}/recycle-bin", t.id), &t.owner_token)
        .await;
    let entry = &bin.ok(200)["items"][0];
    assert_eq!(entry["id"], m["id"]);
    let deleted_at = time::OffsetDateTime::parse(
        entry["deleted_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let purge_at = time::OffsetDateTime::parse(
        entry["purge_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(purge_at - deleted_at, time::Duration::days(30));

    let restore = format!("/v1/tenants/{}/recycle-bin/{}/restore", t.id, id(&m));
    env.post(&restore, Some(&t.owner_token), json!({}))
        .await
        .problem(400, "validation_failed");
    env.post(
        &restore,
        Some(&t.owner_token),
        json!({"department_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(400, "validation_failed");
    let restored = env
        .post(
            &restore,
            Some(&t.owner_token),
            json!({"department_id": t.root}),
        )
        .await;
    let r = restored.ok(200);
    assert_eq!(r["status"], "active");
    assert_eq!(r["role"], "admin");
    assert_eq!(r["permissions"], json!(["members.read"]));
    assert_eq!(r["position"], "Ops lead");
    assert_eq!(r["department_id"], t.root.as_str());
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q=bea", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(names(found.ok(200)), vec!["Bea Bin"]);
    env.post(
        &restore,
        Some(&t.owner_token),
        json!({"department_id": t.root}),
    )
    .await
    .problem(404, "not_found");

    // Past purge_at the entry is gone, even before DynamoDB's TTL removes it.
    env.delete(&path, &t.owner_token).await.ok(204);
    clock.advance(31 * 24 * 3600);
    let owner = env.owner_login(&t).await;
    let bin = env
        .get(&format!("/v1/tenants/{}/recycle-bin", t.id), &owner)
        .await;
    assert!(bin.ok(200)["items"].as_array().unwrap().is_empty());
    env.post(&restore, Some(&owner), json!({"department_id": t.root}))
        .await
        .problem(404, "not_found");
    env.assert_consistent().await;
}

#[tokio::test]
async fn directory_order_search_and_filters() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Directory").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let sales = env.department_in(&t, "Sales").await;
    let emea = env.department_under(&t, "EMEA", &sales).await;
    let people = [
        ("Zoé Zimmer", 1, &emea),
        ("Adam Alpha", 3, &sales),
        ("Bruno Beta", 3, &t.root),
        ("Ángel Ávila", 2, &emea),
        ("Carla Core", 10000, &t.root),
    ];
    for (name, number, dept) in people {
        let email = format!(
            "{}@dir.test",
            unique(&name.split(' ').next().unwrap().to_lowercase())
        );
        add(&env, &t, json!({"email": email, "name": name, "department_id": dept, "directory_number": number}))
            .await
            .ok(201);
    }
    let base = format!("/v1/tenants/{}/members", t.id);
    // Directory: directory number, then name (accents folded).
    let dir = env.get(&base, &t.owner_token).await;
    assert_eq!(
        names(dir.ok(200)),
        vec![
            "Zoé Zimmer",
            "Ángel Ávila",
            "Adam Alpha",
            "Bruno Beta",
            "Carla Core",
            "Olive Owner"
        ]
    );
    let by_name = env.get(&format!("{base}?sort=name"), &t.owner_token).await;
    assert_eq!(
        names(by_name.ok(200)),
        vec![
            "Adam Alpha",
            "Ángel Ávila",
            "Bruno Beta",
            "Carla Core",
            "Olive Owner",
            "Zoé Zimmer"
        ]
    );
    // Pages follow the same order.
    let first = env.get(&format!("{base}?limit=2"), &t.owner_token).await;
    assert_eq!(names(first.ok(200)), vec!["Zoé Zimmer", "Ángel Ávila"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = env
        .get(&format!("{base}?limit=2&cursor={cursor}"), &t.owner_token)
        .await;
    assert_eq!(names(second.ok(200)), vec!["Adam Alpha", "Bruno Beta"]);

    // Search: prefix of any name word or of the email, any case, accents folded.
    for (q, expected) in [
        ("ANG", vec!["Ángel Ávila"]),
        ("avi", vec!["Ángel Ávila"]),
        ("zim", vec!["Zoé Zimmer"]),
        ("zoe", vec!["Zoé Zimmer"]),
        ("bruno-", vec!["Bruno Beta"]),
        ("nobody", vec![]),
    ] {
        let found = env.get(&format!("{base}?q={q}"), &t.owner_token).await;
        assert_eq!(names(found.ok(200)), expected, "q={q}");
    }
    // Department filters, with and without descendants.
    let in_sales = env
        .get(&format!("{base}?department_id={sales}"), &t.owner_token)
        .await;
    assert_eq!(names(in_sales.ok(200)), vec!["Adam Alpha"]);
    let mut subtree = names(
        env.get(
            &format!("{base}?department_id={sales}&include_descendants=true"),
            &t.owner_token,
        )
        .await
        .ok(200),
    );
    subtree.sort();
    assert_eq!(subtree, vec!["Adam Alpha", "Zoé Zimmer", "Ángel Ávila"]);
    let searched = env
        .get(
            &format!("{base}?q=a&department_id={sales}&include_descendants=true"),
            &t.owner_token,
        )
        .await;
    let mut searched = names(searched.ok(200));
    searched.sort();
    assert_eq!(searched, vec!["Adam Alpha", "Ángel Ávila"]);
    let owners = env.get(&format!("{base}?role=owner"), &t.owner_token).await;
    assert_eq!(names(owners.ok(200)), vec!["Olive Owner"]);
    // Moving EMEA under the root carries its members' subtree keys along.
    env.patch(
        &format!("{depts}/{emea}"),
        &t.owner_token,
        json!({"parent_id": t.root}),
    )
    .await
    .ok(200);
    let after_move = env
        .get(
            &format!("{base}?department_id={sales}&include_descendants=true"),
            &t.owner_token,
        )
        .await;
    assert_eq!(names(after_move.ok(200)), vec!["Adam Alpha"]);
    let emea_now = env
        .get(
            &format!("{base}?department_id={emea}&include_descendants=true"),
            &t.owner_token,
        )
        .await;
    assert_eq!(names(emea_now.ok(200)).len(), 2);

    for bad in [
        "sort=age",
        "status=deleted",
        "role=king",
        "department_id=nope",
        "include_descendants=yes",
    ] {
        env.get(&format!("{base}?{bad}"), &t.owner_token)
            .await
            .problem(400, "validation_failed");
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn another_tenants_member_ids_answer_404() {
    let env = Env::start().await;
    let a = env.tenant_with_owner("A").await;
    let b = env.tenant_with_owner("B").await;
    let bm = add(&env, &b, json!({"email": format!("{}@b.test", unique("bob")), "name": "Bob", "department_id": b.root}))
        .await
        .ok(201)
        .clone();
    let bm = id(&bm);
    let tok = &a.owner_token;
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/v1/tenants/{}/members/{bm}", a.id),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/tenants/{}/members/{bm}", a.id),
            Some(json!({"position": "x"})),
        ),
        (
            Method::DELETE,
            format!("/v1/tenants/{}/members/{bm}", a.id),
            None,
        ),
        (
            Method::POST,
            format!("/v1/tenants/{}/recycle-bin/{bm}/restore", a.id),
            Some(json!({"department_id": a.root})),
        ),
        (
            Method::GET,
            format!("/v1/tenants/{}/members/{bm}", b.id),
            None,
        ),
        (Method::GET, format!("/v1/tenants/{}/members", b.id), None),
        (
            Method::POST,
            format!("/v1/tenants/{}/members", b.id),
            Some(json!({"email": "z@z.test", "name": "Z", "department_id": b.root})),
        ),
        (
            Method::GET,
            format!("/v1/tenants/{}/recycle-bin", b.id),
            None,
        ),
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
    // A search in A never shows B's members; B's member is untouched.
    let found = env
        .get(&format!("/v1/tenants/{}/members?q=bob", a.id), tok)
        .await;
    assert!(names(found.ok(200)).is_empty());
    env.get(
        &format!("/v1/tenants/{}/members/{bm}", b.id),
        &b.owner_token,
    )
    .await
    .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn member_requests_are_pinned() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Counts").await;
    let base = format!("/v1/tenants/{}/members", t.id);
    let (created, n) = env
        .count(add(&env, &t, json!({"email": format!("{}@c.test", unique("cy")), "name": "Cy Count", "department_id": t.root})))
        .await;
    let m = id(created.ok(201));
    assert_eq!(n, 2, "create member");
    let (a, n) = env
        .count(env.get(&format!("{base}/{m}"), &t.owner_token))
        .await;
    a.ok(200);
    assert_eq!(n, 1, "get member");
    let (a, n) = env
        .count(env.patch(
            &format!("{base}/{m}"),
            &t.owner_token,
            json!({"position": "Counter"}),
        ))
        .await;
    a.ok(200);
    assert_eq!(n, 2, "patch member");
    let (a, n) = env
        .count(env.get(&format!("{base}?q=cy"), &t.owner_token))
        .await;
    assert_eq!(names(a.ok(200)), vec!["Cy Count"]);
    assert_eq!(n, 3, "search page");
    let (a, n) = env.count(env.get(&base, &t.owner_token)).await;
    a.ok(200);
    assert_eq!(n, 2, "directory page");
    let (a, n) = env
        .count(env.delete(&format!("{base}/{m}"), &t.owner_token))
        .await;
    a.ok(204);
    assert_eq!(n, 2, "delete member");
    env.assert_consistent().await;
}

async fn seed(env: &Env, t: &Tenant, n: usize, dept: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for batch in (0..n).collect::<Vec<_>>().chunks(25) {
        let answers = join_all(batch.iter().map(|i| {
            add(env, t, json!({"email": format!("{}-{i}@bulk.test", unique("b")), "name": format!("Bulk {i:04}"), "department_id": dept}))
        }))
        .await;
        ids.extend(answers.iter().map(|a| id(a.ok(201))));
    }
    ids
}

#[tokio::test]
async fn bulk_status_of_250_is_all_or_nothing_and_counted() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Bulk").await;
    env.set_limits(&t, json!({"member_quota": 1000})).await;
    let ids = seed(&env, &t, 250, &t.root).await;
    let path = format!("/v1/tenants/{}/members/bulk-status", t.id);

    // One unknown id: nothing changes, and the failing id is named.
    let mut with_bad = ids.clone();
    let ghost = uuid::Uuid::now_v7().to_string();
    with_bad.insert(17, ghost.clone());
    let refused = env
        .post(
            &path,
            Some(&t.owner_token),
            json!({"member_ids": with_bad, "status": "disabled"}),
        )
        .await;
    refused.problem(400, "validation_failed");
    assert_eq!(refused.body["errors"].as_array().unwrap().len(), 1);
    assert_eq!(refused.body["errors"][0]["field"], "member_ids[17]");
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&ghost)
    );
    let active = env
        .get(
            &format!("/v1/tenants/{}/members?status=disabled", t.id),
            &t.owner_token,
        )
        .await;
    assert!(names(active.ok(200)).is_empty());

    let (done, n) = env
        .count(env.post(
            &path,
            Some(&t.owner_token),
            json!({"member_ids": ids, "status": "disabled"}),
        ))
        .await;
    assert_eq!(done.ok(200)["updated"], 250);
    // 253 keys (caller, tenant, 250 members... ) in 3 batched reads, 250 updates in 3 transactions
    // (under injected faults, retried attempts add to the count).
    if !roster_tests::under_faults() {
        assert_eq!(n, 6, "bulk-status of 250: {:?}", env.counter.by_operation());
    }
    let disabled = env
        .get(
            &format!("/v1/tenants/{}/members?status=disabled&limit=200", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(names(disabled.ok(200)).len(), 200);
    // Again: nothing left to change.
    let again = env
        .post(
            &path,
            Some(&t.owner_token),
            json!({"member_ids": ids, "status": "disabled"}),
        )
        .await;
    assert_eq!(again.ok(200)["updated"], 0);

    // The last owner stays active.
    let me = env.get("/v1/me", &t.owner_token).await;
    let owner = me.ok(200)["current"]["member_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.post(
        &path,
        Some(&t.owner_token),
        json!({"member_ids": [owner], "status": "disabled"}),
    )
    .await
    .problem(409, "conflict");
    for bad in [
        json!({"member_ids": [], "status": "disabled"}),
        json!({"member_ids": ids, "status": "deleted"}),
        json!({"member_ids": vec![ids[0].clone(); 1001], "status": "active"}),
    ] {
        env.post(&path, Some(&t.owner_token), bad)
            .await
            .problem(400, "validation_failed");
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn bulk_update_sets_only_three_fields() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("BulkEdit").await;
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let north = env.department_in(&t, "North").await;
    let ids = seed(&env, &t, 5, &t.root).await;
    let path = format!("/v1/tenants/{}/members/bulk-update", t.id);
    for bad in [
        json!({"member_ids": ids, "set": {"role": "admin"}}),
        json!({"member_ids": ids, "set": {"directory_number": 1}}),
        json!({"member_ids": ids, "set": {}}),
        json!({"member_ids": ids, "set": {"department_id": uuid::Uuid::now_v7()}}),
    ] {
        env.post(&path, Some(&t.owner_token), bad)
            .await
            .problem(400, "validation_failed");
    }
    let done = env
        .post(&path, Some(&t.owner_token), json!({"member_ids": ids, "set": {"department_id": north, "position": "Rep", "location": "Oslo"}}))
        .await;
    assert_eq!(done.ok(200)["updated"], 5);
    let north_now = env.get(&format!("{depts}/{north}"), &t.owner_token).await;
    assert_eq!(north_now.ok(200)["member_count"], 5);
    let root_now = env
        .get(&format!("{depts}/{}", t.root), &t.owner_token)
        .await;
    assert_eq!(root_now.ok(200)["member_count"], 1);
    let listed = env
        .get(
            &format!("/v1/tenants/{}/members?department_id={north}", t.id),
            &t.owner_token,
        )
        .await;
    for m in listed.ok(200)["items"].as_array().unwrap() {
        assert_eq!(m["position"], "Rep");
        assert_eq!(m["location"], "Oslo");
    }
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 5);
    let cleared = env
        .post(
            &path,
            Some(&t.owner_token),
            json!({"member_ids": ids, "set": {"location": null}}),
        )
        .await;
    assert_eq!(cleared.ok(200)["updated"], 5);
    let one = env
        .get(
            &format!("/v1/tenants/{}/members/{}", t.id, ids[0]),
            &t.owner_token,
        )
        .await;
    assert_eq!(one.ok(200)["location"], Value::Null);
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_admin_sends_a_single_use_reset_link() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Resets").await;
    let email = format!("{}@reset.test", unique("rex"));
    let m = add(&env, &t, json!({"email": email, "name": "Rex", "department_id": t.root, "password": "rex-password-1"}))
        .await
        .ok(201)
        .clone();
    let path = format!("/v1/tenants/{}/members/{}/reset-password", t.id, id(&m));
    env.post(&path, Some(&t.owner_token), json!({}))
        .await
        .ok(204);
    let token = env.link_token(&email).await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "rex-password-2"}),
    )
    .await
    .ok(204);
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": "rex-password-3"}),
    )
    .await
    .problem(400, "validation_failed");
    env.login(&email, "rex-password-2", Some(&t.id)).await;
    let other = env.tenant_with_owner("Other resets").await;
    env.post(
        &format!("/v1/tenants/{}/members/{}/reset-password", other.id, id(&m)),
        Some(&other.owner_token),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    env.assert_consistent().await;
}

#[tokio::test]
async fn purged_members_free_their_email() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Purge").await;
    env.set_settings(&t, json!({"recycle_bin_retention_days": 1}))
        .await;
    let email = format!("{}@purge.test", unique("pat"));
    let first = id(add(
        &env,
        &t,
        json!({"email": email, "name": "Pat", "department_id": t.root}),
    )
    .await
    .ok(201));
    let second_email = format!("{}@purge.test", unique("sam"));
    let second = id(add(
        &env,
        &t,
        json!({"email": second_email, "name": "Sam", "department_id": t.root}),
    )
    .await
    .ok(201));
    env.delete(
        &format!("/v1/tenants/{}/members/{first}", t.id),
        &t.owner_token,
    )
    .await
    .ok(204);
    env.delete(
        &format!("/v1/tenants/{}/members/{second}", t.id),
        &t.owner_token,
    )
    .await
    .ok(204);

    // Not yet due: the job leaves the bin alone.
    let report = roster_shared::members::purge::run(env.app).await.unwrap();
    assert_eq!(report.purged, 0);
    clock.advance(2 * 24 * 3600);
    let owner = env.owner_login(&t).await;
    // Past purge_at the email is free even before the job runs (DynamoDB's TTL is late)...
    let again = add(
        &env,
        &Tenant {
            owner_token: owner.clone(),
            ..t.clone()
        },
        json!({"email": email, "name": "Pat again", "department_id": t.root}),
    )
    .await;
    let again = id(again.ok(201));
    // ...and the job removes both entries without touching the new member's guard.
    let report = roster_shared::members::purge::run(env.app).await.unwrap();
    assert_eq!((report.purged, report.skipped), (2, 0));
    let report = roster_shared::members::purge::run(env.app).await.unwrap();
    assert_eq!((report.purged, report.skipped), (0, 0));
    env.get(&format!("/v1/tenants/{}/members/{again}", t.id), &owner)
        .await
        .ok(200);
    let tenant = Tenant {
        owner_token: owner.clone(),
        ..t.clone()
    };
    add(
        &env,
        &tenant,
        json!({"email": email, "name": "Pat thrice", "department_id": t.root}),
    )
    .await
    .problem(409, "conflict");
    add(
        &env,
        &tenant,
        json!({"email": second_email, "name": "Sam again", "department_id": t.root}),
    )
    .await
    .ok(201);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_users_new_name_follows_into_every_membership() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Names").await;
    let u = env.tenant_with_owner("Names Two").await;
    let email = format!("{}@names.test", unique("nia"));
    add(&env, &t, json!({"email": email, "name": "Nia Old", "department_id": t.root, "password": "nia-password-1"})).await.ok(201);
    // Proven before the second tenant attaches the address (an unproven one would lose its
    // password to the attach).
    let nia = env
        .prove_and_sign_in(&email, "nia-password-1", Some(&t.id))
        .await;
    add(
        &env,
        &u,
        json!({"email": email, "name": "Nia Old", "department_id": u.root}),
    )
    .await
    .ok(201);
    env.patch(
        "/v1/me",
        &nia,
        json!({"name": "Nia Nouvelle", "phone": "+33 6 00"}),
    )
    .await
    .ok(200);
    for tenant in [&t, &u] {
        let found = env
            .get(
                &format!("/v1/tenants/{}/members?q=nouv", tenant.id),
                &tenant.owner_token,
            )
            .await;
        assert_eq!(names(found.ok(200)), vec!["Nia Nouvelle"]);
        assert_eq!(found.body["items"][0]["phone"], "+33 6 00");
        let old = env
            .get(
                &format!("/v1/tenants/{}/members?q=old", tenant.id),
                &tenant.owner_token,
            )
            .await;
        assert!(names(old.ok(200)).is_empty());
        let still = env
            .get(
                &format!("/v1/tenants/{}/members?q=nia", tenant.id),
                &tenant.owner_token,
            )
            .await;
        assert_eq!(names(still.ok(200)), vec!["Nia Nouvelle"]);
        let by_name = env
            .get(
                &format!("/v1/tenants/{}/members?sort=name", tenant.id),
                &tenant.owner_token,
            )
            .await;
        assert_eq!(names(by_name.ok(200))[0], "Nia Nouvelle");
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn members_sort_by_last_sign_in() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Recent").await;
    let mut emails = Vec::new();
    for name in ["Ann Early", "Ben Late", "Cid Never"] {
        let email = format!("{}@recent.test", unique(&name[..3].to_lowercase()));
        add(&env, &t, json!({"email": email, "name": name, "department_id": t.root, "password": "recent-password-1"}))
            .await
            .ok(201);
        emails.push(email);
    }
    clock.advance(60);
    env.prove_and_sign_in(&emails[0], "recent-password-1", Some(&t.id))
        .await;
    clock.advance(60);
    env.prove_and_sign_in(&emails[1], "recent-password-1", Some(&t.id))
        .await;
    clock.advance(60);
    let owner = env.owner_login(&t).await;
    let sorted = env
        .get(
            &format!("/v1/tenants/{}/members?sort=last_login_at", t.id),
            &owner,
        )
        .await;
    assert_eq!(
        names(sorted.ok(200)),
        vec!["Olive Owner", "Ben Late", "Ann Early", "Cid Never"]
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_user_changes_their_email_with_their_password() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Emails").await;
    let old = format!("{}@old.test", unique("eve"));
    let new = format!("{}@new.test", unique("eve"));
    add(
        &env,
        &t,
        json!({"email": old, "name": "Eve", "department_id": t.root, "password": "eve-password-1"}),
    )
    .await
    .ok(201);
    let eve = env
        .prove_and_sign_in(&old, "eve-password-1", Some(&t.id))
        .await;
    env.patch("/v1/me", &eve, json!({"email": new}))
        .await
        .problem(400, "validation_failed");
    env.patch(
        "/v1/me",
        &eve,
        json!({"email": new, "current_password": "wrong-password"}),
    )
    .await
    .problem(400, "validation_failed");
    // Another account's address: asked for like any (the answer tells nothing), refused when
    // applied.
    env.patch(
        "/v1/me",
        &eve,
        json!({"email": t.owner_email, "current_password": own_password("eve-password-1")}),
    )
    .await
    .ok(202);
    let taken = env.link_token_for(&t.owner_email, "confirm-email").await;
    env.post("/v1/me/email/confirm", Some(&eve), json!({"token": taken}))
        .await
        .problem(409, "conflict");
    let changed = env
        .patch(
            "/v1/me",
            &eve,
            json!({"email": new.to_uppercase(), "current_password": own_password("eve-password-1")}),
        )
        .await;
    assert_eq!(changed.ok(202)["pending_email"], new.as_str());
    assert_eq!(changed.body["user"]["email"], old.as_str());
    let link = env.link_token_for(&new, "confirm-email").await;
    let confirmed = env
        .post("/v1/me/email/confirm", Some(&eve), json!({"token": link}))
        .await;
    assert_eq!(confirmed.ok(200)["user"]["email"], new.as_str());
    assert_eq!(confirmed.body["user"]["email_verified"], true);
    env.login(&new, &own_password("eve-password-1"), Some(&t.id))
        .await;
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": old, "password": own_password("eve-password-1")}),
    )
    .await
    .problem(401, "unauthorized");
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q={new}", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(found.ok(200)["items"][0]["email"], new.as_str());
    let gone = env
        .get(
            &format!("/v1/tenants/{}/members?q={old}", t.id),
            &t.owner_token,
        )
        .await;
    assert!(names(gone.ok(200)).is_empty());
    // The old email is free for someone else now.
    add(
        &env,
        &t,
        json!({"email": old, "name": "Other Eve", "department_id": t.root}),
    )
    .await
    .ok(201);
    env.assert_consistent().await;
}

/// Every word of a long name finds its member, and so does the email.
#[tokio::test]
async fn a_long_name_is_found_by_every_word_and_the_email() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Longnames").await;
    let name = "Zoë de la Cruz y Álvarez Montenegro Bernadotte af Wisborg van der Zwaan";
    let email = format!("{}@long.test", unique("zoecruz"));
    let created = add(
        &env,
        &t,
        json!({"email": email, "name": name, "department_id": t.root}),
    )
    .await
    .ok(201)
    .clone();
    let member = id(&created);
    let base = format!("/v1/tenants/{}/members", t.id);
    let found = |q: String| {
        let env = &env;
        let token = t.owner_token.clone();
        let url = format!("{base}?q={q}");
        async move {
            env.get(&url, &token).await.ok(200)["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(id)
                .collect::<Vec<_>>()
        }
    };
    // Before, the terms were sorted and cut to eight: "zwaan", "wisborg", "van" and the email
    // (sorted after seven name words) found nobody.
    for q in [
        "zoe",
        "cruz",
        "montenegro",
        "wisborg",
        "van",
        "zwaa",
        "alvarez",
    ] {
        assert_eq!(found(q.to_string()).await, vec![member.clone()], "q={q}");
    }
    assert_eq!(found(email[..12].to_string()).await, vec![member.clone()]);
    env.assert_consistent().await;
}

/// Small frictions a client meets: `"permissions": []` with a plain role means none (accepted
/// on create, invite and edit), and creating an address whose member is in the recycle bin
/// answers as an invitation does, `previously_removed` with the member to restore.
#[tokio::test]
async fn an_empty_permission_list_and_a_removed_address_answer_as_a_client_expects() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Frictions").await;
    let email = format!("{}@frictions.test", unique("ezra"));
    let created = add(
        &env,
        &t,
        json!({"email": email, "name": "Ezra", "department_id": t.root, "role": "member",
               "permissions": []}),
    )
    .await;
    let member = id(created.ok(201));
    assert_eq!(created.body["permissions"], json!([]));
    // Still refused: a real permission for a plain member.
    add(
        &env,
        &t,
        json!({"email": format!("{}@frictions.test", unique("fay")), "name": "Fay",
               "department_id": t.root, "role": "member", "permissions": ["audit.read"]}),
    )
    .await
    .problem(400, "validation_failed");
    let invited = env
        .post(
            &format!("/v1/tenants/{}/invitations", t.id),
            Some(&t.owner_token),
            json!({"email": format!("{}@frictions.test", unique("gil")), "department_id": t.root,
                   "role": "member", "permissions": []}),
        )
        .await;
    invited.ok(201);
    let path = format!("/v1/tenants/{}/members/{member}", t.id);
    env.patch(&path, &t.owner_token, json!({"permissions": []}))
        .await
        .ok(200);

    env.delete(&path, &t.owner_token).await.ok(204);
    let again = add(
        &env,
        &t,
        json!({"email": email, "name": "Ezra again", "department_id": t.root}),
    )
    .await;
    again.problem(409, "previously_removed");
    assert_eq!(again.body["member_id"], member.as_str());
    // Restored, the address is a member again: a plain conflict.
    env.post(
        &format!("/v1/tenants/{}/recycle-bin/{member}/restore", t.id),
        Some(&t.owner_token),
        json!({"department_id": t.root}),
    )
    .await
    .ok(200);
    add(
        &env,
        &t,
        json!({"email": email, "name": "Ezra thrice", "department_id": t.root}),
    )
    .await
    .problem(409, "conflict");
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_new_members_language_is_asked_at_creation_or_the_tenants() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Languages").await;
    let bad = add(
        &env,
        &t,
        json!({"email": format!("{}@lang.test", unique("x")), "name": "X",
               "department_id": t.root, "language": "french please"}),
    )
    .await;
    bad.problem(400, "validation_failed");
    assert_eq!(bad.body["errors"][0]["field"], "language");
    let lou = env.member_in(&t, "Lou", json!({"language": "fr-CA"})).await;
    assert_eq!(
        env.get("/v1/me", &lou.token).await.ok(200)["user"]["language"],
        "fr-CA"
    );
    let max = env.member_in(&t, "Max", json!({})).await;
    assert_eq!(
        env.get("/v1/me", &max.token).await.ok(200)["user"]["language"],
        "en"
    );
    // An existing account keeps its own language: only its user changes it.
    let other = env.tenant_with_owner("Elsewhere").await;
    add(
        &env,
        &other,
        json!({"email": lou.email, "name": "Lou", "department_id": other.root, "language": "de"}),
    )
    .await
    .ok(201);
    assert_eq!(
        env.get("/v1/me", &lou.token).await.ok(200)["user"]["language"],
        "fr-CA"
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn every_scope_follows_the_sort_and_takes_the_filters() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Sorted Scopes").await;
    let sales = env.department_in(&t, "Sales").await;
    let emea = env.department_under(&t, "EMEA", &sales).await;
    let people = [
        ("Zoé Zimmer", 1, &emea, "Engineer", "London", "E-1"),
        ("Adam Alpha", 3, &sales, "engineer", "Paris", "E-2"),
        ("Ángel Ávila", 2, &emea, "Manager", "London", "E-3"),
        ("Aaron Able", 10000, &sales, "Engineer", "london", "E-4"),
    ];
    for (name, number, dept, position, location, work_number) in people {
        let email = format!("{}@sorted.test", unique("p"));
        add(
            &env,
            &t,
            json!({"email": email, "name": name, "department_id": dept, "directory_number": number,
                   "position": position, "location": location, "work_number": work_number}),
        )
        .await
        .ok(201);
    }
    let base = format!("/v1/tenants/{}/members", t.id);
    let list = |query: String| {
        let env = &env;
        let url = format!("{base}?{query}");
        let token = t.owner_token.clone();
        async move { names(env.get(&url, &token).await.ok(200)) }
    };
    let subtree = format!("department_id={sales}&include_descendants=true");
    // A subtree: directory order by default, or the order asked for.
    assert_eq!(
        list(subtree.clone()).await,
        ["Zoé Zimmer", "Ángel Ávila", "Adam Alpha", "Aaron Able"]
    );
    assert_eq!(
        list(format!("{subtree}&sort=name")).await,
        ["Aaron Able", "Adam Alpha", "Ángel Ávila", "Zoé Zimmer"]
    );
    assert_eq!(
        list(format!("department_id={sales}&sort=name")).await,
        ["Aaron Able", "Adam Alpha"]
    );
    // A search, alone or in a department, the same.
    assert_eq!(
        list("q=a".into()).await,
        ["Ángel Ávila", "Adam Alpha", "Aaron Able"]
    );
    assert_eq!(
        list(format!("q=a&{subtree}&sort=name")).await,
        ["Aaron Able", "Adam Alpha", "Ángel Ávila"]
    );
    // A new directory number moves the member in search order too.
    let aaron = env
        .get(&format!("{base}?q=aaron"), &t.owner_token)
        .await
        .ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.patch(
        &format!("{base}/{aaron}"),
        &t.owner_token,
        json!({"directory_number": 1}),
    )
    .await
    .ok(200);
    assert_eq!(
        list("q=a".into()).await,
        ["Aaron Able", "Ángel Ávila", "Adam Alpha"]
    );
    env.patch(
        &format!("{base}/{aaron}"),
        &t.owner_token,
        json!({"directory_number": 10000}),
    )
    .await
    .ok(200);
    // Pages of a sorted scope follow the order, the cursor carrying the place.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = env
            .get(
                &format!("{base}?{subtree}&limit=1&cursor={cursor}"),
                &t.owner_token,
            )
            .await;
        paged.extend(names(page.ok(200)));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(
        paged,
        ["Zoé Zimmer", "Ángel Ávila", "Adam Alpha", "Aaron Able"]
    );
    // Filters: exact, case ignored, with any scope; the directory number set or not.
    assert_eq!(
        list("position=ENGINEER".into()).await,
        ["Zoé Zimmer", "Adam Alpha", "Aaron Able"]
    );
    assert_eq!(
        list(format!("position=engineer&location=London&{subtree}")).await,
        ["Zoé Zimmer", "Aaron Able"]
    );
    assert_eq!(list("work_number=e-3".into()).await, ["Ángel Ávila"]);
    assert_eq!(list("position=engine".into()).await, Vec::<String>::new());
    assert_eq!(
        list("directory_number_set=false".into()).await,
        ["Aaron Able", "Olive Owner"]
    );
    assert_eq!(
        list("q=a&directory_number_set=true&sort=name".into()).await,
        ["Adam Alpha", "Ángel Ávila"]
    );
    // A colleague filters and sorts by what entries show.
    let colleague = env.member_in(&t, "Cora", json!({})).await;
    let seen = env
        .get(
            &format!("{base}?{subtree}&position=engineer&sort=name"),
            &colleague.token,
        )
        .await;
    assert_eq!(
        names(seen.ok(200)),
        ["Aaron Able", "Adam Alpha", "Zoé Zimmer"]
    );
    let bad = env
        .get(
            &format!("{base}?directory_number_set=maybe"),
            &t.owner_token,
        )
        .await;
    bad.problem(400, "validation_failed");
    // Another list's cursor is refused, not misread.
    let by_name = env
        .get(&format!("{base}?sort=name&limit=1"), &t.owner_token)
        .await;
    let name_cursor = by_name.ok(200)["next_cursor"].as_str().unwrap().to_string();
    env.get(
        &format!("{base}?{subtree}&cursor={name_cursor}"),
        &t.owner_token,
    )
    .await
    .problem(400, "validation_failed");
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_scope_too_large_to_sort_whole_pages_through_the_orders_index() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Large Scope").await;
    let sales = env.department_in(&t, "Sales").await;
    let n = roster_shared::members::SORTED_SCOPE_CAP + 50;
    env.seed_members(&t, n, |i| {
        (
            format!("user{i:05}@large.test"),
            format!("Person {i:05}"),
            ((i * 7919) % 5_000) as u32 + 1,
        )
    })
    .await;
    // The root's counter says how many it holds, as the routes keep it.
    env.app
        .store
        .client()
        .update_item()
        .table_name(env.app.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{}", t.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("DEPT#{}", t.root)),
        )
        .update_expression("ADD member_count :n")
        .expression_attribute_values(
            ":n",
            aws_sdk_dynamodb::types::AttributeValue::N(n.to_string()),
        )
        .send()
        .await
        .unwrap();
    add(
        &env,
        &t,
        json!({"email": format!("{}@large.test", unique("s")), "name": "Sally Sales",
               "department_id": sales, "directory_number": 1}),
    )
    .await
    .ok(201);

    let base = format!("/v1/tenants/{}/members", t.id);
    let numbers = |page: &Value| -> Vec<u64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["directory_number"].as_u64().unwrap())
            .collect()
    };
    // The root alone holds more than the cap: its members in directory order, page after
    // page, one Query of the directory index each (after the one read of the caller and the
    // department).
    let (first, requests) = env
        .count(env.get(
            &format!("{base}?department_id={}&limit=100", t.root),
            &t.owner_token,
        ))
        .await;
    let first = first.ok(200).clone();
    assert_eq!(requests, 2, "authorize + one page of the directory index");
    let mut seen = numbers(&first);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = env
        .get(
            &format!("{base}?department_id={}&limit=100&cursor={cursor}", t.root),
            &t.owner_token,
        )
        .await;
    seen.extend(numbers(second.ok(200)));
    assert!(seen.len() >= 190, "{} members on two pages", seen.len());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    // Sally, in Sales, is not on the root's pages.
    assert!(!first.to_string().contains("Sally Sales"));
    // A small department beside it is still read whole and sorted: one Query.
    let (small, requests) = env
        .count(env.get(&format!("{base}?department_id={sales}"), &t.owner_token))
        .await;
    assert_eq!(names(small.ok(200)), ["Sally Sales"]);
    assert_eq!(requests, 2, "authorize + the department's members");
    // A search naming a few members is sorted whole: the terms, then one read of the members
    // (three requests in all, SPEC §6).
    let (few, requests) = env
        .count(env.get(&format!("{base}?q=0001&sort=name"), &t.owner_token))
        .await;
    let few = names(few.ok(200));
    let expected: Vec<String> = (10..20).map(|i| format!("Person {i:05}")).collect();
    assert_eq!(few, expected);
    assert_eq!(requests, 3, "authorize + the terms + the members");
    // One naming a thousand: its terms carry the members' places, so the page is full and
    // sorted, and only its members are read: three requests a page.
    let (many, requests) = env
        .count(env.get(&format!("{base}?q=person&limit=50"), &t.owner_token))
        .await;
    let many = many.ok(200).clone();
    let found = numbers(&many);
    assert_eq!(found.len(), 50, "{found:?}");
    assert!(found.windows(2).all(|w| w[0] <= w[1]), "{found:?}");
    assert_eq!(requests, 3, "authorize + the terms + the page's members");
    // The next page goes on where it stopped, through the same cursor a directory page gives.
    let cursor = many["next_cursor"].as_str().unwrap();
    let next = env
        .get(
            &format!("{base}?q=person&limit=50&cursor={cursor}"),
            &t.owner_token,
        )
        .await;
    let next = numbers(next.ok(200));
    assert_eq!(next.len(), 50);
    assert!(found.last() <= next.first(), "{found:?} then {next:?}");
    // The whole subtree of the root: the departments' counters say too large, without
    // reading the members.
    let (subtree, requests) = env
        .count(env.get(
            &format!(
                "{base}?department_id={}&include_descendants=true&limit=5",
                t.root
            ),
            &t.owner_token,
        ))
        .await;
    let head = numbers(subtree.ok(200));
    assert_eq!(head[..2], [1, 1], "{head:?}");
    assert!(head.windows(2).all(|w| w[0] <= w[1]), "{head:?}");
    assert_eq!(
        requests, 3,
        "authorize + the departments + one page of the index"
    );
}
