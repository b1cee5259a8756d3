//! Proof of address, sessions and abuse limits (SPEC.md §8.1, and §8.2's IP allowlists): the
//! account pre-hijacking attack types adapted to Roster, throttling with its expiry, no account
//! discovery through the public doors, and every way a session ends.

use roster_shared::app::Clock;
use roster_tests::{Answer, Env, Person, Tenant, id, unique};
use serde_json::{Value, json};
use std::future::Future;
use std::time::{Duration, Instant};

/// What a stranger types when registering someone else's address.
const STRANGER: &str = "strangers-own-password";

fn email(prefix: &str) -> String {
    format!("{}@identity.test", unique(prefix))
}

fn manual_clock() -> Clock {
    Clock::manual(time::OffsetDateTime::now_utc())
}

/// Asserts that a token opens nothing any more.
async fn dead(env: &Env, token: &str) {
    env.get("/v1/me", token).await.problem(401, "unauthorized");
}

/// A stranger registers `address` through a public join link of `door`, with their own password.
async fn stranger_registers(env: &Env, door: &Tenant, address: &str) {
    let code = env.join_code(door).await;
    let joined = env
        .join(
            &code,
            None,
            json!({"email": address, "name": "Mallory Stranger", "password": STRANGER}),
        )
        .await;
    assert_eq!(
        joined.ok(202),
        &json!({"tenant_id": door.id, "status": "verification_sent"})
    );
    // Unproven: the stranger's right password is not enough to sign in.
    env.try_login(address, STRANGER, None)
        .await
        .problem(403, "email_unverified");
}

/// Asserts the stranger's password opens nothing: 401 (not 403) with or without the tenant.
async fn stranger_is_locked_out(env: &Env, address: &str, tenant_id: &str) {
    env.try_login(address, STRANGER, None)
        .await
        .problem(401, "unauthorized");
    env.try_login(address, STRANGER, Some(tenant_id))
        .await
        .problem(401, "unauthorized");
}

async fn member_detail(env: &Env, t: &Tenant, member_id: &str) -> Value {
    env.get(
        &format!("/v1/tenants/{}/members/{member_id}", t.id),
        &t.owner_token,
    )
    .await
    .ok(200)
    .clone()
}

/// What must not differ between two answers of a door that hides whether an account exists:
/// status, content type and body (without `instance`, which names the request).
fn comparable(answer: &Answer) -> (u16, Option<String>, Value) {
    let mut body = answer.body.clone();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("instance");
    }
    (
        answer.status.as_u16(),
        answer
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string()),
        body,
    )
}

async fn timed<F: Future<Output = Answer>>(f: F) -> (Answer, Duration) {
    let start = Instant::now();
    let answer = f.await;
    (answer, start.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Loosely alike in time: the slower median within three times the faster one (a faster median
/// under 10 ms counts as 10 ms, so scheduler noise on a quick path cannot fail the test).
#[track_caller]
fn alike_in_time(what: &str, a: Vec<Duration>, b: Vec<Duration>) {
    let (a, b) = (median(a), median(b));
    let (fast, slow) = if a < b { (a, b) } else { (b, a) };
    assert!(
        slow <= fast.max(Duration::from_millis(10)) * 3,
        "{what}: medians {a:?} and {b:?} differ by more than a factor of 3"
    );
}

// ---------------------------------------------------------------------------------------------
// The pre-hijacking attack types, adapted to Roster.
// ---------------------------------------------------------------------------------------------

/// Classic-federated merge, Roster's way: a stranger registers the CEO's address through a public
/// join link, then a platform admin names that address the owner of a new tenant.
#[tokio::test]
async fn hijack_join_registration_then_platform_admin_names_the_address_tenant_owner() {
    let env = Env::start().await;
    let door = env.tenant_with_owner("Door Co").await;
    let victim = email("ceo");
    stranger_registers(&env, &door, &victim).await;

    let admin = env.admin_token().await;
    let big = env
        .post(
            "/v1/tenants",
            Some(&admin),
            json!({"name": "BigCorp", "kind": "customer", "plan": "paid", "member_quota": 10,
                   "seats_total": 1, "owner_email": victim, "owner_name": "Cleo CEO"}),
        )
        .await;
    let big_id = id(big.ok(201));

    // The stranger's password died with the attach.
    stranger_is_locked_out(&env, &victim, &big_id).await;

    // The real owner follows the set-password mail and signs in as BigCorp's owner.
    let link = env.link_token_for(&victim, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "real-ceo-password"}),
    )
    .await
    .ok(204);
    let ceo = env.login(&victim, "real-ceo-password", Some(&big_id)).await;
    let me = env.get("/v1/me", &ceo).await;
    assert_eq!(me.ok(200)["user"]["email_verified"], true);
    assert_eq!(me.body["current"]["role"], "owner");
    env.get(&format!("/v1/tenants/{big_id}/members"), &ceo)
        .await
        .ok(200);
    stranger_is_locked_out(&env, &victim, &big_id).await;
    env.assert_consistent().await;
}

/// The same through an admin's member create.
#[tokio::test]
async fn hijack_join_registration_then_admin_creates_the_member() {
    let env = Env::start().await;
    let door = env.tenant_with_owner("Door Co").await;
    let t = env.tenant_with_owner("Target Co").await;
    let victim = email("vic");
    stranger_registers(&env, &door, &victim).await;

    let created = env
        .post(
            &format!("/v1/tenants/{}/members", t.id),
            Some(&t.owner_token),
            json!({"email": victim, "name": "Vic Victim", "department_id": t.root}),
        )
        .await;
    let member_id = id(created.ok(201));
    assert_eq!(
        member_detail(&env, &t, &member_id).await["email_verified"],
        false
    );
    stranger_is_locked_out(&env, &victim, &t.id).await;

    // The real owner proves the address with the set-password link through verify-email.
    let link = env.link_token_for(&victim, "set-password").await;
    let proven = env
        .post(
            "/v1/auth/verify-email",
            None,
            json!({"token": link, "password": "real-vic-password"}),
        )
        .await;
    assert_eq!(proven.ok(200), &json!({"email_verified": true}));
    let vic = env.login(&victim, "real-vic-password", Some(&t.id)).await;
    env.get(&format!("/v1/tenants/{}/members", t.id), &vic)
        .await
        .ok(200);
    assert_eq!(
        member_detail(&env, &t, &member_id).await["email_verified"],
        true
    );
    stranger_is_locked_out(&env, &victim, &t.id).await;
    env.assert_consistent().await;
}

/// The same through an import row in create mode.
#[tokio::test]
async fn hijack_join_registration_then_import_creates_the_member() {
    let env = Env::start().await;
    let door = env.tenant_with_owner("Door Co").await;
    let t = env.tenant_with_owner("Import Co").await;
    let victim = email("imp");
    stranger_registers(&env, &door, &victim).await;

    let job = env
        .import_create(&t, &format!("email,name\n{victim},Ima Imported\n"))
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["counts"],
        json!({"total": 1, "succeeded": 1, "failed": 0})
    );
    stranger_is_locked_out(&env, &victim, &t.id).await;

    let link = env.link_token_for(&victim, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "real-ima-password"}),
    )
    .await
    .ok(204);
    let ima = env.login(&victim, "real-ima-password", Some(&t.id)).await;
    let me = env.get("/v1/me", &ima).await;
    assert_eq!(me.ok(200)["user"]["email_verified"], true);
    stranger_is_locked_out(&env, &victim, &t.id).await;
    env.assert_consistent().await;
}

/// Unexpired session: whoever held a session before the owner took the account back through a
/// password reset (or a verify-email) holds nothing after. Adding a proven person to another
/// tenant, on the other hand, leaves their sessions alone.
#[tokio::test]
async fn hijack_unexpired_session_dies_with_the_reset() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Session Co").await;
    let pat = env.member_in(&t, "Pat", json!({})).await;
    // Someone else signed in with Pat's (leaked) password and keeps the session.
    let intruder = env.login(&pat.email, &pat.password, Some(&t.id)).await;

    env.post(
        "/v1/auth/password-reset/request",
        None,
        json!({"email": pat.email}),
    )
    .await
    .ok(202);
    let link = env.link_token_for(&pat.email, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "pat-password-2"}),
    )
    .await
    .ok(204);
    dead(&env, &intruder).await;
    dead(&env, &pat.token).await;
    env.get(&format!("/v1/tenants/{}/members", t.id), &intruder)
        .await
        .problem(401, "unauthorized");
    env.try_login(&pat.email, &pat.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    let pat_now = env.login(&pat.email, "pat-password-2", Some(&t.id)).await;

    // The intruder signs in again with the new password before Pat notices; Pat proves the
    // address again through an admin's reset link and verify-email: the intruder is out again.
    let intruder = env.login(&pat.email, "pat-password-2", Some(&t.id)).await;
    env.post(
        &format!(
            "/v1/tenants/{}/members/{}/reset-password",
            t.id, pat.member_id
        ),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(204);
    let link = env.link_token_for(&pat.email, "set-password").await;
    let proven = env
        .post(
            "/v1/auth/verify-email",
            None,
            json!({"token": link, "password": "pat-password-3"}),
        )
        .await;
    assert_eq!(proven.ok(200), &json!({"email_verified": true}));
    dead(&env, &intruder).await;
    dead(&env, &pat_now).await;
    let pat_now = env.login(&pat.email, "pat-password-3", Some(&t.id)).await;

    // Another tenant's admin adding proven Pat ends none of Pat's sessions.
    let other = env.tenant_with_owner("Other Co").await;
    env.post(
        &format!("/v1/tenants/{}/members", other.id),
        Some(&other.owner_token),
        json!({"email": pat.email, "name": "Pat Elsewhere", "department_id": other.root}),
    )
    .await
    .ok(201);
    env.get("/v1/me", &pat_now).await.ok(200);
    env.login(&pat.email, "pat-password-3", Some(&other.id))
        .await;
    env.assert_consistent().await;
}

/// Unexpired email change: Ada asks to move to address V; V's real owner proves V (accepting an
/// invitation as a new person); Ada's confirmation then fails with 409 and she keeps her address.
/// The confirm link clicked by someone else who is signed in does nothing.
#[tokio::test]
async fn hijack_unexpired_email_change_cannot_complete_after_the_owner_proved_the_address() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Change Co").await;
    let ada = env.member_in(&t, "Ada", json!({})).await;
    let v = email("vee");

    let asked = env
        .patch(
            "/v1/me",
            &ada.token,
            json!({"email": v, "current_password": ada.password}),
        )
        .await;
    let asked = asked.ok(202);
    assert_eq!(asked["pending_email"], v.as_str());
    assert_eq!(asked["user"]["email"], ada.email.as_str());
    let me = env.get("/v1/me", &ada.token).await;
    assert_eq!(me.ok(200)["user"]["email"], ada.email.as_str());
    let link = env.link_token_for(&v, "confirm-email").await;

    // Someone else signed in (here the tenant's owner) clicks the link: refused, nothing changes.
    env.post(
        "/v1/me/email/confirm",
        Some(&t.owner_token),
        json!({"token": link}),
    )
    .await
    .problem(400, "validation_failed");
    let owner = env.get("/v1/me", &t.owner_token).await;
    assert_eq!(owner.ok(200)["user"]["email"], t.owner_email.as_str());
    let me = env.get("/v1/me", &ada.token).await;
    assert_eq!(me.ok(200)["user"]["email"], ada.email.as_str());

    // V's real owner is invited and accepts as a new person: V is proven and taken.
    let invitation = env.invite(&t, &v).await;
    env.accept(
        &invitation,
        None,
        json!({"name": "Vee Owner", "password": "vee-password-1"}),
    )
    .await
    .ok(201);
    let vee = env.login(&v, "vee-password-1", Some(&t.id)).await;
    let vee_me = env.get("/v1/me", &vee).await;
    assert_eq!(vee_me.ok(200)["user"]["email_verified"], true);

    // Ada confirms too late.
    env.post(
        "/v1/me/email/confirm",
        Some(&ada.token),
        json!({"token": link}),
    )
    .await
    .problem(409, "conflict");
    let me = env.get("/v1/me", &ada.token).await;
    assert_eq!(me.ok(200)["user"]["email"], ada.email.as_str());
    env.login(&ada.email, &ada.password, Some(&t.id)).await;
    env.login(&v, "vee-password-1", Some(&t.id)).await;
    env.try_login(&v, &ada.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    env.assert_consistent().await;
}

/// Trojan identifier: a password chosen by an admin leaves the account unproven; whoever proves
/// the address chooses the password, and the admin's stops working.
#[tokio::test]
async fn hijack_trojan_identifier_admin_chosen_password_does_not_survive_proof() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Trojan Co").await;
    let nina = email("nina");
    let created = env
        .post(
            &format!("/v1/tenants/{}/members", t.id),
            Some(&t.owner_token),
            json!({"email": nina, "name": "Nina New", "department_id": t.root,
                   "password": "admin-chosen-1"}),
        )
        .await;
    let member_id = id(created.ok(201));
    assert_eq!(
        member_detail(&env, &t, &member_id).await["email_verified"],
        false
    );

    let before = env.links_mailed(&nina, "verify-email").await;
    env.try_login(&nina, "admin-chosen-1", Some(&t.id))
        .await
        .problem(403, "email_unverified");
    assert_eq!(env.links_mailed(&nina, "verify-email").await, before + 1);
    let link = env.link_token_for(&nina, "verify-email").await;
    let proven = env
        .post(
            "/v1/auth/verify-email",
            None,
            json!({"token": link, "password": "ninas-own-password"}),
        )
        .await;
    assert_eq!(proven.ok(200), &json!({"email_verified": true}));

    env.try_login(&nina, "admin-chosen-1", Some(&t.id))
        .await
        .problem(401, "unauthorized");
    let token = env.login(&nina, "ninas-own-password", Some(&t.id)).await;
    assert_eq!(
        env.get("/v1/me", &token).await.ok(200)["user"]["email_verified"],
        true
    );
    assert_eq!(
        member_detail(&env, &t, &member_id).await["email_verified"],
        true
    );
    // The link was single use; a made-up one is nothing.
    for token in [link.as_str(), "forged-token"] {
        env.post(
            "/v1/auth/verify-email",
            None,
            json!({"token": token, "password": "another-password-1"}),
        )
        .await
        .problem(400, "validation_failed");
    }
    env.login(&nina, "ninas-own-password", Some(&t.id)).await;
    env.assert_consistent().await;
}

/// Non-verifying identity: a stranger registered the address by join link; the real owner is
/// invited and accepts as a new person with a password of their own, which replaces the stranger's.
#[tokio::test]
async fn hijack_non_verifying_join_registration_then_invitation_accept_replaces_the_password() {
    let env = Env::start().await;
    let door = env.tenant_with_owner("Door Co").await;
    let t = env.tenant_with_owner("Invite Co").await;
    let victim = email("ivan");
    stranger_registers(&env, &door, &victim).await;

    let invitation = env.invite(&t, &victim).await;
    env.accept(
        &invitation,
        None,
        json!({"name": "Ivan Invited", "password": "ivans-own-password"}),
    )
    .await
    .ok(201);
    stranger_is_locked_out(&env, &victim, &t.id).await;
    let ivan = env.login(&victim, "ivans-own-password", Some(&t.id)).await;
    let me = env.get("/v1/me", &ivan).await;
    assert_eq!(me.ok(200)["user"]["email_verified"], true);
    assert_eq!(me.body["current"]["tenant_id"], t.id.as_str());
    env.assert_consistent().await;
}

/// The honest path of a join-link registrant: unproven until they follow the verification link
/// (typing their password again), then they sign in with their pending request.
#[tokio::test]
async fn a_person_who_joins_by_link_proves_the_address_then_signs_in() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Join Co").await;
    let code = env.join_code(&t).await;
    let jo = email("jo");
    let joined = env
        .join(
            &code,
            None,
            json!({"email": jo, "name": "Jo Joiner", "password": "jo-password-12"}),
        )
        .await;
    assert_eq!(
        joined.ok(202),
        &json!({"tenant_id": t.id, "status": "verification_sent"})
    );
    assert_eq!(env.links_mailed(&jo, "verify-email").await, 1);
    let requests = env
        .get(
            &format!("/v1/tenants/{}/join-requests", t.id),
            &t.owner_token,
        )
        .await;
    assert_eq!(requests.ok(200)["items"][0]["email"], jo.as_str());

    let token = env.prove_and_sign_in(&jo, "jo-password-12", None).await;
    let me = env.get("/v1/me", &token).await;
    assert_eq!(me.ok(200)["user"]["email_verified"], true);
    assert_eq!(me.body["memberships"][0]["status"], "pending");
    env.assert_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// Abuse limits (production defaults: Env::start_limited).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_in_from_one_address_is_throttled_at_the_eleventh_failure_and_recovers_after_retry_after()
 {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Throttle Co").await;
    let tia = env.member_in(&t, "Tia", json!({})).await;
    for attempt in 1..=10 {
        let answer = env.try_login(&tia.email, "wrong-password-1", None).await;
        assert_eq!(
            answer.status.as_u16(),
            401,
            "attempt {attempt}: {:?}",
            answer.body
        );
        answer.problem(401, "unauthorized");
    }
    // The 11th from the same address is refused even with the right password, and so is the
    // 12th (another address is not: tests/sign_in_limits.rs).
    let throttled = env.try_login(&tia.email, &tia.password, None).await;
    Env::retry_after(&throttled);
    let throttled = env.try_login(&tia.email, &tia.password, Some(&t.id)).await;
    let wait = Env::retry_after(&throttled);

    clock.advance(wait);
    env.login(&tia.email, &tia.password, Some(&t.id)).await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_throttled_sign_in_appears_in_the_tenants_sign_in_log() {
    let env = Env::start_limited(manual_clock()).await;
    let t = env.tenant_with_owner("Logged Co").await;
    let lou = env.member_in(&t, "Lou", json!({})).await;
    for _ in 0..10 {
        env.try_login(&lou.email, "wrong-password-1", Some(&t.id))
            .await
            .problem(401, "unauthorized");
    }
    Env::retry_after(&env.try_login(&lou.email, &lou.password, Some(&t.id)).await);

    let log = env
        .get(
            &format!("/v1/tenants/{}/login-log?limit=200", t.id),
            &t.owner_token,
        )
        .await;
    let entries: Vec<Value> = log.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["email"] == lou.email.as_str())
        .cloned()
        .collect();
    // Newest first: the throttled attempt, then the ten bad passwords.
    assert_eq!(entries[0]["success"], false, "{entries:?}");
    assert_eq!(entries[0]["failure"], "rate_limited", "{entries:?}");
    assert_eq!(entries[0]["source_ip"], "127.0.0.1");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["failure"] == "bad_password")
            .count(),
        10
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_hundred_failures_from_one_address_throttle_every_sign_in_from_it() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Spray Co").await;
    let fay = env.member_in(&t, "Fay", json!({})).await;
    for i in 0..100 {
        let answer = env
            .try_login(&email(&format!("spray{i}")), "wrong-password-1", None)
            .await;
        assert_eq!(
            answer.status.as_u16(),
            401,
            "attempt {i}: {:?}",
            answer.body
        );
    }
    // A fresh account, the right password, the same address: refused.
    let wait = Env::retry_after(&env.try_login(&fay.email, &fay.password, Some(&t.id)).await);
    clock.advance(wait);
    env.login(&fay.email, &fay.password, Some(&t.id)).await;
    env.assert_consistent().await;
}

/// Sends 30 attempts through `attempt(i)`, each of which must not be throttled, then asserts the
/// 31st (`last`) is 429 with Retry-After and, once the clock moved on by it, passes again.
async fn thirty_then_throttled<A, AF, L, LF>(clock: &Clock, what: &str, attempt: A, last: L)
where
    A: Fn(usize) -> AF,
    AF: Future<Output = Answer>,
    L: Fn() -> LF,
    LF: Future<Output = Answer>,
{
    for i in 0..30 {
        let answer = attempt(i).await;
        assert_ne!(
            answer.status.as_u16(),
            429,
            "{what}: attempt {} throttled: {:?}",
            i + 1,
            answer.body
        );
    }
    let throttled = last().await;
    assert_eq!(
        throttled.status.as_u16(),
        429,
        "{what}: 31st: {:?}",
        throttled.body
    );
    let wait = Env::retry_after(&throttled);
    clock.advance(wait);
    let again = last().await;
    assert!(
        again.status.is_success(),
        "{what}: after Retry-After: {} {:?}",
        again.status,
        again.body
    );
}

#[tokio::test]
async fn join_is_limited_per_address() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Join Limit Co").await;
    let code = env.join_code(&t).await;
    let domain = unique("joiners");
    let body = |i: usize| {
        json!({"email": format!("j{i}@{domain}.test"), "name": format!("Joiner {i}"),
               "password": "joiner-password-1"})
    };
    thirty_then_throttled(
        &clock,
        "join",
        |i| {
            let code = code.clone();
            let body = body(i);
            let env = &env;
            async move {
                let answer = env.join(&code, None, body).await;
                answer.ok(202);
                answer
            }
        },
        || env.join(&code, None, body(30)),
    )
    .await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn join_numbers_are_limited_per_address_previews_and_requests_alike() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Number Limit Co").await;
    env.set_settings(&t, json!({"join_rules": {"join_by_number": true}}))
        .await;
    let tenant = env
        .get(&format!("/v1/tenants/{}", t.id), &t.owner_token)
        .await;
    let number = tenant.ok(200)["join_number"].as_str().unwrap().to_string();
    let domain = unique("numbered");
    let door = format!("/v1/join/number/{number}");
    // A scan of the number space: wrong numbers count like the right one.
    thirty_then_throttled(
        &clock,
        "join-number",
        |i| {
            let env = &env;
            let number = number.clone();
            let domain = domain.clone();
            async move {
                match i % 3 {
                    0 => {
                        env.get_public(&format!("/v1/join/number/{}", 10_000_000 + i))
                            .await
                    }
                    1 => env.get_public(&format!("/v1/join/number/{number}")).await,
                    _ => {
                        let answer = env
                            .post(
                                &format!("/v1/join/number/{number}"),
                                None,
                                json!({"email": format!("n{i}@{domain}.test"),
                                       "name": "Numbered", "password": "numbered-password-1"}),
                            )
                            .await;
                        answer.ok(202);
                        answer
                    }
                }
            }
        },
        || env.get_public(&door),
    )
    .await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn invitation_accept_is_limited_per_address() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Accept Limit Co").await;
    let invitation = env.invite(&t, &email("acc")).await;
    thirty_then_throttled(
        &clock,
        "accept",
        |i| {
            let env = &env;
            async move {
                env.accept(
                    &format!("not-a-token-{i}"),
                    None,
                    json!({"name": "Guess", "password": "guess-password-1"}),
                )
                .await
            }
        },
        || {
            env.accept(
                &invitation,
                None,
                json!({"name": "Acc Accepted", "password": "acc-password-12"}),
            )
        },
    )
    .await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn password_reset_request_is_limited_per_address() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Reset Limit Co").await;
    let domain = unique("resets");
    thirty_then_throttled(
        &clock,
        "password-reset/request",
        |i| {
            let env = &env;
            let address = format!("r{i}@{domain}.test");
            async move {
                let answer = env
                    .post(
                        "/v1/auth/password-reset/request",
                        None,
                        json!({"email": address}),
                    )
                    .await;
                answer.ok(202);
                answer
            }
        },
        || {
            env.post(
                "/v1/auth/password-reset/request",
                None,
                json!({"email": t.owner_email}),
            )
        },
    )
    .await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn verification_resend_is_limited_per_address() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Resend Limit Co").await;
    let domain = unique("resends");
    thirty_then_throttled(
        &clock,
        "verify-email/resend",
        |i| {
            let env = &env;
            let address = format!("v{i}@{domain}.test");
            async move {
                let answer = env
                    .post(
                        "/v1/auth/verify-email/resend",
                        None,
                        json!({"email": address}),
                    )
                    .await;
                answer.ok(202);
                answer
            }
        },
        || {
            env.post(
                "/v1/auth/verify-email/resend",
                None,
                json!({"email": t.owner_email}),
            )
        },
    )
    .await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn client_credential_grants_are_limited_per_address() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Grant Limit Co").await;
    env.enable_api_access(&t).await;
    let client = env
        .post(
            &format!("/v1/tenants/{}/api-clients", t.id),
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read"]}),
        )
        .await;
    let client = client.ok(201).clone();
    let grant = |secret: &str| {
        env.post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": client["id"],
                   "client_secret": secret}),
        )
    };
    for i in 0..100 {
        let answer = grant("wrong-secret").await;
        assert_eq!(answer.status.as_u16(), 401, "grant {i}: {:?}", answer.body);
    }
    let secret = client["client_secret"].as_str().expect("secret");
    let wait = Env::retry_after(&grant(secret).await);
    clock.advance(wait);
    grant(secret).await.ok(200);
    env.assert_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// No enumeration.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_in_answers_alike_for_existing_and_unknown_accounts() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Alike Co").await;
    let kim = env.member_in(&t, "Kim", json!({})).await;
    let code = env.join_code(&t).await;
    let unproven = email("unproven");
    env.join(
        &code,
        None,
        json!({"email": unproven, "name": "Una Proven", "password": "una-password-12"}),
    )
    .await
    .ok(202);
    let unknown = email("nobody");

    let known = env.try_login(&kim.email, "wrong-password-1", None).await;
    known.problem(401, "unauthorized");
    let reference = comparable(&known);
    for (address, tenant) in [
        (unproven.as_str(), None),
        (unknown.as_str(), None),
        (kim.email.as_str(), Some(t.id.as_str())),
        (unknown.as_str(), Some(t.id.as_str())),
    ] {
        let answer = env.try_login(address, "wrong-password-1", tenant).await;
        assert_eq!(comparable(&answer), reference, "{address} in {tenant:?}");
    }

    // Time: existing and unknown interleaved, after one warm-up each.
    env.try_login(&kim.email, "wrong-password-1", None).await;
    env.try_login(&unknown, "wrong-password-1", None).await;
    let (mut existing, mut missing) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (a, d) = timed(env.try_login(&kim.email, "wrong-password-1", None)).await;
        a.problem(401, "unauthorized");
        existing.push(d);
        let (a, d) = timed(env.try_login(&unknown, "wrong-password-1", None)).await;
        a.problem(401, "unauthorized");
        missing.push(d);
    }
    alike_in_time("sign-in", existing, missing);
    env.assert_consistent().await;
}

#[tokio::test]
async fn join_answers_alike_for_new_and_existing_addresses() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Door Co").await;
    let other = env.tenant_with_owner("Elsewhere").await;
    let code = env.join_code(&t).await;
    let body = |address: &str| json!({"email": address, "name": "Jay Joiner", "password": "jay-password-12"});
    let expected = json!({"tenant_id": t.id, "status": "verification_sent"});

    let newcomer = email("new");
    let other_mails = env.mails_to(&other.owner_email).await.len();
    let first = env.join(&code, None, body(&newcomer)).await;
    assert_eq!(first.ok(202), &expected, "a new address");
    for (what, address) in [
        ("an account of another tenant", &other.owner_email),
        ("the unproven account just made", &newcomer),
        ("a member of this very tenant", &t.owner_email),
    ] {
        let answer = env.join(&code, None, body(address)).await;
        assert_eq!(
            comparable(&answer),
            comparable(&first),
            "{what} answers like a new address"
        );
    }
    // The newcomer got an unproven account, a pending request and a verification mail; the
    // existing account only a mail.
    assert!(env.links_mailed(&newcomer, "verify-email").await >= 1);
    assert!(env.mails_to(&other.owner_email).await.len() > other_mails);
    let requests = env
        .get(
            &format!("/v1/tenants/{}/join-requests?limit=200", t.id),
            &t.owner_token,
        )
        .await;
    let asked: Vec<&str> = requests.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["email"].as_str().expect("email"))
        .collect();
    assert_eq!(asked, vec![newcomer.as_str()]);
    let me = env.get("/v1/me", &other.owner_token).await;
    assert_eq!(
        me.ok(200)["memberships"]
            .as_array()
            .expect("memberships")
            .len(),
        1
    );

    // The whole body is validated first, whoever the address belongs to.
    let incomplete = |address: &str| json!({"email": address, "name": "Jay Joiner"});
    let fresh = env.join(&code, None, incomplete(&email("half"))).await;
    fresh.problem(400, "validation_failed");
    let existing = env.join(&code, None, incomplete(&other.owner_email)).await;
    assert_eq!(comparable(&existing), comparable(&fresh));

    // Time: new addresses and an existing one interleaved, after one warm-up each.
    env.join(&code, None, body(&email("warm"))).await.ok(202);
    env.join(&code, None, body(&other.owner_email))
        .await
        .ok(202);
    let (mut new, mut old) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let (a, d) = timed(env.join(&code, None, body(&email(&format!("n{i}"))))).await;
        a.ok(202);
        new.push(d);
        let (a, d) = timed(env.join(&code, None, body(&other.owner_email))).await;
        a.ok(202);
        old.push(d);
    }
    alike_in_time("join", new, old);
    env.assert_consistent().await;
}

#[tokio::test]
async fn password_reset_request_answers_alike_for_existing_and_unknown_accounts() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Reset Co").await;
    let rex = env.member_in(&t, "Rex", json!({})).await;
    let unknown = email("nobody");
    let request = |address: &str| {
        env.post(
            "/v1/auth/password-reset/request",
            None,
            json!({"email": address}),
        )
    };
    let before = env.links_mailed(&rex.email, "set-password").await;
    let existing = request(&rex.email).await;
    let missing = request(&unknown).await;
    existing.ok(202);
    assert_eq!(existing.body, Value::Null);
    assert_eq!(comparable(&existing), comparable(&missing));
    assert_eq!(
        env.links_mailed(&rex.email, "set-password").await,
        before + 1
    );
    assert!(env.mails_to(&unknown).await.is_empty());

    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (answer, d) = timed(request(&rex.email)).await;
        answer.ok(202);
        a.push(d);
        let (answer, d) = timed(request(&unknown)).await;
        answer.ok(202);
        b.push(d);
    }
    alike_in_time("password-reset request", a, b);
    env.assert_consistent().await;
}

#[tokio::test]
async fn verification_resend_answers_alike_whatever_the_address() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Resend Co").await;
    let kim = env.member_in(&t, "Kim", json!({})).await;
    let code = env.join_code(&t).await;
    let unproven = email("unproven");
    env.join(
        &code,
        None,
        json!({"email": unproven, "name": "Una Proven", "password": "una-password-12"}),
    )
    .await
    .ok(202);
    let unknown = email("nobody");
    let resend = |address: &str| {
        env.post(
            "/v1/auth/verify-email/resend",
            None,
            json!({"email": address}),
        )
    };
    let (unproven_links, kim_mails) = (
        env.links_mailed(&unproven, "verify-email").await,
        env.mails_to(&kim.email).await.len(),
    );
    let answers = [
        resend(&unproven).await,
        resend(&kim.email).await,
        resend(&unknown).await,
    ];
    for answer in &answers {
        answer.ok(202);
        assert_eq!(answer.body, Value::Null);
        assert_eq!(comparable(answer), comparable(&answers[0]));
    }
    // Mail only to the unproven account.
    assert_eq!(
        env.links_mailed(&unproven, "verify-email").await,
        unproven_links + 1
    );
    assert_eq!(env.mails_to(&kim.email).await.len(), kim_mails);
    assert!(env.mails_to(&unknown).await.is_empty());

    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (answer, d) = timed(resend(&unproven)).await;
        answer.ok(202);
        a.push(d);
        let (answer, d) = timed(resend(&unknown)).await;
        answer.ok(202);
        b.push(d);
    }
    alike_in_time("verification resend", a, b);
    env.assert_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// Every way a session ends.
// ---------------------------------------------------------------------------------------------

/// Two more sessions of `p` and two outstanding links: an admin's reset link and a self-service
/// reset link (both set-password links). Returns (second session, admin link, self link).
async fn sessions_and_links(env: &Env, t: &Tenant, p: &Person) -> (String, String, String) {
    let second = env.login(&p.email, &p.password, Some(&t.id)).await;
    env.post(
        &format!(
            "/v1/tenants/{}/members/{}/reset-password",
            t.id, p.member_id
        ),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(204);
    let admin_link = env.link_token_for(&p.email, "set-password").await;
    env.post(
        "/v1/auth/password-reset/request",
        None,
        json!({"email": p.email}),
    )
    .await
    .ok(202);
    let self_link = env.link_token_for(&p.email, "set-password").await;
    assert_ne!(admin_link, self_link);
    (second, admin_link, self_link)
}

async fn link_is_dead(env: &Env, link: &str) {
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "late-password-12"}),
    )
    .await
    .problem(400, "validation_failed");
    env.post(
        "/v1/auth/verify-email",
        None,
        json!({"token": link, "password": "late-password-12"}),
    )
    .await
    .problem(400, "validation_failed");
}

#[tokio::test]
async fn a_password_change_returns_a_fresh_token_and_ends_every_other_session_and_link() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Change Co").await;
    let pam = env.member_in(&t, "Pam", json!({})).await;
    let (second, admin_link, self_link) = sessions_and_links(&env, &t, &pam).await;

    let changed = env
        .post(
            "/v1/auth/password",
            Some(&pam.token),
            json!({"current_password": pam.password, "new_password": "pam-password-2"}),
        )
        .await;
    let fresh = changed.ok(200)["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    env.get("/v1/me", &fresh).await.ok(200);
    env.get(&format!("/v1/tenants/{}/members", t.id), &fresh)
        .await
        .ok(200);
    dead(&env, &pam.token).await;
    dead(&env, &second).await;
    env.get(&format!("/v1/tenants/{}/members", t.id), &second)
        .await
        .problem(401, "unauthorized");
    link_is_dead(&env, &admin_link).await;
    link_is_dead(&env, &self_link).await;
    env.try_login(&pam.email, &pam.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    env.login(&pam.email, "pam-password-2", Some(&t.id)).await;
    env.get("/v1/me", &fresh).await.ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_password_reset_ends_every_session_and_every_other_link() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Reset Co").await;
    let rae = env.member_in(&t, "Rae", json!({})).await;
    let (second, admin_link, self_link) = sessions_and_links(&env, &t, &rae).await;

    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": self_link, "new_password": "rae-password-2"}),
    )
    .await
    .ok(204);
    dead(&env, &rae.token).await;
    dead(&env, &second).await;
    link_is_dead(&env, &admin_link).await;
    link_is_dead(&env, &self_link).await;
    env.try_login(&rae.email, &rae.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    let fresh = env.login(&rae.email, "rae-password-2", Some(&t.id)).await;
    assert_eq!(
        env.get("/v1/me", &fresh).await.ok(200)["user"]["email_verified"],
        true
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn verify_email_ends_every_session_and_every_other_link() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Verify Co").await;
    let val = env.member_in(&t, "Val", json!({})).await;
    let (second, admin_link, self_link) = sessions_and_links(&env, &t, &val).await;

    let proven = env
        .post(
            "/v1/auth/verify-email",
            None,
            json!({"token": self_link, "password": "val-password-2"}),
        )
        .await;
    assert_eq!(proven.ok(200), &json!({"email_verified": true}));
    dead(&env, &val.token).await;
    dead(&env, &second).await;
    link_is_dead(&env, &admin_link).await;
    env.try_login(&val.email, &val.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    env.login(&val.email, "val-password-2", Some(&t.id)).await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_confirmed_email_change_gives_a_fresh_token_and_ends_every_other_session_and_link() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Move Co").await;
    let eve = env.member_in(&t, "Eve", json!({})).await;
    let (second, admin_link, _) = sessions_and_links(&env, &t, &eve).await;
    let new_address = email("eve-new");
    let old_mails = env.mails_to(&eve.email).await.len();

    let asked = env
        .patch(
            "/v1/me",
            &eve.token,
            json!({"email": new_address, "current_password": eve.password}),
        )
        .await;
    assert_eq!(asked.ok(202)["pending_email"], new_address.as_str());
    // Not changed yet; the old address got a notice.
    assert_eq!(
        env.get("/v1/me", &eve.token).await.ok(200)["user"]["email"],
        eve.email.as_str()
    );
    assert_eq!(env.mails_to(&eve.email).await.len(), old_mails + 1);
    let link = env.link_token_for(&new_address, "confirm-email").await;

    let confirmed = env
        .post(
            "/v1/me/email/confirm",
            Some(&eve.token),
            json!({"token": link}),
        )
        .await;
    let confirmed = confirmed.ok(200).clone();
    assert_eq!(confirmed["user"]["email"], new_address.as_str());
    assert_eq!(confirmed["user"]["email_verified"], true);
    let fresh = confirmed["access_token"].as_str().expect("access_token");
    let me = env.get("/v1/me", fresh).await;
    assert_eq!(me.ok(200)["user"]["email"], new_address.as_str());
    dead(&env, &eve.token).await;
    dead(&env, &second).await;
    link_is_dead(&env, &admin_link).await;
    // Used once.
    env.post("/v1/me/email/confirm", Some(fresh), json!({"token": link}))
        .await
        .problem(400, "validation_failed");
    env.try_login(&eve.email, &eve.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    env.login(&new_address, &eve.password, Some(&t.id)).await;
    let member = member_detail(&env, &t, &eve.member_id).await;
    assert_eq!(member["email"], new_address.as_str());
    assert_eq!(member["email_verified"], true);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_pending_email_change_expires_after_24_hours() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Slow Co").await;
    let sam = env.member_in(&t, "Sam", json!({})).await;
    let new_address = email("sam-new");
    env.patch(
        "/v1/me",
        &sam.token,
        json!({"email": new_address, "current_password": sam.password}),
    )
    .await
    .ok(202);
    let link = env.link_token_for(&new_address, "confirm-email").await;

    clock.advance(24 * 3600 + 60);
    let token = env.login(&sam.email, &sam.password, Some(&t.id)).await;
    env.post("/v1/me/email/confirm", Some(&token), json!({"token": link}))
        .await
        .problem(400, "validation_failed");
    assert_eq!(
        env.get("/v1/me", &token).await.ok(200)["user"]["email"],
        sam.email.as_str()
    );
    env.try_login(&new_address, &sam.password, Some(&t.id))
        .await
        .problem(401, "unauthorized");
    env.assert_consistent().await;
}

/// A refused token of a disabled or deleted member: 401, or 403 `account_disabled`.
#[track_caller]
fn refused(answer: &Answer) {
    match answer.status.as_u16() {
        401 => {
            answer.problem(401, "unauthorized");
        }
        _ => {
            answer.problem(403, "account_disabled");
        }
    }
}

#[tokio::test]
async fn disabling_a_member_ends_their_sessions_even_once_enabled_again() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Disable Co").await;
    let dan = env.member_in(&t, "Dan", json!({})).await;
    let dir = format!("/v1/tenants/{}/members", t.id);
    let path = format!("{dir}/{}", dan.member_id);
    env.get(&dir, &dan.token).await.ok(200);

    env.patch(&path, &t.owner_token, json!({"status": "disabled"}))
        .await
        .ok(200);
    refused(&env.get(&dir, &dan.token).await);
    env.patch(&path, &t.owner_token, json!({"status": "active"}))
        .await
        .ok(200);
    env.get(&dir, &dan.token).await.problem(401, "unauthorized");
    dead(&env, &dan.token).await;
    let fresh = env.login(&dan.email, &dan.password, Some(&t.id)).await;
    env.get(&dir, &fresh).await.ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn bulk_disabling_members_ends_their_sessions_even_once_enabled_again() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Bulk Co").await;
    let bo = env.member_in(&t, "Bo", json!({})).await;
    let cy = env.member_in(&t, "Cy", json!({})).await;
    let dir = format!("/v1/tenants/{}/members", t.id);
    let bulk = format!("{dir}/bulk-status");
    let ids = json!([bo.member_id, cy.member_id]);

    let done = env
        .post(
            &bulk,
            Some(&t.owner_token),
            json!({"member_ids": ids, "status": "disabled"}),
        )
        .await;
    assert_eq!(done.ok(200)["updated"], 2);
    refused(&env.get(&dir, &bo.token).await);
    refused(&env.get(&dir, &cy.token).await);
    env.post(
        &bulk,
        Some(&t.owner_token),
        json!({"member_ids": ids, "status": "active"}),
    )
    .await
    .ok(200);
    for p in [&bo, &cy] {
        env.get(&dir, &p.token).await.problem(401, "unauthorized");
        let fresh = env.login(&p.email, &p.password, Some(&t.id)).await;
        env.get(&dir, &fresh).await.ok(200);
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn deleting_a_member_ends_their_sessions_even_once_restored() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Delete Co").await;
    let del = env.member_in(&t, "Del", json!({})).await;
    let dir = format!("/v1/tenants/{}/members", t.id);
    env.delete(&format!("{dir}/{}", del.member_id), &t.owner_token)
        .await
        .ok(204);
    refused(&env.get(&dir, &del.token).await);
    env.post(
        &format!("/v1/tenants/{}/recycle-bin/{}/restore", t.id, del.member_id),
        Some(&t.owner_token),
        json!({"department_id": t.root}),
    )
    .await
    .ok(200);
    env.get(&dir, &del.token).await.problem(401, "unauthorized");
    dead(&env, &del.token).await;
    let fresh = env.login(&del.email, &del.password, Some(&t.id)).await;
    env.get(&dir, &fresh).await.ok(200);
    env.assert_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// IP allowlists (§8.2).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_departments_ip_allowlist_needs_settings_write() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Allow Co").await;
    let lab = env.department_in(&t, "Lab").await;
    let lab_path = format!("/v1/tenants/{}/departments/{lab}", t.id);
    let ed = env
        .member_in(
            &t,
            "Ed",
            json!({"role": "admin", "permissions": ["departments.write"]}),
        )
        .await;
    env.patch(
        &lab_path,
        &ed.token,
        json!({"settings": {"ip_allowlist": ["127.0.0.1/32"]}}),
    )
    .await
    .problem(403, "forbidden");
    env.post(
        &format!("/v1/tenants/{}/departments", t.id),
        Some(&ed.token),
        json!({"name": "Annex", "parent_id": t.root,
               "settings": {"ip_allowlist": ["127.0.0.1/32"]}}),
    )
    .await
    .problem(403, "forbidden");
    // departments.write still renames.
    let renamed = env
        .patch(&lab_path, &ed.token, json!({"name": "Laboratory"}))
        .await;
    assert_eq!(renamed.ok(200)["settings"]["ip_allowlist"], Value::Null);

    let sol = env
        .member_in(
            &t,
            "Sol",
            json!({"role": "admin", "permissions": ["departments.write", "settings.write"]}),
        )
        .await;
    let set = env
        .patch(
            &lab_path,
            &sol.token,
            json!({"settings": {"ip_allowlist": ["127.0.0.1/32"]}}),
        )
        .await;
    assert_eq!(
        set.ok(200)["settings"]["ip_allowlist"],
        json!(["127.0.0.1/32"])
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_departments_ip_allowlist_narrows_the_tenants() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Narrow Co").await;
    let lab = env.department_in(&t, "Lab").await;
    let ivy = env
        .member_in(&t, "Ivy", json!({"department_id": lab}))
        .await;
    let tenant_path = format!("/v1/tenants/{}", t.id);
    let lab_path = format!("{tenant_path}/departments/{lab}");
    let allow = |path: String, list: Value| {
        let env = &env;
        let token = t.owner_token.clone();
        async move {
            env.patch(&path, &token, json!({"settings": {"ip_allowlist": list}}))
                .await
                .ok(200);
        }
    };

    // Loopback passes the tenant's list but not the department's.
    allow(tenant_path.clone(), json!(["127.0.0.0/8"])).await;
    allow(lab_path.clone(), json!(["10.0.0.0/8"])).await;
    env.try_login(&ivy.email, &ivy.password, Some(&t.id))
        .await
        .problem(403, "ip_not_allowed");
    // Both pass.
    allow(lab_path.clone(), json!(["127.0.0.1/32"])).await;
    env.login(&ivy.email, &ivy.password, Some(&t.id)).await;
    // The department's list allows loopback, the tenant's does not: refused.
    allow(tenant_path.clone(), json!(["10.0.0.0/8"])).await;
    env.try_login(&ivy.email, &ivy.password, Some(&t.id))
        .await
        .problem(403, "ip_not_allowed");
    env.assert_consistent().await;
}

#[tokio::test]
async fn an_api_clients_token_is_held_to_the_tenants_current_allowlist() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Client Co").await;
    env.enable_api_access(&t).await;
    let client = env
        .post(
            &format!("/v1/tenants/{}/api-clients", t.id),
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read"]}),
        )
        .await;
    let client = client.ok(201).clone();
    let grant = env
        .post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": client["id"],
                   "client_secret": client["client_secret"]}),
        )
        .await;
    let token = grant.ok(200)["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let members = format!("/v1/tenants/{}/members", t.id);
    env.get(&members, &token).await.ok(200);

    env.set_settings(&t, json!({"ip_allowlist": ["10.0.0.0/8"]}))
        .await;
    env.get(&members, &token)
        .await
        .problem(403, "ip_not_allowed");
    env.assert_consistent().await;
}
