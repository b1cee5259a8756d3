//! What a SCIM token may do (SPEC §9.1): it carries only permissions its minter holds, acts with
//! them, and obeys the REST targeting rule of §8.2 on every write (only members whose permissions
//! it holds all of; never owners).

use roster_tests::scim::{GROUP, Scim, scim_error, scim_tenant};
use roster_tests::{Answer, Env};
use serde_json::{Value, json};

const DEFAULT: [&str; 3] = ["members.read", "members.write", "departments.write"];

/// Mints a SCIM token for `s`'s tenant with `bearer`; `permissions` None sends none.
async fn mint(env: &Env, s: &Scim, bearer: &str, permissions: Option<Value>) -> Answer {
    let mut body = json!({"label": "IdP"});
    if let Some(p) = permissions {
        body["permissions"] = p;
    }
    env.post(
        &format!("/v1/tenants/{}/scim-tokens", s.t.id),
        Some(bearer),
        body,
    )
    .await
}

fn deactivate() -> Value {
    json!([{"op": "replace", "path": "active", "value": false}])
}

/// Reproduction: an admin holding only `api_clients.write` may not disable a member through REST,
/// and must not be able to do it by minting a SCIM token.
#[tokio::test]
async fn a_minted_token_carries_only_what_its_minter_holds() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Minting").await;
    let plain = env.member_in(&s.t, "Plain", json!({})).await;
    let keys = env
        .member_in(
            &s.t,
            "Keys",
            json!({"role": "admin", "permissions": ["api_clients.write"]}),
        )
        .await;
    env.patch(
        &format!("/v1/tenants/{}/members/{}", s.t.id, plain.member_id),
        &keys.token,
        json!({"status": "disabled"}),
    )
    .await
    .problem(403, "forbidden");

    // The default set holds permissions the admin lacks, and so does any other it lacks.
    mint(&env, &s, &keys.token, None)
        .await
        .problem(403, "forbidden");
    mint(&env, &s, &keys.token, Some(json!(["members.write"])))
        .await
        .problem(403, "forbidden");
    mint(&env, &s, &keys.token, Some(json!("all")))
        .await
        .problem(403, "forbidden");
    mint(&env, &s, &keys.token, Some(json!(["no.such"])))
        .await
        .problem(400, "validation_failed");

    // What it holds it may give, and the token acts with that alone.
    let minted = mint(&env, &s, &keys.token, Some(json!(["api_clients.write"]))).await;
    let minted = minted.ok(201);
    assert_eq!(minted["permissions"], json!(["api_clients.write"]));
    let weak = s.with_token(minted["token"].as_str().unwrap());
    let user = format!("/Users/{}", plain.member_id);
    scim_error(&weak.patch(&env, &user, deactivate()).await, 403, None);
    scim_error(&weak.delete(&env, &user).await, 403, None);
    scim_error(&weak.get(&env, "/Users").await, 403, None);
    let member = s.member(&env, &plain.member_id).await;
    assert_eq!(member.ok(200)["status"], "active");

    // API clients were already held to the same rule.
    env.post(
        &format!("/v1/tenants/{}/api-clients", s.t.id),
        Some(&keys.token),
        json!({"name": "x", "permissions": ["members.write"]}),
    )
    .await
    .problem(403, "forbidden");
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_token_acts_with_its_own_permissions() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Scoped").await;
    let plain = env.member_in(&s.t, "Plain", json!({})).await;
    let tokens = format!("/v1/tenants/{}/scim-tokens", s.t.id);

    // Minted without a list: the default set, shown at creation and in the list.
    let listed = env.get(&tokens, &s.t.owner_token).await;
    assert_eq!(listed.ok(200)["items"][0]["permissions"], json!(DEFAULT));
    let default = mint(&env, &s, &s.t.owner_token, None).await;
    assert_eq!(default.ok(201)["permissions"], json!(DEFAULT));

    // A reading token reads and writes nothing.
    let reader = mint(&env, &s, &s.t.owner_token, Some(json!(["members.read"]))).await;
    let reader = s.with_token(reader.ok(201)["token"].as_str().unwrap());
    let user = format!("/Users/{}", plain.member_id);
    reader.get(&env, &user).await.ok(200);
    reader.get(&env, "/Users").await.ok(200);
    scim_error(&reader.patch(&env, &user, deactivate()).await, 403, None);
    let created = reader
        .post(&env, "/Users", json!({"userName": "new@people.test"}))
        .await;
    scim_error(&created, 403, None);
    let group = reader
        .post(
            &env,
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Nope"}),
        )
        .await;
    scim_error(&group, 403, None);

    // A token for departments alone creates groups but moves nobody (and creates nothing when
    // asked to).
    let tree = mint(
        &env,
        &s,
        &s.t.owner_token,
        Some(json!(["departments.write"])),
    )
    .await;
    let tree = s.with_token(tree.ok(201)["token"].as_str().unwrap());
    tree.post(
        &env,
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "Empty"}),
    )
    .await
    .ok(201);
    let moving = tree
        .post(
            &env,
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Moving", "members": [{"value": plain.member_id}]}),
        )
        .await;
    scim_error(&moving, 403, None);
    let found = s
        .get(&env, "/Groups?filter=displayName%20eq%20%22Moving%22")
        .await;
    assert_eq!(found.ok(200)["totalResults"], 0);
    env.assert_consistent().await;
}

/// The member id of `email` in `s`'s tenant, as SCIM finds it.
async fn user_id(env: &Env, s: &Scim, email: &str) -> String {
    let found = s
        .get(
            env,
            &format!(
                "/Users?filter=userName%20eq%20%22{}%22",
                email.replace('@', "%40")
            ),
        )
        .await;
    found.ok(200)["Resources"][0]["id"]
        .as_str()
        .expect("found")
        .to_string()
}

fn rename() -> Value {
    json!([{"op": "replace", "path": "displayName", "value": "Renamed Person"}])
}

/// Every write a SCIM token can make to `target`, each refused with a SCIM 403, and the member
/// (and the group) left as they were.
async fn refused_everything(env: &Env, s: &Scim, target: &str, group: &str) {
    let user = format!("/Users/{target}");
    let before = s.member(env, target).await.ok(200).clone();
    let given =
        json!([{"op": "replace", "value": {"name": {"givenName": "Re", "familyName": "Named"}}}]);
    scim_error(&s.patch(env, &user, rename()).await, 403, None);
    scim_error(&s.patch(env, &user, given).await, 403, None);
    let mut put = s.get(env, &user).await.ok(200).clone();
    put["displayName"] = json!("Renamed Person");
    scim_error(&s.put(env, &user, put).await, 403, None);
    scim_error(&s.patch(env, &user, deactivate()).await, 403, None);
    scim_error(&s.delete(env, &user).await, 403, None);
    let into_group = json!([
        {"op": "replace", "path": "displayName", "value": "Renamed team"},
        {"op": "add", "path": "members", "value": [{"value": target}]}
    ]);
    scim_error(
        &s.patch(env, &format!("/Groups/{group}"), into_group).await,
        403,
        None,
    );
    let grab = json!({"schemas": [GROUP], "displayName": "Grab", "members": [{"value": target}]});
    scim_error(&s.post(env, "/Groups", grab).await, 403, None);
    assert_eq!(
        s.member(env, target).await.ok(200),
        &before,
        "{target} changed"
    );
    assert_eq!(
        s.get(env, &format!("/Groups/{group}")).await.ok(200)["displayName"],
        "Team"
    );
    let grabbed = s
        .get(env, "/Groups?filter=displayName%20eq%20%22Grab%22")
        .await;
    assert_eq!(grabbed.ok(200)["totalResults"], 0);
}

/// SPEC §8.2 and §9.1: a SCIM token acts only on members whose permissions it holds all of (its
/// own set), and never on owners, whatever the write.
#[tokio::test]
async fn a_token_acts_only_on_members_within_its_reach() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Reach").await;
    let plain = env.member_in(&s.t, "Plain", json!({})).await;
    let auditor = env
        .member_in(
            &s.t,
            "Auditor",
            json!({"role": "admin", "permissions": ["audit.read"]}),
        )
        .await;
    let reader = env
        .member_in(
            &s.t,
            "Reader",
            json!({"role": "admin", "permissions": ["members.read"]}),
        )
        .await;
    let full = env
        .member_in(&s.t, "Full", json!({"role": "admin", "permissions": "all"}))
        .await;
    let owner = user_id(&env, &s, &s.t.owner_email).await;
    let team = s
        .post(
            &env,
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Team"}),
        )
        .await;
    let team = team.ok(201)["id"].as_str().unwrap().to_string();

    // Provisioned by the identity provider, then made an admin in the console: a PUT or PATCH of
    // its name alone changes no SCIM profile, and must still be refused.
    let promoted = s
        .post(
            &env,
            "/Users",
            json!({
                "userName": "promoted@people.test", "displayName": "Pro Moted",
                "emails": [{"value": "promoted@people.test", "type": "work", "primary": true}]
            }),
        )
        .await;
    let promoted = promoted.ok(201)["id"].as_str().unwrap().to_string();
    env.patch(
        &format!("/v1/tenants/{}/members/{promoted}", s.t.id),
        &s.t.owner_token,
        json!({"role": "admin", "permissions": ["audit.read"]}),
    )
    .await
    .ok(200);

    for target in [&promoted, &owner, &auditor.member_id, &full.member_id] {
        refused_everything(&env, &s, target, &team).await;
    }

    // Out of reach in a group: neither removed from it nor moved out by its deletion.
    env.patch(
        &format!("/v1/tenants/{}/members/{}", s.t.id, auditor.member_id),
        &s.t.owner_token,
        json!({"department_id": team}),
    )
    .await
    .ok(200);
    let remove =
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", auditor.member_id)}]);
    let group = format!("/Groups/{team}");
    scim_error(&s.patch(&env, &group, remove).await, 403, None);
    scim_error(&s.delete(&env, &group).await, 403, None);
    let members = s.get(&env, &group).await.ok(200)["members"].clone();
    assert_eq!(members[0]["value"], json!(auditor.member_id));

    // Within reach: a plain member, an admin holding less than the token.
    s.patch(&env, &format!("/Users/{}", reader.member_id), rename())
        .await
        .ok(200);
    let user = format!("/Users/{}", plain.member_id);
    s.patch(&env, &user, rename()).await.ok(200);
    s.patch(&env, &user, deactivate()).await.ok(200);
    let add = json!([{"op": "add", "path": "members", "value": [{"value": plain.member_id}]}]);
    s.patch(&env, &group, add).await.ok(200);
    s.delete(&env, &user).await.ok(204);

    // A token the owner gives everything reaches every admin, and still no owner.
    let all = env
        .post(
            &format!("/v1/tenants/{}/scim-tokens", s.t.id),
            Some(&s.t.owner_token),
            json!({"label": "All", "permissions": "all"}),
        )
        .await;
    let all = s.with_token(all.ok(201)["token"].as_str().unwrap());
    all.patch(&env, &format!("/Users/{}", full.member_id), deactivate())
        .await
        .ok(200);
    scim_error(
        &all.patch(&env, &format!("/Users/{owner}"), deactivate())
            .await,
        403,
        None,
    );
    env.assert_consistent().await;
}
