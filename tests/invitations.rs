//! Invitations, join links and approvals: both accept paths, the join-link path with approval,
//! rejection and re-examination, resend and cancel, expiry, the refusals, tenant isolation, and
//! the races (concurrent accepts, max uses, the quota).

use futures::future::join_all;
use reqwest::Method;
use roster_shared::app::Clock;
use roster_tests::{Answer, Env, Tenant, id, mobile_number, unique};
use serde_json::{Value, json};

fn email(prefix: &str) -> String {
    format!("{}@invited.test", unique(prefix))
}

async fn invite(env: &Env, t: &Tenant, token: &str, body: Value) -> Answer {
    env.post(
        &format!("/v1/tenants/{}/invitations", t.id),
        Some(token),
        body,
    )
    .await
}

/// The (pending_invitations, pending_join_requests, member_count, quota_used) of a tenant.
async fn counts(env: &Env, t: &Tenant) -> (i64, i64, i64, i64) {
    let v = env.tenant_view(t).await;
    let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"));
    (
        n("pending_invitations"),
        n("pending_join_requests"),
        n("member_count"),
        n("quota_used"),
    )
}

fn emails_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_new_person_accepts_an_admins_invitation_and_signs_in() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Invite Co").await;
    let sales = env.department_in(&t, "Sales").await;
    let to = email("nina");
    let sent = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": to.to_uppercase(), "name": "Nina New", "department_id": sales,
               "position": "Rep", "role": "admin", "permissions": ["members.read"]}),
    )
    .await;
    let invitation = sent.ok(201).clone();
    assert_eq!(invitation["email"], to.as_str());
    assert_eq!(invitation["status"], "pending");
    assert!(invitation.get("token_hash").is_none());
    assert_eq!(counts(&env, &t).await, (1, 0, 1, 2));

    // A branded mail carries the link; the token is long and random.
    let mails = env.mails_to(&to).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].0.contains("Invite Co"));
    assert!(mails[0].1.contains("Sales"));
    let token = env.link_token(&to).await;
    assert!(token.len() >= 22);

    let preview = env
        .call(Method::GET, &format!("/v1/invitations/{token}"), None, None)
        .await;
    let preview = preview.ok(200);
    assert_eq!(preview["tenant_name"], "Invite Co");
    assert_eq!(preview["department_name"], "Sales");
    assert_eq!(preview["email"], to.as_str());
    assert_eq!(preview["account_exists"], false);

    // A new account needs a password.
    env.accept(&token, None, json!({"name": "Nina New"}))
        .await
        .problem(400, "validation_failed");
    let joined = env
        .accept(
            &token,
            None,
            json!({"name": "Nina New", "password": "nina-password-1"}),
        )
        .await;
    let joined = joined.ok(201).clone();
    assert_eq!(joined["status"], "active");
    assert_eq!(joined["account_created"], true);
    assert_eq!(joined["tenant_id"], t.id.as_str());
    assert_eq!(counts(&env, &t).await, (0, 0, 2, 2));

    // The member landed as invited, and signs in with the password just chosen.
    let member_id = joined["member_id"].as_str().unwrap();
    let nina = env.login(&to, "nina-password-1", Some(&t.id)).await;
    let member = env
        .get(&format!("/v1/tenants/{}/members/{member_id}", t.id), &nina)
        .await;
    let member = member.ok(200);
    assert_eq!(member["source"], "invitation");
    assert_eq!(member["role"], "admin");
    assert_eq!(member["permissions"], json!(["members.read"]));
    assert_eq!(member["department_id"], sales.as_str());
    assert_eq!(member["position"], "Rep");

    // The link works once.
    env.accept(
        &token,
        None,
        json!({"name": "Again", "password": "nina-password-2"}),
    )
    .await
    .problem(410, "invitation_used");
    env.call(Method::GET, &format!("/v1/invitations/{token}"), None, None)
        .await
        .problem(410, "invitation_used");
    env.accept("not-a-token", None, json!({}))
        .await
        .problem(404, "not_found");

    // The lists: no longer pending, now accepted.
    let base = format!("/v1/tenants/{}/invitations", t.id);
    let pending = env.get(&base, &t.owner_token).await;
    assert!(emails_of(pending.ok(200)).is_empty());
    let accepted = env
        .get(&format!("{base}?status=accepted"), &t.owner_token)
        .await;
    let accepted = accepted.ok(200);
    assert_eq!(emails_of(accepted), vec![to.clone()]);
    assert_eq!(accepted["items"][0]["status"], "accepted");
    assert_eq!(accepted["items"][0]["member_id"], member_id);
    env.get(&format!("{base}?status=everything"), &t.owner_token)
        .await
        .problem(400, "validation_failed");

    // Every step is in the audit log.
    let actions = env.audit_actions(&t).await;
    for action in ["invitation.create", "invitation.accept", "member.join"] {
        assert!(
            actions.contains(&action.to_string()),
            "{action} in {actions:?}"
        );
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_existing_account_accepts_signed_in_as_the_invited_email() {
    let env = Env::start().await;
    let a = env.tenant_with_owner("Alpha").await;
    let b = env.tenant_with_owner("Beta").await;
    // Alpha's owner is invited into Beta, with the email in another case.
    invite(
        &env,
        &b,
        &b.owner_token,
        json!({"email": a.owner_email.to_uppercase(), "department_id": b.root}),
    )
    .await
    .ok(201);
    let token = env.link_token(&a.owner_email).await;
    let preview = env
        .call(Method::GET, &format!("/v1/invitations/{token}"), None, None)
        .await;
    assert_eq!(preview.ok(200)["account_exists"], true);

    // Not signed in: the account's owner must sign in; nobody may take the account over.
    env.accept(
        &token,
        None,
        json!({"name": "Mallory", "password": "mallory-password-1"}),
    )
    .await
    .problem(401, "unauthorized");
    // Signed in as someone else: refused.
    env.accept(&token, Some(&b.owner_token), Value::Null)
        .await
        .problem(403, "forbidden");
    // Signed in, a password in the body is refused rather than ignored.
    env.accept(
        &token,
        Some(&a.owner_token),
        json!({"password": "other-password-1"}),
    )
    .await
    .problem(400, "validation_failed");
    // Signed in as the invited email (with a token of another tenant): joins.
    let joined = env.accept(&token, Some(&a.owner_token), Value::Null).await;
    let joined = joined.ok(201);
    assert_eq!(joined["status"], "active");
    assert_eq!(joined["account_created"], false);
    // The same password now opens Beta too.
    env.login(&a.owner_email, "owner-password-1", Some(&b.id))
        .await;
    let me = env.get("/v1/me", &a.owner_token).await;
    assert_eq!(me.ok(200)["memberships"].as_array().unwrap().len(), 2);
    env.assert_consistent().await;
}

#[tokio::test]
async fn invitations_are_refused_for_people_who_already_stand_in_the_tenant() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Refusals").await;
    let path = format!("/v1/tenants/{}", t.id);
    // A member.
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": t.owner_email, "department_id": t.root}),
    )
    .await
    .problem(409, "already_member");
    // A removed member, in the recycle bin: restore instead.
    let gone = email("gone");
    let member = env
        .post(
            &format!("{path}/members"),
            Some(&t.owner_token),
            json!({"email": gone, "name": "Gone Person", "department_id": t.root}),
        )
        .await;
    let member_id = id(member.ok(201));
    env.delete(&format!("{path}/members/{member_id}"), &t.owner_token)
        .await
        .ok(204);
    let removed = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": gone, "department_id": t.root}),
    )
    .await;
    removed.problem(409, "previously_removed");
    // With the member to restore.
    assert_eq!(removed.body["member_id"], member_id.as_str());
    // A pending invitation: answered with its id.
    let to = email("twice");
    let first = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": to, "department_id": t.root}),
    )
    .await;
    let first = id(first.ok(201));
    let again = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": to.to_uppercase(), "department_id": t.root}),
    )
    .await;
    again.problem(409, "conflict");
    assert_eq!(again.body["invitation_id"], first.as_str());
    // Bad input.
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": "not-an-email", "department_id": t.root}),
    )
    .await
    .problem(400, "validation_failed");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": email("x"), "department_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(400, "validation_failed");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": email("x"), "department_id": t.root, "role": "member", "permissions": "all"}),
    )
    .await
    .problem(400, "validation_failed");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": email("x"), "department_id": t.root, "colour": "red"}),
    )
    .await
    .problem(400, "validation_failed");
    // Nothing half-written: one pending invitation only.
    assert_eq!(counts(&env, &t).await.0, 1);
    env.assert_consistent().await;
}

#[tokio::test]
async fn resend_gives_a_new_link_and_cancel_kills_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Resend Co").await;
    let to = email("rita");
    let sent = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": to, "department_id": t.root}),
    )
    .await;
    let invitation = id(sent.ok(201));
    let old = env.link_token(&to).await;
    let base = format!("/v1/tenants/{}/invitations/{invitation}", t.id);

    let resent = env
        .post(&format!("{base}/resend"), Some(&t.owner_token), json!({}))
        .await;
    assert_eq!(resent.ok(200)["sent_count"], 2);
    let new = env.link_token(&to).await;
    assert_ne!(old, new);
    assert_eq!(env.mails_to(&to).await.len(), 2);
    // The old link is dead; the new one lives.
    env.accept(
        &old,
        None,
        json!({"name": "Rita", "password": "rita-password-1"}),
    )
    .await
    .problem(410, "invitation_used");
    env.call(Method::GET, &format!("/v1/invitations/{old}"), None, None)
        .await
        .problem(410, "invitation_used");
    env.call(Method::GET, &format!("/v1/invitations/{new}"), None, None)
        .await
        .ok(200);
    assert_eq!(counts(&env, &t).await, (1, 0, 1, 2));

    // Cancel: the link dies, the quota place comes back, the email can be invited again.
    env.delete(&base, &t.owner_token).await.ok(204);
    env.delete(&base, &t.owner_token).await.ok(204);
    env.accept(
        &new,
        None,
        json!({"name": "Rita", "password": "rita-password-1"}),
    )
    .await
    .problem(410, "invitation_used");
    assert_eq!(counts(&env, &t).await, (0, 0, 1, 1));
    let revoked = env
        .get(
            &format!("/v1/tenants/{}/invitations?status=revoked", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(emails_of(revoked.ok(200)), vec![to.clone()]);
    env.post(&format!("{base}/resend"), Some(&t.owner_token), json!({}))
        .await
        .problem(409, "conflict");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": to, "department_id": t.root}),
    )
    .await
    .ok(201);
    env.assert_consistent().await;
}

#[tokio::test]
async fn expired_invitations_answer_410_give_their_place_back_and_can_be_replaced() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let mut t = env.tenant_with_owner("Expiry Co").await;
    env.set_settings(&t, json!({"invitation_expiry_days": 1}))
        .await;
    let (late, replaced, resent) = (email("late"), email("replaced"), email("resent"));
    let mut ids = Vec::new();
    for to in [&late, &replaced, &resent] {
        let sent = invite(
            &env,
            &t,
            &t.owner_token,
            json!({"email": to, "department_id": t.root}),
        )
        .await;
        ids.push(id(sent.ok(201)));
    }
    let late_token = env.link_token(&late).await;
    assert_eq!(counts(&env, &t).await, (3, 0, 1, 4));

    clock.advance(2 * 24 * 3600);
    t.owner_token = env.owner_login(&t).await;
    let owner = t.owner_token.clone();
    env.accept(
        &late_token,
        None,
        json!({"name": "Late", "password": "late-password-1"}),
    )
    .await
    .problem(410, "invitation_expired");
    let base = format!("/v1/tenants/{}/invitations", t.id);
    assert!(emails_of(env.get(&base, &owner).await.ok(200)).is_empty());
    let expired = env.get(&format!("{base}?status=expired"), &owner).await;
    let expired = expired.ok(200);
    assert_eq!(expired["items"].as_array().unwrap().len(), 3);
    assert_eq!(expired["items"][0]["status"], "expired");

    // Replaced before the job ran: the new invitation takes over the old one's place.
    invite(
        &env,
        &t,
        &owner,
        json!({"email": replaced, "department_id": t.root}),
    )
    .await
    .ok(201);
    assert_eq!(counts(&env, &t).await, (3, 0, 1, 4));

    // The job gives back the places of the two still expired, once, even when run twice at once.
    let (a, b) = tokio::join!(
        roster_shared::invitations::expiry::run(env.app),
        roster_shared::invitations::expiry::run(env.app)
    );
    assert_eq!(a.unwrap().released + b.unwrap().released, 2);
    assert_eq!(counts(&env, &t).await, (1, 0, 1, 2));
    let again = roster_shared::invitations::expiry::run(env.app)
        .await
        .unwrap();
    assert_eq!(again.released, 0);

    // Resending an expired invitation takes a place again and gives a working link.
    env.post(
        &format!("{base}/{}/resend", ids[2]),
        Some(&owner),
        json!({}),
    )
    .await
    .ok(200);
    assert_eq!(counts(&env, &t).await, (2, 0, 1, 3));
    let token = env.link_token(&resent).await;
    env.accept(
        &token,
        None,
        json!({"name": "Resent", "password": "resent-password-1"}),
    )
    .await
    .ok(201);
    assert_eq!(counts(&env, &t).await, (1, 0, 2, 3));
    env.assert_consistent().await;
}

async fn join_link(env: &Env, t: &Tenant, body: Value) -> (String, String) {
    let link = env
        .post(
            &format!("/v1/tenants/{}/join-links", t.id),
            Some(&t.owner_token),
            body,
        )
        .await;
    let link = link.ok(201);
    let code = link["code"].as_str().expect("code").to_string();
    assert!(link["url"].as_str().unwrap().ends_with(&code));
    (id(link), code)
}

#[tokio::test]
async fn join_links_create_requests_that_admins_approve_reject_and_reexamine() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Door Co").await;
    let sales = env.department_in(&t, "Sales").await;
    let support = env.department_in(&t, "Support").await;
    env.set_settings(&t, json!({"join_rules": {"required_fields": ["phone"]}}))
        .await;
    let (link_id, code) = join_link(
        &env,
        &t,
        json!({"label": "Lobby poster", "department_id": sales, "max_uses": 10}),
    )
    .await;
    assert_eq!(code.len(), 26);
    // The code is never shown again.
    let links = env
        .get(&format!("/v1/tenants/{}/join-links", t.id), &t.owner_token)
        .await;
    let links = links.ok(200);
    assert_eq!(links["items"][0]["state"], "active");
    assert!(links["items"][0].get("code").is_none());

    let preview = env
        .call(Method::GET, &format!("/v1/join/{code}"), None, None)
        .await;
    let preview = preview.ok(200);
    assert_eq!(preview["tenant_name"], "Door Co");
    assert_eq!(preview["department_name"], "Sales");
    assert_eq!(preview["required_fields"], json!(["phone"]));

    // A new person: the tenant's required fields are enforced.
    let pia = email("pia");
    env.join(
        &code,
        None,
        json!({"email": pia, "name": "Pia Pending", "password": "pia-password-1"}),
    )
    .await
    .problem(400, "validation_failed");
    let asked = env
        .join(
            &code,
            None,
            json!({"email": pia, "name": "Pia Pending", "password": "pia-password-1",
               "phone": "+1 555 0100", "position": "Intern"}),
        )
        .await;
    // An anonymous request answers alike whether or not the address has an account.
    assert_eq!(asked.ok(202)["status"], "verification_sent");
    // A request through a public door holds no quota place (SPEC §9.1) until approved.
    assert_eq!(counts(&env, &t).await, (0, 1, 1, 1));
    // The new account is unproven until the link mailed with the request is used.
    env.post(
        "/v1/auth/login",
        None,
        json!({"email": pia, "password": "pia-password-1"}),
    )
    .await
    .problem(403, "email_unverified");
    let proof = env.link_token_for(&pia, "verify-email").await;
    env.post(
        "/v1/auth/verify-email",
        None,
        json!({"token": proof, "password": "pia-password-1"}),
    )
    .await
    .ok(200);

    // Pending: not in the directory, cannot act in the tenant, but can sign in as themselves.
    let directory = env
        .get(&format!("/v1/tenants/{}/members", t.id), &t.owner_token)
        .await;
    assert_eq!(directory.ok(200)["items"].as_array().unwrap().len(), 1);
    let login = env
        .post(
            "/v1/auth/login",
            None,
            json!({"email": pia, "password": "pia-password-1"}),
        )
        .await;
    let login = login.ok(200).clone();
    assert_eq!(login["tenant_id"], Value::Null);
    assert_eq!(login["platform_admin"], false);
    let pia_token = login["access_token"].as_str().unwrap().to_string();
    let me = env.get("/v1/me", &pia_token).await;
    assert_eq!(me.ok(200)["memberships"][0]["status"], "pending");
    env.get(&format!("/v1/tenants/{}/members", t.id), &pia_token)
        .await
        .problem(404, "not_found");
    // Asking again, or being invited, while pending: refused.
    env.join(&code, Some(&pia_token), Value::Null)
        .await
        .problem(409, "join_request_pending");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": pia, "department_id": t.root}),
    )
    .await
    .problem(409, "join_request_pending");

    let requests = format!("/v1/tenants/{}/join-requests", t.id);
    let listed = env.get(&requests, &t.owner_token).await;
    let listed = listed.ok(200);
    assert_eq!(emails_of(listed), vec![pia.clone()]);
    let request = listed["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed["items"][0]["via"], "join_link");
    assert_eq!(listed["items"][0]["join_link_id"], link_id.as_str());
    assert_eq!(listed["items"][0]["position"], "Intern");

    // Reject with a reason: the place comes back; inviting now says "approve instead".
    let rejected = env
        .post(
            &format!("{requests}/{request}/reject"),
            Some(&t.owner_token),
            json!({"reason": "Not an employee"}),
        )
        .await;
    let rejected = rejected.ok(200);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "Not an employee");
    assert_eq!(counts(&env, &t).await, (0, 0, 1, 1));
    env.post(
        &format!("{requests}/{request}/reject"),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .problem(409, "conflict");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": pia, "department_id": t.root}),
    )
    .await
    .problem(409, "previously_rejected");
    env.join(&code, Some(&pia_token), Value::Null)
        .await
        .problem(409, "previously_rejected");
    let only_rejected = env
        .get(&format!("{requests}?status=rejected"), &t.owner_token)
        .await;
    assert_eq!(emails_of(only_rejected.ok(200)), vec![pia.clone()]);
    let only_pending = env
        .get(&format!("{requests}?status=pending"), &t.owner_token)
        .await;
    assert!(emails_of(only_pending.ok(200)).is_empty());

    // Re-examine: approving the rejected request makes Pia a member of Support.
    let approved = env
        .post(
            &format!("{requests}/{request}/approve"),
            Some(&t.owner_token),
            json!({"department_id": support}),
        )
        .await;
    let approved = approved.ok(200);
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["source"], "join_link");
    assert_eq!(approved["department_id"], support.as_str());
    assert_eq!(counts(&env, &t).await, (0, 0, 2, 2));
    env.post(
        &format!("{requests}/{request}/approve"),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .problem(409, "conflict");
    env.login(&pia, "pia-password-1", Some(&t.id)).await;
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q=pia", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(emails_of(found.ok(200)), vec![pia.clone()]);
    assert!(
        env.mails_to(&pia)
            .await
            .iter()
            .any(|(subject, _)| subject.contains("Welcome to Door Co"))
    );

    // A signed-in person with an account (Quinn, from another tenant) asks; approved as requested.
    let other = env.tenant_with_owner("Elsewhere").await;
    let quinn = env
        .join(
            &code,
            Some(&other.owner_token),
            json!({"phone": "+1 555 0101"}),
        )
        .await;
    let quinn = quinn.ok(201).clone();
    assert_eq!(quinn["account_created"], false);
    let approved = env
        .post(
            &format!(
                "{requests}/{}/approve",
                quinn["member_id"].as_str().unwrap()
            ),
            Some(&t.owner_token),
            json!({}),
        )
        .await;
    assert_eq!(approved.ok(200)["department_id"], sales.as_str());

    // Revoked: the code stops working at once.
    env.delete(
        &format!("/v1/tenants/{}/join-links/{link_id}", t.id),
        &t.owner_token,
    )
    .await
    .ok(204);
    env.join(&code,
        None,
        json!({"email": email("late"), "name": "Late", "password": "late-password-1", "phone": "1"}),
    )
    .await
    .problem(410, "invitation_used");
    env.call(Method::GET, &format!("/v1/join/{code}"), None, None)
        .await
        .problem(410, "invitation_used");
    env.call(Method::GET, "/v1/join/unknowncode", None, None)
        .await
        .problem(404, "not_found");
    env.assert_consistent().await;
}

#[tokio::test]
async fn invitations_by_non_admins_wait_for_approval_when_the_rules_say_so() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Rules Co").await;
    let path = format!("/v1/tenants/{}", t.id);
    let mo = email("mo");
    env.post(
        &format!("{path}/members"),
        Some(&t.owner_token),
        json!({"email": mo, "name": "Mo Member", "department_id": t.root, "password": "mo-password-12"}),
    )
    .await
    .ok(201);
    let mo_token = env
        .prove_and_sign_in(&mo, "mo-password-12", Some(&t.id))
        .await;
    // Members may not invite until the tenant allows it.
    invite(
        &env,
        &t,
        &mo_token,
        json!({"email": email("friend"), "department_id": t.root}),
    )
    .await
    .problem(403, "forbidden");
    env.patch(
        &path,
        &t.owner_token,
        json!({"settings": {"join_rules": {"approval_for_non_admin_invitations": true, "members_may_invite": true}}}),
    )
    .await
    .ok(200);
    // A member invites plain members only.
    invite(
        &env,
        &t,
        &mo_token,
        json!({"email": email("boss"), "department_id": t.root, "role": "admin"}),
    )
    .await
    .problem(403, "forbidden");
    let friend = email("friend");
    let sent = invite(
        &env,
        &t,
        &mo_token,
        json!({"email": friend, "department_id": t.root}),
    )
    .await;
    assert_eq!(sent.ok(201)["sent_by_non_admin"], true);
    let token = env.link_token(&friend).await;
    let joined = env
        .accept(
            &token,
            None,
            json!({"name": "Fran Friend", "password": "fran-password-1"}),
        )
        .await;
    let joined = joined.ok(201).clone();
    assert_eq!(joined["status"], "pending");
    assert_eq!(counts(&env, &t).await, (0, 1, 2, 3));
    let requests = format!("{path}/join-requests");
    let listed = env.get(&requests, &t.owner_token).await;
    assert_eq!(listed.ok(200)["items"][0]["via"], "invitation");
    // Mo cannot approve; the owner can.
    let approve = format!(
        "{requests}/{}/approve",
        joined["member_id"].as_str().unwrap()
    );
    env.post(&approve, Some(&mo_token), json!({}))
        .await
        .problem(403, "forbidden");
    env.post(&approve, Some(&t.owner_token), json!({}))
        .await
        .ok(200);
    assert_eq!(counts(&env, &t).await, (0, 0, 3, 3));

    // The owner's invitations join directly under the same rules.
    let direct = email("direct");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": direct, "department_id": t.root}),
    )
    .await
    .ok(201);
    let token = env.link_token(&direct).await;
    let joined = env
        .accept(
            &token,
            None,
            json!({"name": "Dee Direct", "password": "dee-password-12"}),
        )
        .await;
    assert_eq!(joined.ok(201)["status"], "active");
    env.assert_consistent().await;
}

#[tokio::test]
async fn another_tenants_invitations_links_and_requests_are_not_found() {
    let env = Env::start().await;
    let a = env.tenant_with_owner("Tenant A").await;
    let b = env.tenant_with_owner("Tenant B").await;
    let to = email("iso");
    let sent = invite(
        &env,
        &a,
        &a.owner_token,
        json!({"email": to, "department_id": a.root}),
    )
    .await;
    let invitation = id(sent.ok(201));
    let (link_id, code) = join_link(&env, &a, json!({})).await;
    let asked = env
        .join(
            &code,
            None,
            json!({"email": email("asker"), "name": "Asker", "password": "asker-password-1"}),
        )
        .await;
    asked.ok(202);
    let requests = env
        .get(
            &format!("/v1/tenants/{}/join-requests", a.id),
            &a.owner_token,
        )
        .await;
    let request = requests.ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // B's owner names A's ids under B, and under A: 404 every time.
    for tenant in [&b.id, &a.id] {
        let base = format!("/v1/tenants/{tenant}");
        env.post(
            &format!("{base}/invitations/{invitation}/resend"),
            Some(&b.owner_token),
            json!({}),
        )
        .await
        .problem(404, "not_found");
        env.delete(&format!("{base}/invitations/{invitation}"), &b.owner_token)
            .await
            .problem(404, "not_found");
        env.delete(&format!("{base}/join-links/{link_id}"), &b.owner_token)
            .await
            .problem(404, "not_found");
        env.post(
            &format!("{base}/join-requests/{request}/approve"),
            Some(&b.owner_token),
            json!({}),
        )
        .await
        .problem(404, "not_found");
        env.post(
            &format!("{base}/join-requests/{request}/reject"),
            Some(&b.owner_token),
            json!({}),
        )
        .await
        .problem(404, "not_found");
    }
    for list in ["invitations", "join-links", "join-requests"] {
        env.get(&format!("/v1/tenants/{}/{list}", a.id), &b.owner_token)
            .await
            .problem(404, "not_found");
        let own = env
            .get(&format!("/v1/tenants/{}/{list}", b.id), &b.owner_token)
            .await;
        assert!(
            own.ok(200)["items"].as_array().unwrap().is_empty(),
            "{list}"
        );
    }
    // A's link joins A only: the person accepting it becomes a member of A, never of B.
    let token = env.link_token(&to).await;
    let joined = env
        .accept(
            &token,
            None,
            json!({"name": "Iso", "password": "iso-password-12"}),
        )
        .await;
    assert_eq!(joined.ok(201)["tenant_id"], a.id.as_str());
    let login = env
        .post(
            "/v1/auth/login",
            None,
            json!({"email": to, "password": "iso-password-12", "tenant_id": b.id}),
        )
        .await;
    login.problem(401, "unauthorized");
    assert_eq!(counts(&env, &b).await, (0, 0, 1, 1));
    env.assert_consistent().await;
}

#[tokio::test]
async fn twenty_concurrent_accepts_of_one_link_make_one_member() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Race Co").await;
    let to = email("race");
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"email": to, "department_id": t.root}),
    )
    .await
    .ok(201);
    let token = env.link_token(&to).await;
    let answers = join_all((0..20).map(|i| {
        env.accept(
            &token,
            None,
            json!({"name": format!("Racer {i}"), "password": "racer-password-1"}),
        )
    }))
    .await;
    let won = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        won,
        1,
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    for lost in answers.iter().filter(|a| a.status != 201) {
        lost.problem(410, "invitation_used");
    }
    assert_eq!(counts(&env, &t).await, (0, 0, 2, 2));
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q=racer", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(found.ok(200)["items"].as_array().unwrap().len(), 1);
    env.assert_consistent().await;
}

#[tokio::test]
async fn max_uses_of_a_join_link_hold_under_twenty_concurrent_joins() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Crowd Co").await;
    let (_, code) = join_link(&env, &t, json!({"max_uses": 5})).await;
    let people: Vec<String> = (0..20).map(|i| email(&format!("crowd{i}"))).collect();
    let answers = join_all(people.iter().enumerate().map(|(i, to)| {
        env.join(
            &code,
            None,
            json!({"email": to, "name": format!("Crowd {i}"), "password": "crowd-password-1"}),
        )
    }))
    .await;
    // A new person's request is filed by the outbox worker under the link's condition: an
    // answer may still say "sent" while the link fills, but only five are filed.
    for lost in answers.iter().filter(|a| a.status != 202) {
        lost.problem(410, "invitation_used");
    }
    assert_eq!(counts(&env, &t).await, (0, 5, 1, 1));
    let links = env
        .get(&format!("/v1/tenants/{}/join-links", t.id), &t.owner_token)
        .await;
    let links = links.ok(200);
    assert_eq!(links["items"][0]["uses"], 5);
    assert_eq!(links["items"][0]["state"], "used_up");
    let requests = env
        .get(
            &format!("/v1/tenants/{}/join-requests?limit=100", t.id),
            &t.owner_token,
        )
        .await;
    let filed = emails_of(requests.ok(200));
    assert_eq!(filed.len(), 5, "{filed:?}");
    // Everyone told "sent" hears: the five filed get their verification link, the others why
    // their request was not filed.
    for (to, answer) in people.iter().zip(&answers) {
        if answer.status != 202 {
            continue;
        }
        let subjects: Vec<String> = env.mails_to(to).await.into_iter().map(|m| m.0).collect();
        let expected = if filed.contains(to) {
            "Confirm your email"
        } else {
            "was not filed"
        };
        assert!(
            subjects.iter().any(|s| s.contains(expected)),
            "{to}: {subjects:?}"
        );
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn invitations_count_toward_the_quota_public_requests_do_not_and_it_holds_at_acceptance() {
    let env = Env::start().await;
    let admin = env.admin_token().await;
    let t = env.tenant_with_owner("Small Co").await;
    env.patch(
        &format!("/v1/tenants/{}", t.id),
        &admin,
        json!({"member_quota": 4}),
    )
    .await
    .ok(200);
    let (_, code) = join_link(&env, &t, json!({})).await;
    env.join(
        &code,
        None,
        json!({"email": email("req"), "name": "Req", "password": "req-password-12"}),
    )
    .await
    .ok(202);
    // Ten concurrent invitations for three free places (the public request holds none):
    // exactly three.
    let people: Vec<String> = (0..10).map(|i| email(&format!("q{i}"))).collect();
    let answers = join_all(people.iter().map(|to| {
        invite(
            &env,
            &t,
            &t.owner_token,
            json!({"email": to, "department_id": t.root}),
        )
    }))
    .await;
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 3);
    for lost in answers.iter().filter(|a| a.status != 201) {
        lost.problem(409, "quota_exceeded");
    }
    assert_eq!(counts(&env, &t).await, (3, 1, 1, 4));
    // Full: no direct member, and the quota cannot drop below what it counts; a public request
    // still waits (under its own cap).
    env.post(
        &format!("/v1/tenants/{}/members", t.id),
        Some(&t.owner_token),
        json!({"email": email("direct"), "name": "Direct", "department_id": t.root}),
    )
    .await
    .problem(409, "quota_exceeded");
    env.join(
        &code,
        None,
        json!({"email": email("req2"), "name": "Req Two", "password": "req-password-12"}),
    )
    .await
    .ok(202);
    env.patch(
        &format!("/v1/tenants/{}", t.id),
        &admin,
        json!({"member_quota": 3}),
    )
    .await
    .problem(400, "validation_failed");
    // Both invited people accept: their places were held for them.
    for (to, answer) in people.iter().zip(&answers) {
        if answer.status != 201 {
            continue;
        }
        let token = env.link_token(to).await;
        env.accept(
            &token,
            None,
            json!({"name": "Quota Person", "password": "quota-password-1"}),
        )
        .await
        .ok(201);
    }
    assert_eq!(counts(&env, &t).await, (0, 2, 4, 4));
    env.assert_consistent().await;
}

#[tokio::test]
async fn invitation_requests_are_pinned() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Count Co").await;
    let to = email("count");
    let (sent, requests) = env
        .count(invite(
            &env,
            &t,
            &t.owner_token,
            json!({"email": to, "department_id": t.root}),
        ))
        .await;
    sent.ok(201);
    // Caller + tenant + department + account + invitation guard in one read; one transaction.
    assert_eq!(requests, 2);
    let token = env.link_token(&to).await;
    let (preview, requests) = env
        .count(env.call(Method::GET, &format!("/v1/invitations/{token}"), None, None))
        .await;
    preview.ok(200);
    assert_eq!(requests, 3);
    let (joined, requests) = env
        .count(env.accept(
            &token,
            None,
            json!({"name": "Count", "password": "count-password-1"}),
        ))
        .await;
    joined.ok(201);
    // The address's attempt counter (read, conditional increment), token, invitation + tenant,
    // departments + account, one transaction.
    assert_eq!(requests, 6);
    let (list, requests) = env
        .count(env.get(
            &format!("/v1/tenants/{}/invitations?status=accepted", t.id),
            &t.owner_token,
        ))
        .await;
    list.ok(200);
    assert_eq!(requests, 2);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_join_number_files_requests_for_approval_only_while_the_tenant_allows_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Number Co").await;
    let other = env.tenant_with_owner("Other Number Co").await;
    let tenant_path = format!("/v1/tenants/{}", t.id);
    let number = env.get(&tenant_path, &t.owner_token).await.ok(200)["join_number"]
        .as_str()
        .expect("admins see the join number")
        .to_string();
    assert!(number.len() == 8 && number.bytes().all(|b| b.is_ascii_digit()));
    let other_number = env
        .get(&format!("/v1/tenants/{}", other.id), &other.owner_token)
        .await
        .ok(200)["join_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(number, other_number);
    // A plain member does not see it.
    let plain = env.member_in(&t, "Pia", json!({})).await;
    let seen = env.get(&tenant_path, &plain.token).await;
    assert!(seen.ok(200).get("join_number").is_none(), "{:?}", seen.body);

    // Off by default: the number opens nothing, exactly like an unknown or malformed one.
    let door = format!("/v1/join/number/{number}");
    let newcomer =
        |name: &str| json!({"email": email(name), "name": name, "password": "newcomer-password-1"});
    env.get_public(&door).await.problem(404, "not_found");
    env.post(&door, None, newcomer("early"))
        .await
        .problem(404, "not_found");
    for wrong in ["0000000", "abcdefgh", "123456789"] {
        env.get_public(&format!("/v1/join/number/{wrong}"))
            .await
            .problem(404, "not_found");
    }

    env.set_settings(&t, json!({"join_rules": {"join_by_number": true}}))
        .await;
    let preview = env.get_public(&door).await;
    assert_eq!(preview.ok(200)["tenant_name"], "Number Co");
    assert_eq!(preview.body["needs_approval"], true);
    // Another tenant's number leads to that tenant only, and it has not opened its door.
    env.get_public(&format!("/v1/join/number/{other_number}"))
        .await
        .problem(404, "not_found");

    // A new person: the same answer as a join link, a pending request by number.
    let joined = env.post(&door, None, newcomer("grace")).await;
    assert_eq!(joined.ok(202)["status"], "verification_sent");
    // A signed-in member of another tenant asks with their account.
    let olga = env.member_in(&other, "Olga", json!({})).await;
    let asked = env.post(&door, Some(&olga.token), json!({})).await;
    assert_eq!(asked.ok(201)["status"], "pending");
    let request_id = asked.body["member_id"].as_str().unwrap().to_string();
    let requests = env
        .get(&format!("{tenant_path}/join-requests"), &t.owner_token)
        .await;
    let items = requests.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    for request in &items {
        assert_eq!(request["via"], "join_number");
        assert_eq!(request["source"], "join_number");
        assert_eq!(request["status"], "pending");
        assert_eq!(request["join_link_id"], Value::Null);
        assert_eq!(request["department_id"], t.root);
    }
    let tenant = env.get(&tenant_path, &t.owner_token).await;
    assert_eq!(tenant.ok(200)["pending_join_requests"], 2);
    // The owner approves one; it became a member, nothing before.
    env.post(
        &format!("{tenant_path}/join-requests/{request_id}/approve"),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    env.login(&olga.email, &olga.password, Some(&t.id)).await;

    // Closing the door again: the number answers 404 and files nothing.
    env.set_settings(&t, json!({"join_rules": {"join_by_number": false}}))
        .await;
    env.post(&door, None, newcomer("late"))
        .await
        .problem(404, "not_found");
    let tenant = env.get(&tenant_path, &t.owner_token).await;
    assert_eq!(tenant.ok(200)["pending_join_requests"], 1);
    assert_eq!(tenant.body["join_number"], number.as_str());
    env.assert_consistent().await;
}

/// A fresh E.164 number (the emulator keeps every text message of the run).
#[tokio::test]
async fn a_phone_invitation_goes_by_text_and_a_new_person_accepts_it_unproven() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Phone Co").await;
    let number = mobile_number();
    // Typed with spaces: stored and texted in E.164.
    let spaced = format!("{} {} {}", &number[..3], &number[3..7], &number[7..]);
    let created = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"phone": spaced, "name": "Pat", "department_id": t.root}),
    )
    .await;
    let view = created.ok(201).clone();
    assert_eq!(view["phone"], number.as_str());
    assert_eq!(view["email"], Value::Null);
    assert_eq!(env.sms_to(&number).await.len(), 1);
    // One live invitation per phone, as per email.
    let again = invite(
        &env,
        &t,
        &t.owner_token,
        json!({"phone": number, "department_id": t.root}),
    )
    .await;
    again.problem(409, "conflict");
    assert_eq!(again.body["invitation_id"], view["id"]);
    for bad in [
        json!({"department_id": t.root}),
        json!({"phone": "07700 900123", "department_id": t.root}),
    ] {
        invite(&env, &t, &t.owner_token, bad)
            .await
            .problem(400, "validation_failed");
    }
    let token = env.sms_token_for(&number).await;
    let preview = env
        .call(Method::GET, &format!("/v1/invitations/{token}"), None, None)
        .await;
    assert_eq!(preview.ok(200)["email"], Value::Null);
    assert_eq!(preview.body["phone"], number.as_str());
    assert_eq!(preview.body["account_exists"], false);

    // A new person must give the email of the account to create; it stays unproven.
    env.accept(
        &token,
        None,
        json!({"name": "Pat Phone", "password": "pat-password-12"}),
    )
    .await
    .problem(400, "validation_failed");
    let pat = email("pat");
    let accepted = env
        .accept(
            &token,
            None,
            json!({"email": pat, "name": "Pat Phone", "password": "pat-password-12"}),
        )
        .await;
    assert_eq!(accepted.ok(202)["status"], "verification_sent");
    let members = env
        .get(
            &format!("/v1/tenants/{}/members?q=pat", t.id),
            &t.owner_token,
        )
        .await;
    let found = members.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["email"], pat.as_str());
    assert_eq!(found[0]["email_verified"], false);
    assert_eq!(found[0]["source"], "invitation");
    // The link is spent; the person proves the address before signing in.
    env.accept(
        &token,
        None,
        json!({"email": email("late"), "name": "Late", "password": "late-password-1"}),
    )
    .await
    .problem(410, "invitation_used");
    env.prove_and_sign_in(&pat, "pat-password-12", Some(&t.id))
        .await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_phone_invitation_is_accepted_by_whoever_signs_in_and_never_reveals_an_account() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Phone Two").await;
    let other = env.tenant_with_owner("Elsewhere").await;
    let olga = env.member_in(&other, "Olga", json!({})).await;
    let number = mobile_number();
    invite(
        &env,
        &t,
        &t.owner_token,
        json!({"phone": number, "department_id": t.root}),
    )
    .await
    .ok(201);
    let token = env.sms_token_for(&number).await;
    // Someone gives an address that has an account: the same answer, nothing accepted, and
    // the owner of the address is asked to sign in and accept.
    let before = env.mails_to(&olga.email).await.len();
    let answered = env
        .accept(
            &token,
            None,
            json!({"email": olga.email, "name": "Not Olga", "password": "guess-password-1"}),
        )
        .await;
    assert_eq!(answered.ok(202)["status"], "verification_sent");
    assert_eq!(env.mails_to(&olga.email).await.len(), before + 1);
    let pending = env
        .get(&format!("/v1/tenants/{}/invitations", t.id), &t.owner_token)
        .await;
    assert_eq!(pending.ok(200)["items"][0]["status"], "pending");
    // Signed in, Olga accepts it with her account.
    let joined = env.accept(&token, Some(&olga.token), Value::Null).await;
    assert_eq!(joined.ok(201)["status"], "active");
    let me = env.login(&olga.email, &olga.password, Some(&t.id)).await;
    env.get(&format!("/v1/tenants/{}/members", t.id), &me)
        .await
        .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_invite_import_texts_the_rows_with_a_phone() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Phone Import").await;
    let (only, both) = (mobile_number(), mobile_number());
    let mail = email("both");
    let file = format!(
        "email,name,phone\n,Only Phone,{only}\n{mail},Both,{both}\n,Twice,{only}\n,Bad,0770\n"
    );
    let created = env
        .post(
            &format!("/v1/tenants/{}/imports", t.id),
            Some(&t.owner_token),
            json!({"mode": "invite", "send_email": true}),
        )
        .await
        .ok(201)
        .clone();
    env.upload_csv(created["upload_url"].as_str().unwrap(), &file)
        .await;
    let job = id(&created["job"]);
    env.start_import(&t, &job).await.ok(202);
    env.play_import_record(&t, &job).await.expect("import");
    let done = env.job(&t, &job).await;
    assert_eq!(
        done["counts"],
        json!({"total": 4, "succeeded": 2, "failed": 2})
    );
    assert_eq!(env.sms_to(&only).await.len(), 1);
    assert_eq!(env.sms_to(&both).await.len(), 1);
    assert_eq!(env.mails_to(&mail).await.len(), 1);
    let listed = env
        .get(&format!("/v1/tenants/{}/invitations", t.id), &t.owner_token)
        .await;
    let phones: Vec<&str> = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["phone"].as_str())
        .collect();
    assert_eq!(phones.len(), 2);
    env.assert_consistent().await;
}
