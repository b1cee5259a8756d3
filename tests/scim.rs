//! SCIM 2.0 provisioning (SPEC §8.5): tokens, and the request sequences Okta and Microsoft Entra
//! ID send for create, update, deactivate, reactivate, delete and group push, with their quirks.
//! (scripts/test.sh also runs the scim2-tester conformance suite against the local gateway.)

use reqwest::Method;
use roster_tests::scim::{ENTERPRISE, ERROR, GROUP, PATCH, USER, call, scim_error, scim_tenant};
use roster_tests::{Env, unique};
use serde_json::{Value, json};

fn okta_user(email: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": email,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "never-stored-1",
        "active": true
    })
}

#[tokio::test]
async fn scim_tokens_are_shown_once_belong_to_one_tenant_and_die_when_revoked() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Tokens").await;
    let other = scim_tenant(&env, "Other").await;
    let tokens = format!("/v1/tenants/{}/scim-tokens", s.t.id);
    let listed = env.get(&tokens, &s.t.owner_token).await;
    let items = listed.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["label"], "Okta");
    assert!(items[0].get("token").is_none());
    assert!(!listed.body.to_string().contains(&s.token));

    // A plain member may not manage tokens; another tenant's owner does not see them.
    let plain = env.member_in(&s.t, "Plain", json!({})).await;
    env.post(&tokens, Some(&plain.token), json!({"label": "x"}))
        .await
        .problem(403, "forbidden");
    env.get(&tokens, &other.t.owner_token)
        .await
        .problem(404, "not_found");

    // The token opens its own tenant's SCIM endpoint only, and nothing else.
    s.get(&env, "/Users").await.ok(200);
    let elsewhere = call(
        &env,
        Method::GET,
        &format!("{}/Users", other.base),
        &s.token,
        None,
    )
    .await;
    scim_error(&elsewhere, 404, None);
    env.get(&format!("/v1/tenants/{}/members", s.t.id), &s.token)
        .await
        .problem(401, "unauthorized");
    let jwt = call(
        &env,
        Method::GET,
        &format!("{}/Users", s.base),
        &s.t.owner_token,
        None,
    )
    .await;
    scim_error(&jwt, 401, None);
    let forged = call(
        &env,
        Method::GET,
        &format!("{}/Users", s.base),
        &format!("{}x", s.token),
        None,
    )
    .await;
    scim_error(&forged, 401, None);

    // Without API access, the token stops working; revoked, it is dead for good.
    let id = items[0]["id"].as_str().unwrap();
    env.delete(&format!("{tokens}/{id}"), &s.t.owner_token)
        .await
        .ok(204);
    scim_error(&s.get(&env, "/Users").await, 401, None);
    env.delete(&format!("{tokens}/{id}"), &s.t.owner_token)
        .await
        .problem(404, "not_found");
    let actions = env.audit_actions(&s.t).await;
    assert!(actions.contains(&"scim_token.create".to_string()));
    assert!(actions.contains(&"scim_token.revoke".to_string()));
    env.assert_consistent().await;
}

#[tokio::test]
async fn discovery_claims_what_is_built() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Discovery").await;
    let config = s.get(&env, "/ServiceProviderConfig").await;
    let config = config.ok(200);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 200);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["sort"]["supported"], false);
    let types = s.get(&env, "/ResourceTypes").await;
    assert_eq!(types.ok(200)["totalResults"], 2);
    assert_eq!(
        s.get(&env, "/ResourceTypes/User").await.ok(200)["endpoint"],
        "/Users"
    );
    scim_error(&s.get(&env, "/ResourceTypes/Nope").await, 404, None);
    let schemas = s.get(&env, "/Schemas").await;
    assert_eq!(schemas.ok(200)["totalResults"], 3);
    let user = s.get(&env, &format!("/Schemas/{USER}")).await;
    assert!(
        user.ok(200)["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "userName")
    );
    scim_error(&s.get(&env, "/Schemas/urn:nope").await, 404, None);
    // Unknown paths and methods answer SCIM errors too.
    scim_error(
        &s.get(&env, &format!("/{}", uuid::Uuid::now_v7())).await,
        404,
        None,
    );
    let wrong = s.post(&env, "/ServiceProviderConfig", json!({})).await;
    scim_error(&wrong, 405, None);
    env.assert_consistent().await;
}

/// Okta's documented sequence: look the user up, create it, read it, replace it (PUT), deactivate
/// and reactivate with PATCH of `active`, then delete.
#[tokio::test]
async fn okta_creates_updates_deactivates_reactivates_and_deletes_a_user() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Okta Corp").await;
    let email = format!("{}@okta.test", unique("ada"));
    let lookup = s
        .get(
            &env,
            &format!("/Users?filter=userName%20eq%20%22{email}%22&startIndex=1&count=100"),
        )
        .await;
    assert_eq!(lookup.ok(200)["totalResults"], 0);
    assert_eq!(lookup.body["Resources"], json!([]));

    let created = s.post(&env, "/Users", okta_user(&email, "00u1")).await;
    let user = created.ok(201).clone();
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(user["userName"], email);
    assert_eq!(user["displayName"], "Ada Lovelace");
    assert_eq!(user["active"], true);
    assert_eq!(user["externalId"], "00u1");
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user.get("password").is_none());
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        user["meta"]["location"].as_str().unwrap()
    );
    assert!(
        user["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{id}"))
    );
    assert_eq!(
        created.headers["etag"].to_str().unwrap(),
        user["meta"]["version"].as_str().unwrap()
    );
    // A new account: the person sets a password through the mailed link, and signs in.
    let link = env.link_token(&email).await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "ada-password-1"}),
    )
    .await
    .ok(204);
    env.login(&email, "ada-password-1", Some(&s.t.id)).await;
    let member = s.member(&env, &id).await;
    assert_eq!(member.ok(200)["source"], "scim");

    assert_eq!(
        s.get(&env, &format!("/Users/{id}")).await.ok(200)["userName"],
        email
    );
    let found = s
        .get(
            &env,
            &format!(
                "/Users?filter=userName%20eq%20%22{}%22",
                email.to_uppercase()
            ),
        )
        .await;
    assert_eq!(found.ok(200)["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id);

    // PUT: the whole user, as Okta sends it after a profile change.
    let mut replaced = okta_user(&email, "00u1");
    replaced["title"] = json!("Analyst");
    replaced[ENTERPRISE] = json!({"employeeNumber": "E-42", "department": "ignored: read-only"});
    let put = s.put(&env, &format!("/Users/{id}"), replaced).await;
    assert_eq!(put.ok(200)["title"], "Analyst");
    assert_eq!(put.body[ENTERPRISE]["employeeNumber"], "E-42");
    assert!(
        put.body[ENTERPRISE].get("department").is_none(),
        "the root has no path"
    );
    let member = s.member(&env, &id).await;
    assert_eq!(member.ok(200)["position"], "Analyst");
    assert_eq!(member.body["work_number"], "E-42");

    // Deactivate: the member is disabled and its sessions end; reactivate enables it again.
    let off = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(off.ok(200)["active"], false);
    assert_eq!(s.member(&env, &id).await.ok(200)["status"], "disabled");
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": "ada-password-1", "tenant_id": s.t.id}),
    )
    .await
    .problem(403, "account_disabled");
    let on = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!(on.ok(200)["active"], true);
    assert_eq!(s.member(&env, &id).await.ok(200)["status"], "active");

    // DELETE: to the recycle bin, restorable; SCIM no longer finds it.
    s.delete(&env, &format!("/Users/{id}")).await.ok(204);
    scim_error(&s.get(&env, &format!("/Users/{id}")).await, 404, None);
    scim_error(&s.delete(&env, &format!("/Users/{id}")).await, 404, None);
    let bin = env
        .get(
            &format!("/v1/tenants/{}/recycle-bin", s.t.id),
            &s.t.owner_token,
        )
        .await;
    assert_eq!(bin.ok(200)["items"][0]["id"], id);
    let actions = env.audit_actions(&s.t).await;
    assert!(actions.contains(&"member.create".to_string()));
    let log = env
        .get(
            &format!("/v1/tenants/{}/audit-log", s.t.id),
            &s.t.owner_token,
        )
        .await;
    let by_scim = log.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["type"] == "scim_token")
        .count();
    assert!(
        by_scim >= 4,
        "SCIM writes are audited with the token as actor: {}",
        log.body
    );
    env.assert_consistent().await;
}

/// Entra ID's quirks: capitalised ops, string booleans, path-less operations with an object,
/// `emails[type eq "work"].value` paths, schema-qualified enterprise attributes and lookups by
/// `externalId`.
#[tokio::test]
async fn entra_provisions_with_its_own_dialect() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Entra Corp").await;
    let email = format!("{}@entra.test", unique("grace"));
    let lookup = s
        .get(
            &env,
            &format!("/Users?filter=externalId%20eq%20%22{}%22", "aad-1"),
        )
        .await;
    assert_eq!(lookup.ok(200)["totalResults"], 0);
    let created = s
        .post(
            &env,
            "/Users",
            json!({
                "schemas": [USER, ENTERPRISE],
                "externalId": "aad-1",
                "userName": email,
                "active": "True",
                "displayName": "Grace Hopper",
                "emails": [{"primary": true, "type": "work", "value": email}],
                "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
                ENTERPRISE: {"employeeNumber": "1906"}
            }),
        )
        .await;
    let id = created.ok(201)["id"].as_str().unwrap().to_string();
    let by_external = s
        .get(&env, "/Users?filter=externalId%20eq%20%22aad-1%22")
        .await;
    assert_eq!(by_external.ok(200)["Resources"][0]["id"], id);
    let by_mail = s
        .get(
            &env,
            &format!("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22{email}%22"),
        )
        .await;
    assert_eq!(by_mail.ok(200)["totalResults"], 1);

    let patched = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([
                {"op": "Replace", "path": "title", "value": "Rear Admiral"},
                {"op": "Add", "path": "name.givenName", "value": "Grace B."},
                {"op": "Replace", "value": {
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1906-12",
                    "displayName": "Grace B. Hopper"
                }},
                {"op": "Replace", "path": "active", "value": "False"}
            ]),
        )
        .await;
    let user = patched.ok(200).clone();
    assert_eq!(user["title"], "Rear Admiral");
    assert_eq!(user["name"]["givenName"], "Grace B.");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "1906-12");
    assert_eq!(user["displayName"], "Grace B. Hopper");
    assert_eq!(user["active"], false);
    let member = s.member(&env, &id).await;
    assert_eq!(member.ok(200)["name"], "Grace B. Hopper");
    assert_eq!(member.body["status"], "disabled");

    // A new address for an account nobody has proven yet: the link goes to the new address.
    let moved = format!("{}@entra.test", unique("grace2"));
    let readdressed = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": moved}]),
        )
        .await;
    assert_eq!(readdressed.ok(200)["emails"][0]["value"], moved);
    assert_eq!(s.member(&env, &id).await.ok(200)["email"], moved);
    let link = env.link_token(&moved).await;
    assert!(!link.is_empty());

    // Errors say what SCIM calls them.
    scim_error(
        &s.get(&env, "/Users?filter=userName%20zz%20%22x%22").await,
        400,
        Some("invalidFilter"),
    );
    scim_error(
        &s.patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "Jump", "path": "title", "value": 1}]),
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    scim_error(
        &s.patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "nickName", "value": "x"}]),
        )
        .await,
        400,
        Some("invalidPath"),
    );
    // Removing what is not there succeeds and changes nothing (RFC 7644 §3.5.2.2).
    let unchanged = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "Remove", "path": "emails[type eq \"home\"].value"}]),
        )
        .await;
    assert_eq!(unchanged.ok(200)["emails"][0]["value"], moved);
    env.assert_consistent().await;
}

#[tokio::test]
async fn identifiers_are_unique_versions_are_checked_and_other_tenants_are_invisible() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Rules").await;
    let other = scim_tenant(&env, "Elsewhere").await;
    let email = format!("{}@rules.test", unique("u"));
    let created = s.post(&env, "/Users", okta_user(&email, "ext-1")).await;
    let user = created.ok(201).clone();
    let id = user["id"].as_str().unwrap().to_string();
    // The same userName (any case), externalId or address again: 409 uniqueness, nothing written.
    let again = s
        .post(&env, "/Users", okta_user(&email.to_uppercase(), "ext-2"))
        .await;
    scim_error(&again, 409, Some("uniqueness"));
    let same_external = s
        .post(
            &env,
            "/Users",
            okta_user(&format!("{}@rules.test", unique("v")), "ext-1"),
        )
        .await;
    scim_error(&same_external, 409, Some("uniqueness"));
    // The owner is a member too: two Users, nothing of the refused ones.
    assert_eq!(s.get(&env, "/Users").await.ok(200)["totalResults"], 2);

    // If-Match: a stale version is refused with 412, the current one passes.
    let version = user["meta"]["version"].as_str().unwrap().to_string();
    s.patch(
        &env,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "title", "value": "A"}]),
    )
    .await
    .ok(200);
    let stale = env
        .http
        .patch(format!("{}{}/Users/{id}", env.base, s.base))
        .bearer_auth(&s.token)
        .header("if-match", &version)
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "B"}]}).to_string())
        .send()
        .await
        .unwrap();
    scim_error(&Env::answer(stale).await, 412, Some("invalidVers"));

    // Another tenant's ids are not found; its provider cannot touch this tenant's members.
    scim_error(&other.get(&env, &format!("/Users/{id}")).await, 404, None);
    scim_error(
        &other.delete(&env, &format!("/Users/{id}")).await,
        404,
        None,
    );
    scim_error(
        &other
            .patch(
                &env,
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": "active", "value": false}]),
            )
            .await,
        404,
        None,
    );
    // attributes / excludedAttributes.
    let only = s
        .get(&env, &format!("/Users/{id}?attributes=userName"))
        .await;
    let only = only.ok(200);
    assert_eq!(only["userName"], email);
    assert!(only.get("emails").is_none() && only.get("id").is_some());
    let without = s
        .get(&env, &format!("/Users/{id}?excludedAttributes=emails,name"))
        .await;
    assert!(without.ok(200).get("emails").is_none() && without.body.get("userName").is_some());
    // POST /.search: the same query in a body, over Users and Groups.
    let searched = s
        .post(
            &env,
            "/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": format!("userName eq \"{email}\""),
                "attributes": ["userName"]
            }),
        )
        .await;
    assert_eq!(searched.ok(200)["totalResults"], 1);
    assert_eq!(searched.body["Resources"][0]["id"], id);
    assert!(searched.body["Resources"][0].get("emails").is_none());
    scim_error(
        &s.post(&env, "/.search", json!({"filter": "userName pr"}))
            .await,
        400,
        Some("invalidSyntax"),
    );
    // The enterprise extension removed as a whole, by its URN.
    s.patch(
        &env,
        &format!("/Users/{id}"),
        json!([{"op": "add", "path": ENTERPRISE, "value": {"employeeNumber": "7"}}]),
    )
    .await
    .ok(200);
    let removed = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "remove", "path": ENTERPRISE}]),
        )
        .await;
    assert!(
        removed.ok(200).get(ENTERPRISE).is_none(),
        "{}",
        removed.body
    );
    // Bodies that are not Users.
    scim_error(
        &s.post(&env, "/Users", json!({"displayName": "nobody"}))
            .await,
        400,
        Some("invalidValue"),
    );
    let broken = env
        .http
        .post(format!("{}{}/Users", env.base, s.base))
        .bearer_auth(&s.token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    scim_error(&Env::answer(broken).await, 400, Some("invalidSyntax"));
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_account_of_several_tenants_keeps_its_name_and_a_proven_address_its_holder() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Shared A").await;
    let b = env.tenant_with_owner("Shared B").await;
    // Ada belongs to tenant B already (and proved her address there).
    let ada = env.member_in(&b, "Ada", json!({})).await;
    // Provisioning her into A attaches the same account: she keeps her password.
    let created = s.post(&env, "/Users", okta_user(&ada.email, "x-1")).await;
    let id = created.ok(201)["id"].as_str().unwrap().to_string();
    env.login(&ada.email, &ada.password, Some(&s.t.id)).await;
    // A's provider cannot rename her (B sees the same name) or move her address.
    let renamed = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "displayName", "value": "Someone Else"}]),
        )
        .await;
    scim_error(&renamed, 400, Some("mutability"));
    let moved = s
        .patch(&env, &format!("/Users/{id}"), json!([{"op": "replace", "path": "emails", "value": [{"value": "thief@evil.test", "primary": true}]}]))
        .await;
    scim_error(&moved, 400, Some("mutability"));
    env.login(&ada.email, &ada.password, Some(&b.id)).await;
    // Its own fields still change.
    let titled = s
        .patch(
            &env,
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": "CTO"}]),
        )
        .await;
    assert_eq!(titled.ok(200)["title"], "CTO");
    env.assert_consistent().await;
}

/// Group push: a Group is a department; adding a User moves the member there, removing it
/// moves the member back to the root; deleting the Group moves its members to the root first.
#[tokio::test]
async fn group_push_moves_members_between_departments() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Groups").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let email = format!("{}@groups.test", unique(&format!("g{n}")));
        let created = s
            .post(&env, "/Users", okta_user(&email, &format!("e{n}")))
            .await;
        ids.push(created.ok(201)["id"].as_str().unwrap().to_string());
    }
    let created = s
        .post(
            &env,
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": ids[0]}]}),
        )
        .await;
    let group = created.ok(201).clone();
    let gid = group["id"].as_str().unwrap().to_string();
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert_eq!(s.member(&env, &ids[0]).await.ok(200)["department_id"], gid);
    let user = s.get(&env, &format!("/Users/{}", ids[0])).await;
    assert_eq!(user.ok(200)[ENTERPRISE]["department"], "Engineering");

    // Okta: PATCH add members; Entra: remove by filter path and by value list.
    s.patch(
        &env,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]}]),
    )
    .await
    .ok(200);
    s.patch(
        &env,
        &format!("/Groups/{gid}"),
        json!([{"op": "Remove", "path": format!("members[value eq \"{}\"]", ids[1])}]),
    )
    .await
    .ok(200);
    let after = s
        .patch(
            &env,
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": "members", "value": [{"value": ids[2]}]}]),
        )
        .await;
    let members: Vec<&str> = after.ok(200)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![ids[0].as_str()]);
    assert_eq!(
        s.member(&env, &ids[1]).await.ok(200)["department_id"],
        s.t.root
    );
    // Rename (Entra's displayName replace) and lookups.
    s.patch(
        &env,
        &format!("/Groups/{gid}"),
        json!([{"op": "Replace", "path": "displayName", "value": "R&D"}]),
    )
    .await
    .ok(200);
    let found = s
        .get(
            &env,
            "/Groups?filter=displayName%20eq%20%22R%26D%22&excludedAttributes=members",
        )
        .await;
    assert_eq!(found.ok(200)["totalResults"], 1);
    assert!(found.body["Resources"][0].get("members").is_none());
    let same_name = s
        .post(
            &env,
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "R&D"}),
        )
        .await;
    scim_error(&same_name, 409, Some("uniqueness"));
    scim_error(
        &s.post(
            &env,
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "X", "members": [{"value": "not-an-id"}]}),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    // The root is the tenant, not a group.
    scim_error(
        &s.get(&env, &format!("/Groups/{}", s.t.root)).await,
        404,
        None,
    );

    // PUT replaces the member list.
    let put = s
        .put(
            &env,
            &format!("/Groups/{gid}"),
            json!({"schemas": [GROUP], "displayName": "R&D", "members": [{"value": ids[2]}]}),
        )
        .await;
    assert_eq!(put.ok(200)["members"][0]["value"], ids[2]);
    assert_eq!(
        s.member(&env, &ids[0]).await.ok(200)["department_id"],
        s.t.root
    );

    // DELETE: members back to the root, department gone.
    s.delete(&env, &format!("/Groups/{gid}")).await.ok(204);
    assert_eq!(
        s.member(&env, &ids[2]).await.ok(200)["department_id"],
        s.t.root
    );
    scim_error(&s.get(&env, &format!("/Groups/{gid}")).await, 404, None);
    env.get(
        &format!("/v1/tenants/{}/departments/{gid}", s.t.id),
        &s.t.owner_token,
    )
    .await
    .problem(404, "not_found");
    env.assert_consistent().await;
}

#[tokio::test]
async fn provisioning_keeps_the_member_quota() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Small").await;
    env.set_limits(&s.t, json!({"member_quota": 2})).await;
    s.post(
        &env,
        "/Users",
        okta_user(&format!("{}@q.test", unique("a")), "q1"),
    )
    .await
    .ok(201);
    let over = s
        .post(
            &env,
            "/Users",
            okta_user(&format!("{}@q.test", unique("b")), "q2"),
        )
        .await;
    assert_eq!(over.status.as_u16(), 409, "{:?}", over.body);
    assert_eq!(over.body["schemas"], json!([ERROR]));
    // Nothing half-written: the externalId is still free once there is room.
    env.set_limits(&s.t, json!({"member_quota": 3})).await;
    s.post(
        &env,
        "/Users",
        okta_user(&format!("{}@q.test", unique("b")), "q2"),
    )
    .await
    .ok(201);
    env.assert_consistent().await;
}

/// SPEC.md §8.6 on SCIM's creates: a provider that retries `POST /Users` with its key after a lost
/// answer provisions the user once; the key belongs to the SCIM token that sent it.
#[tokio::test]
async fn a_create_retried_with_its_idempotency_key_provisions_once() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Retrying provider").await;
    let post = |token: String, key: &'static str, body: Value| {
        let request = env
            .http
            .post(format!("{}{}/Users", env.base, s.base))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .header("idempotency-key", key)
            .body(body.to_string());
        async move { Env::answer(request.send().await.unwrap()).await }
    };
    let email = format!("{}@idp.test", unique("ada"));
    let first = post(s.token.clone(), "okta-retry-1", okta_user(&email, "00u1")).await;
    let created = first.ok(201).clone();
    let again = post(s.token.clone(), "okta-retry-1", okta_user(&email, "00u1")).await;
    assert_eq!(again.ok(201)["id"], created["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["location"], first.headers["location"]);
    assert_eq!(again.headers["etag"], first.headers["etag"]);

    // The same key with another user is refused in SCIM's own error shape, and nobody is made.
    let other = format!("{}@idp.test", unique("grace"));
    let reused = post(s.token.clone(), "okta-retry-1", okta_user(&other, "00u2")).await;
    scim_error(&reused, 409, Some("uniqueness"));
    assert!(
        reused.body["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{:?}",
        reused.body
    );

    // Another token's key is its own: the same key and body run afresh, and meet the user
    // the first token provisioned.
    let second_token = env
        .post(
            &format!("/v1/tenants/{}/scim-tokens", s.t.id),
            Some(&s.t.owner_token),
            json!({"label": "Entra"}),
        )
        .await
        .ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let elsewhere = post(second_token, "okta-retry-1", okta_user(&email, "00u1")).await;
    scim_error(&elsewhere, 409, Some("uniqueness"));

    let listed = s
        .get(
            &env,
            &format!("/Users?filter=userName%20eq%20%22{email}%22"),
        )
        .await;
    assert_eq!(listed.ok(200)["totalResults"], 1);
    env.assert_consistent().await;
}
