//! DynamoDB round trips per operation, pinned (SPEC.md §6). The caller's membership and the items
//! an operation reads travel in one BatchGetItem, so an authorized single-item read is 1 request
//! and a write is 2 (that read, then one transaction).

use roster_tests::Env;
use serde_json::json;

#[tokio::test]
async fn dynamodb_requests_per_operation_are_pinned() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Counted").await;
    let tok = t.owner_token.as_str();
    let depts = format!("/v1/tenants/{}/departments", t.id);

    let (created, n) = env
        .count(env.post(
            &depts,
            Some(tok),
            json!({"name": "Sales", "parent_id": t.root}),
        ))
        .await;
    let sales = created.ok(201)["id"].as_str().unwrap().to_string();
    assert_eq!(n, 2, "create department");
    assert_eq!(
        env.counter.by_operation().into_iter().collect::<Vec<_>>(),
        vec![
            ("BatchGetItem".to_string(), 1),
            ("TransactWriteItems".to_string(), 1)
        ]
    );
    let (other, _) = env
        .count(env.post(
            &depts,
            Some(tok),
            json!({"name": "Support", "parent_id": t.root}),
        ))
        .await;
    let support = other.ok(201)["id"].as_str().unwrap().to_string();

    let pinned: Vec<(&str, u64)> = vec![
        ("get department", {
            let (a, n) = env.count(env.get(&format!("{depts}/{sales}"), tok)).await;
            a.ok(200);
            n
        }),
        ("list departments", {
            let (a, n) = env.count(env.get(&depts, tok)).await;
            a.ok(200);
            n
        }),
        ("rename leaf department", {
            let (a, n) = env
                .count(env.patch(
                    &format!("{depts}/{sales}"),
                    tok,
                    json!({"name": "Sales EU"}),
                ))
                .await;
            a.ok(200);
            n
        }),
        ("change department settings", {
            let (a, n) = env
                .count(env.patch(
                    &format!("{depts}/{sales}"),
                    tok,
                    json!({"settings": {"contact_visibility": "all"}}),
                ))
                .await;
            a.ok(200);
            n
        }),
        ("move empty department", {
            let (a, n) = env
                .count(env.patch(
                    &format!("{depts}/{sales}"),
                    tok,
                    json!({"parent_id": support}),
                ))
                .await;
            a.ok(200);
            n
        }),
        // Renaming a department with children also reads the tree to rewrite their paths.
        ("rename department with children", {
            let (a, n) = env
                .count(env.patch(&format!("{depts}/{support}"), tok, json!({"name": "Care"})))
                .await;
            a.ok(200);
            n
        }),
        ("delete department", {
            let (a, n) = env
                .count(env.delete(&format!("{depts}/{sales}"), tok))
                .await;
            a.ok(204);
            n
        }),
        ("get tenant", {
            let (a, n) = env
                .count(env.get(&format!("/v1/tenants/{}", t.id), tok))
                .await;
            a.ok(200);
            n
        }),
        ("update tenant", {
            let (a, n) = env
                .count(env.patch(
                    &format!("/v1/tenants/{}", t.id),
                    tok,
                    json!({"settings": {"default_language": "de"}}),
                ))
                .await;
            a.ok(200);
            n
        }),
        ("list audit log", {
            let (a, n) = env
                .count(env.get(&format!("/v1/tenants/{}/audit-log", t.id), tok))
                .await;
            a.ok(200);
            n
        }),
        ("get me", {
            let (a, n) = env.count(env.get("/v1/me", tok)).await;
            a.ok(200);
            n
        }),
        ("update me: name (members follow)", {
            let (a, n) = env
                .count(env.patch("/v1/me", tok, json!({"name": "Counted Owner"})))
                .await;
            a.ok(200);
            n
        }),
        ("update me: language", {
            let (a, n) = env
                .count(env.patch("/v1/me", tok, json!({"language": "de"})))
                .await;
            a.ok(200);
            n
        }),
    ];
    let expected: Vec<(&str, u64)> = vec![
        ("get department", 1),
        ("list departments", 2),
        ("rename leaf department", 2),
        ("change department settings", 2),
        ("move empty department", 2),
        ("rename department with children", 3),
        ("delete department", 2),
        ("get tenant", 1),
        ("update tenant", 2),
        ("list audit log", 2),
        ("get me", 2),
        ("update me: name (members follow)", 3),
        ("update me: language", 2),
    ];
    assert_eq!(pinned, expected);

    let admin = env.admin_token().await;
    let (created, n) = env
        .count(env.post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "Counted Two", "kind": "customer", "plan": "free", "member_quota": 5,
                   "seats_total": 0, "owner_email": "counted-two@example.test", "owner_name": "C"}),
        ))
        .await;
    created.ok(201);
    assert_eq!(n, 2, "create tenant");
    let (listed, n) = env.count(env.get("/v1/tenants", &admin)).await;
    listed.ok(200);
    assert_eq!(n, 2, "list tenants");

    // Sign-in reads the email guard with the account's and the address's attempt counters (one
    // batch), counts the attempt (one conditional transaction), reads the user, the membership
    // (guard, member), the tenant and department rules (one batch), and records last_login_at
    // with the sign-in log entry, giving the attempt back in the same transaction.
    let body = json!({"email": t.owner_email, "password": "owner-password-1", "tenant_id": t.id});
    let (login, n) = env.count(env.post("/v1/auth/login", None, body)).await;
    login.ok(200);
    assert_eq!(n, 7, "tenant login");
    // A platform admin's sign-in writes nothing else: giving the attempt back is a write of its own.
    let body = json!({"email": env.admin_email, "password": env.admin_password});
    let (login, n) = env.count(env.post("/v1/auth/login", None, body)).await;
    login.ok(200);
    assert_eq!(n, 5, "platform login");
}
