//! Every door that creates, attaches or proves an account (SPEC.md §8.1, §9.1), against the five
//! account pre-hijacking attack types (Sudhodanan and Paverd, "Pre-hijacked accounts", 2022),
//! adapted to Roster. In every row an attacker prepares the victim's address before the victim
//! arrives through the door; after the victim has come in as a real owner would (following the
//! mail or text they get), neither the first registrant nor the holder of a link that reached
//! someone else may sign in as the address's owner, and nothing the attacker held still works.
//!
//! Plus the reproduction of the texted-link takeover that made this file.

use roster_tests::{Answer, Env, Tenant, id, mobile_number, unique};
use serde_json::{Value, json};

const ATTACKER: &str = "attackers-own-password";
const VICTIM: &str = "victims-own-password";

/// How the attacker prepares the victim's address before the victim arrives.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// Classic: registers the address first, through a public join link, with their password.
    Classic,
    /// Unexpired session: registers it as above and keeps any session they can get.
    UnexpiredSession,
    /// Trojan identifier: registers it with their own phone, and after the victim came in,
    /// accepts a text sent to that phone with the victim's address.
    TrojanIdentifier,
    /// Unexpired email change: asks to move their own account to the address, and confirms once
    /// the victim came in.
    UnexpiredEmailChange,
    /// Non-verifying door: as admin of a tenant of their own, invites the address with their own
    /// phone and accepts the texted link with their password.
    NonVerifying,
}

const ATTACKS: [Attack; 5] = [
    Attack::Classic,
    Attack::UnexpiredSession,
    Attack::TrojanIdentifier,
    Attack::UnexpiredEmailChange,
    Attack::NonVerifying,
];

/// The doors the victim comes in through.
#[derive(Clone, Copy, Debug)]
enum Door {
    EmailInvitation,
    SmsInvitation,
    EmailAndSmsInvitation,
    JoinLink,
    JoinNumber,
    AdminCreate,
    ImportCreate,
    ImportInvite,
    ScimCreate,
    TenantOwner,
    VerifyEmail,
    Reset,
}

const DOORS: [Door; 12] = [
    Door::EmailInvitation,
    Door::SmsInvitation,
    Door::EmailAndSmsInvitation,
    Door::JoinLink,
    Door::JoinNumber,
    Door::AdminCreate,
    Door::ImportCreate,
    Door::ImportInvite,
    Door::ScimCreate,
    Door::TenantOwner,
    Door::VerifyEmail,
    Door::Reset,
];

/// What the attacker holds after preparing: sessions, a pending email change, their phone.
#[derive(Default)]
struct Held {
    sessions: Vec<String>,
    email_change: Option<(String, String)>,
    phone: Option<String>,
}

/// The attacker's own tenant (they are its owner) and the victim's tenant.
struct Stage {
    lair: Tenant,
    home: Tenant,
}

async fn stage(env: &Env) -> Stage {
    let lair = env.tenant_with_owner("Lair Co").await;
    let home = env.tenant_with_owner("Victim Co").await;
    env.set_settings(&home, json!({"join_rules": {"join_by_number": true}}))
        .await;
    env.enable_api_access(&home).await;
    Stage { lair, home }
}

/// Any token the attacker's password opens now, with or without a tenant.
async fn sessions_of(env: &Env, email: &str, tenants: &[&str]) -> Vec<String> {
    let mut sessions = Vec::new();
    for tenant in [None].into_iter().chain(tenants.iter().map(|t| Some(*t))) {
        let answer = env.try_login(email, ATTACKER, tenant).await;
        if let Some(token) = answer.body["access_token"].as_str() {
            sessions.push(token.to_string());
        }
    }
    sessions
}

/// A stranger joins `door` through its public join link as `email`.
async fn register_through_join_link(env: &Env, door: &Tenant, email: &str, phone: Option<&str>) {
    let code = env.join_code(door).await;
    let mut body = json!({"email": email, "name": "Mallory", "password": ATTACKER});
    if let Some(p) = phone {
        body["phone"] = json!(p);
    }
    env.join(&code, None, body).await.ok(202);
}

/// The attacker, owner of `lair`, invites `email` with their own `phone`, and accepts the text.
async fn accept_own_text(env: &Env, lair: &Tenant, email: &str, phone: &str) -> Answer {
    invite(env, lair, json!({"email": email, "phone": phone})).await;
    let token = env.sms_token_for(phone).await;
    let accept = json!({"name": "Mallory", "password": ATTACKER});
    env.accept(&token, None, accept).await
}

async fn prepare(env: &Env, s: &Stage, attack: Attack, victim: &str) -> Held {
    let mut held = Held::default();
    match attack {
        Attack::Classic => register_through_join_link(env, &s.lair, victim, None).await,
        Attack::UnexpiredSession => {
            register_through_join_link(env, &s.lair, victim, None).await;
            held.sessions = sessions_of(env, victim, &[&s.lair.id]).await;
        }
        Attack::TrojanIdentifier => {
            let own = mobile_number();
            register_through_join_link(env, &s.lair, victim, Some(&own)).await;
            held.phone = Some(own);
        }
        Attack::UnexpiredEmailChange => {
            let me = env.member_in(&s.lair, "Mallory", json!({})).await;
            env.patch(
                "/v1/me",
                &me.token,
                json!({"email": victim, "current_password": me.password}),
            )
            .await
            .ok(202);
            let token = env.link_token_for(victim, "confirm-email").await;
            held.email_change = Some((me.token.clone(), token));
            held.sessions.push(me.token);
        }
        Attack::NonVerifying => {
            accept_own_text(env, &s.lair, victim, &mobile_number()).await;
            held.sessions = sessions_of(env, victim, &[&s.lair.id]).await;
        }
    }
    held
}

/// The victim takes their account as a real owner would: sign in with their password; if the
/// address is unproven, follow the verification mail; if the password is not theirs, reset it.
async fn take_account(env: &Env, victim: &str) {
    let first = env.try_login(victim, VICTIM, None).await;
    match first.status.as_u16() {
        _ if signs_in(&first) => {}
        403 if first.body["code"] == "email_unverified" => {
            let token = env.link_token_for(victim, "verify-email").await;
            env.post(
                "/v1/auth/verify-email",
                None,
                json!({"token": token, "password": VICTIM}),
            )
            .await
            .ok(200);
        }
        _ => reset(env, victim).await,
    }
}

async fn reset(env: &Env, victim: &str) {
    env.post(
        "/v1/auth/password-reset/request",
        None,
        json!({"email": victim}),
    )
    .await
    .ok(202);
    let token = env.link_token_for(victim, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": token, "new_password": VICTIM}),
    )
    .await
    .ok(204);
}

/// Accepts an invitation as its invitee: anonymously with their own password; when the address
/// has a proven account (which only the victim can have proven), signed in.
async fn accept_as_victim(env: &Env, token: &str, victim: &str, with_email: bool) {
    let mut body = json!({"name": "Vic", "password": VICTIM});
    if with_email {
        body["email"] = json!(victim);
    }
    let answer = env.accept(token, None, body).await;
    if answer.status.as_u16() == 401 {
        take_account(env, victim).await;
        let bearer = env.login(victim, VICTIM, None).await;
        env.accept(token, Some(&bearer), Value::Null).await.ok(201);
        return;
    }
    assert!(
        [201, 202].contains(&answer.status.as_u16()),
        "accept: {answer:?}"
    );
    take_account(env, victim).await;
}

async fn invite(env: &Env, home: &Tenant, body: Value) {
    let mut body = body;
    body["department_id"] = json!(home.root);
    env.post(
        &format!("/v1/tenants/{}/invitations", home.id),
        Some(&home.owner_token),
        body,
    )
    .await
    .ok(201);
}

async fn arrive(env: &Env, s: &Stage, door: Door, victim: &str) {
    let home = &s.home;
    match door {
        Door::EmailInvitation => {
            invite(env, home, json!({"email": victim})).await;
            let token = env.link_token_for(victim, "invitations/accept").await;
            accept_as_victim(env, &token, victim, false).await;
        }
        Door::SmsInvitation => {
            let own = mobile_number();
            invite(env, home, json!({"phone": own})).await;
            let token = env.sms_token_for(&own).await;
            accept_as_victim(env, &token, victim, true).await;
        }
        Door::EmailAndSmsInvitation => {
            invite(
                env,
                home,
                json!({"email": victim, "phone": mobile_number()}),
            )
            .await;
            let token = env.link_token_for(victim, "invitations/accept").await;
            accept_as_victim(env, &token, victim, false).await;
        }
        Door::JoinLink => {
            let code = env.join_code(home).await;
            let body = json!({"email": victim, "name": "Vic", "password": VICTIM});
            env.join(&code, None, body).await.ok(202);
            take_account(env, victim).await;
        }
        Door::JoinNumber => {
            let number = env.tenant_view(home).await["join_number"]
                .as_str()
                .expect("join number")
                .to_string();
            let body = json!({"email": victim, "name": "Vic", "password": VICTIM});
            env.post(&format!("/v1/join/number/{number}"), None, body)
                .await
                .ok(202);
            take_account(env, victim).await;
        }
        Door::AdminCreate => {
            env.post(
                &format!("/v1/tenants/{}/members", home.id),
                Some(&home.owner_token),
                json!({"email": victim, "name": "Vic", "department_id": home.root}),
            )
            .await
            .ok(201);
            take_account(env, victim).await;
        }
        Door::ImportCreate => {
            let job = env
                .import_create(home, &format!("email,name\n{victim},Vic\n"))
                .await;
            assert_eq!(job["counts"]["succeeded"], 1, "{job}");
            take_account(env, victim).await;
        }
        Door::ImportInvite => {
            import_invite(env, home, victim).await;
            let token = env.link_token_for(victim, "invitations/accept").await;
            accept_as_victim(env, &token, victim, false).await;
        }
        Door::ScimCreate => {
            scim_create(env, home, victim).await;
            take_account(env, victim).await;
        }
        Door::TenantOwner => {
            let admin = env.admin_token().await;
            env.post(
                "/v1/tenants",
                Some(&admin),
                json!({"name": unique("Owned"), "kind": "customer", "plan": "paid",
                       "member_quota": 10, "seats_total": 1, "owner_email": victim,
                       "owner_name": "Vic"}),
            )
            .await
            .ok(201);
            take_account(env, victim).await;
        }
        Door::VerifyEmail => {
            env.post(
                "/v1/auth/verify-email/resend",
                None,
                json!({"email": victim}),
            )
            .await
            .ok(202);
            take_account(env, victim).await;
        }
        Door::Reset => reset(env, victim).await,
    }
}

async fn import_invite(env: &Env, home: &Tenant, victim: &str) {
    let created = env
        .post(
            &format!("/v1/tenants/{}/imports", home.id),
            Some(&home.owner_token),
            json!({"mode": "invite", "send_email": true}),
        )
        .await;
    let created = created.ok(201).clone();
    let url = created["upload_url"].as_str().expect("upload_url");
    env.upload_csv(url, &format!("email,name\n{victim},Vic\n"))
        .await;
    let job = id(&created["job"]);
    env.start_import(home, &job).await.ok(202);
    env.play_import_record(home, &job).await.expect("import");
    assert_eq!(env.job(home, &job).await["status"], "completed");
}

async fn scim_create(env: &Env, home: &Tenant, victim: &str) {
    let created = env
        .post(
            &format!("/v1/tenants/{}/scim-tokens", home.id),
            Some(&home.owner_token),
            json!({"label": "Okta"}),
        )
        .await;
    let token = created.ok(201)["token"]
        .as_str()
        .expect("token")
        .to_string();
    let answer = env
        .http
        .post(format!("{}/scim/v2/{}/Users", env.base, home.id))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": victim, "name": {"givenName": "Vic", "familyName": "Tim"},
            "emails": [{"value": victim, "primary": true}], "active": true}))
        .send()
        .await
        .expect("scim create");
    assert_eq!(answer.status().as_u16(), 201, "{:?}", answer.text().await);
}

/// After the victim came in: nothing the attacker chose or held opens the victim's account.
async fn assert_locked_out(env: &Env, s: &Stage, attack: Attack, held: Held, victim: &str) {
    let row = format!("{attack:?}");
    for tenant in [None, Some(s.lair.id.as_str()), Some(s.home.id.as_str())] {
        let answer = env.try_login(victim, ATTACKER, tenant).await;
        assert_eq!(
            answer.status.as_u16(),
            401,
            "{row}: the attacker's password into {tenant:?}: {answer:?}"
        );
    }
    for token in &held.sessions {
        let me = env.get("/v1/me", token).await;
        let theirs = me.body["user"]["email"].as_str() == Some(victim);
        assert!(
            me.status.as_u16() == 401 || !theirs,
            "{row}: a session the attacker held still opens the victim's account: {me:?}"
        );
    }
    if let Some((token, link)) = held.email_change {
        let confirmed = env
            .post("/v1/me/email/confirm", Some(&token), json!({"token": link}))
            .await;
        assert_ne!(
            confirmed.status.as_u16(),
            200,
            "{row}: the attacker's pending change took the victim's address: {confirmed:?}"
        );
    }
    if let Some(own) = held.phone {
        let answer = env
            .accept(
                &trojan_text(env, s, &own).await,
                None,
                json!({"email": victim, "name": "Mallory", "password": ATTACKER}),
            )
            .await;
        assert_ne!(
            answer.status.as_u16(),
            201,
            "{row}: trojan text: {answer:?}"
        );
        for tenant in [None, Some(s.lair.id.as_str())] {
            env.try_login(victim, ATTACKER, tenant)
                .await
                .problem(401, "unauthorized");
        }
    }
    // The victim signs in with their own password.
    assert!(
        signs_in(&env.try_login(victim, VICTIM, None).await),
        "{row}"
    );
}

/// The password was right: signed in, or asked which of several tenants.
fn signs_in(answer: &Answer) -> bool {
    answer.status.as_u16() == 200
        || (answer.status.as_u16() == 400 && answer.body["errors"][0]["field"] == "tenant_id")
}

/// A phone-only invitation of the attacker's own tenant to the attacker's phone.
async fn trojan_text(env: &Env, s: &Stage, own: &str) -> String {
    invite(env, &s.lair, json!({"phone": own})).await;
    env.sms_token_for(own).await
}

async fn run_row(env: &Env, door: Door, attack: Attack) {
    let s = stage(env).await;
    let victim = format!("{}@victim.test", unique("vic"));
    let held = prepare(env, &s, attack, &victim).await;
    // Proof and reset doors open an account that exists: where the attack made none (a pending
    // change reserves nothing), the victim first registers through a join link.
    let proves_existing = matches!(door, Door::VerifyEmail | Door::Reset);
    if proves_existing && matches!(attack, Attack::UnexpiredEmailChange) {
        let code = env.join_code(&s.home).await;
        let body = json!({"email": victim, "name": "Vic", "password": VICTIM});
        env.join(&code, None, body).await.ok(202);
    }
    arrive(env, &s, door, &victim).await;
    assert_locked_out(env, &s, attack, held, &victim).await;
}

/// Every door against every attack. Rows run a few at a time on one table.
#[tokio::test]
async fn no_door_lets_the_first_registrant_or_a_links_holder_sign_in_as_the_owner() {
    let env = Env::start().await;
    for door in DOORS {
        let rows = ATTACKS.map(|attack| run_row(&env, door, attack));
        futures::future::join_all(rows).await;
    }
    env.assert_consistent().await;
}

/// The reproduction (issue 27): an admin of tenant A invites an address that another tenant's
/// admin had just created (an unproven account) with the attacker's own phone; the texted link,
/// accepted anonymously, must not set the account's password nor prove the address, so the
/// attacker cannot sign in to tenant B as the victim.
#[tokio::test]
async fn a_texted_link_never_sets_or_proves_the_email_accounts_password() {
    let env = Env::start().await;
    let a = env.tenant_with_owner("Attacker Co").await;
    let b = env.tenant_with_owner("Victim Co").await;
    let victim = format!("{}@victimco.test", unique("new-hire"));
    env.post(
        &format!("/v1/tenants/{}/members", b.id),
        Some(&b.owner_token),
        json!({"email": victim, "name": "New Hire", "department_id": b.root}),
    )
    .await
    .ok(201);
    let own = mobile_number();
    let accepted = accept_own_text(&env, &a, &victim, &own).await;
    assert_eq!(
        accepted.ok(202),
        &json!({"tenant_id": a.id, "status": "verification_sent"}),
        "the texted link follows the phone path"
    );
    for tenant in [None, Some(b.id.as_str()), Some(a.id.as_str())] {
        env.try_login(&victim, ATTACKER, tenant)
            .await
            .problem(401, "unauthorized");
    }
    // The mailed link of the same invitation is another token, and it does prove the address.
    let mailed = env.link_token_for(&victim, "invitations/accept").await;
    let texted = env.sms_token_for(&own).await;
    assert_ne!(mailed, texted, "one token per channel");
    env.accept(
        &mailed,
        None,
        json!({"name": "New Hire", "password": VICTIM}),
    )
    .await
    .ok(201);
    let token = env.login(&victim, VICTIM, Some(&b.id)).await;
    let me = env.get("/v1/me", &token).await;
    assert_eq!(me.ok(200)["user"]["email_verified"], true);
    env.assert_consistent().await;
}
