//! Sessions for people (SPEC.md §9.4) as a client sees them: the refresh cookie sign-in sets,
//! refresh with rotation, a reused refresh token ending the whole session (races included), idle
//! and absolute expiry, every way SPEC.md §8.1 ends sessions, signing out, and the caller's list
//! of sessions with ending one (never another person's).

use roster_shared::app::Clock;
use roster_shared::limits::Limits;
use roster_tests::sessions::{COOKIE, Session, cookie_token, session_of, set_cookies};
use roster_tests::{Answer, Env, Person, Tenant, unique};
use serde_json::{Value, json};

const WEEK: i64 = 7 * 24 * 3600;
const HOUR: i64 = 3600;

fn manual_clock() -> Clock {
    Clock::manual(time::OffsetDateTime::now_utc())
}

/// The cookie a sign-in or refresh sets, exactly, for a session ending in `max_age` seconds.
fn expected_cookie(token: &str, max_age: i64) -> String {
    format!("{COOKIE}={token}; Path=/v1/auth; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict")
}

const CLEARED: &str =
    "__Secure-roster_refresh=; Path=/v1/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict";

/// A refused refresh: 401, and the useless cookie cleared.
#[track_caller]
fn refused(answer: &Answer) {
    answer.problem(401, "unauthorized");
    assert_eq!(set_cookies(answer), [CLEARED]);
}

/// Asserts that an access token opens nothing any more.
async fn dead(env: &Env, access: &str) {
    env.get("/v1/me", access).await.problem(401, "unauthorized");
}

/// A tenant with one member, `name`, signed in (the member's `token` is a session of its own).
async fn tenant_and_member(env: &Env, name: &str) -> (Tenant, Person) {
    let t = env.tenant_with_owner(&format!("{name} Co")).await;
    let p = env.member_in(&t, name, json!({})).await;
    (t, p)
}

/// The ids of the sessions `access` lists.
async fn listed(env: &Env, access: &str) -> Vec<String> {
    env.get("/v1/me/sessions", access).await.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect()
}

/// The id of the session `access` belongs to, as its list says (`current`).
async fn current_id(env: &Env, access: &str) -> String {
    let list = env.get("/v1/me/sessions", access).await;
    let items = list.ok(200)["items"].as_array().expect("items").clone();
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "one current session: {items:?}");
    current[0]["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn sign_in_sets_the_refresh_cookie_and_answers_the_token_in_the_body_only_when_asked() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Cora").await;

    let signed = env
        .sign_in(&p.email, &p.password, json!({"tenant_id": t.id}))
        .await;
    let body = signed.ok(200).clone();
    let token = cookie_token(&signed);
    assert_eq!(set_cookies(&signed), [expected_cookie(&token, WEEK)]);
    // The body is what clients coded against, unchanged: no refresh token in it.
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "member_id",
            "platform_admin",
            "tenant_id",
            "token_type"
        ]
    );
    assert_eq!(body["member_id"], p.member_id.as_str());

    let asked = env
        .sign_in(
            &p.email,
            &p.password,
            json!({"tenant_id": t.id, "refresh": "body"}),
        )
        .await;
    let in_body = asked.ok(200)["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    assert_eq!(in_body, cookie_token(&asked));
    assert_ne!(in_body, token);
    env.sign_in(&p.email, &p.password, json!({"refresh": "header"}))
        .await
        .problem(400, "validation_failed");

    // A platform operator's sign-in starts a session too, and its refresh keeps the scope.
    let admin = env
        .sign_in(&env.admin_email, &env.admin_password, json!({}))
        .await;
    let operator = session_of(&admin);
    let refreshed = env.refresh_by_cookie(&operator.refresh).await;
    assert_eq!(refreshed.ok(200)["platform_admin"], true);
    env.get("/v1/tenants", &session_of(&refreshed).access)
        .await
        .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_the_spent_one_is_refused() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Rory").await;
    let first = env.session(&p.email, &p.password, &t.id).await;

    let refreshed = env.refresh_by_cookie(&first.refresh).await;
    let body = refreshed.ok(200).clone();
    let second = session_of(&refreshed);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        set_cookies(&refreshed),
        [expected_cookie(&second.refresh, WEEK)]
    );
    // Answered as sign-in answers, for the same membership; no refresh token in the body.
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["tenant_id"], t.id.as_str());
    assert_eq!(body["member_id"], p.member_id.as_str());
    assert!(body.get("refresh_token").is_none());
    env.get(&format!("/v1/tenants/{}/members", t.id), &second.access)
        .await
        .ok(200);
    // The first access token belongs to the same session and still works.
    env.get("/v1/me", &first.access).await.ok(200);

    refused(&env.refresh_by_cookie(&first.refresh).await);

    // Without a token, or with a made-up one: 401 as well.
    refused(&env.refresh_by_body(json!({})).await);
    let forged = format!("{}.{}", uuid::Uuid::now_v7().simple(), "A".repeat(43));
    refused(&env.refresh_by_cookie(&forged).await);
    env.refresh_by_body(json!({"refresh_token": 5}))
        .await
        .problem(400, "validation_failed");
}

#[tokio::test]
async fn a_client_that_keeps_the_token_refreshes_with_the_body() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Bode").await;
    let signed = env
        .sign_in(
            &p.email,
            &p.password,
            json!({"tenant_id": t.id, "refresh": "body"}),
        )
        .await;
    let token = signed.ok(200)["refresh_token"]
        .as_str()
        .expect("token")
        .to_string();

    // A token sent in the body comes back in the body (and in the cookie).
    let refreshed = env.refresh_by_body(json!({"refresh_token": token})).await;
    let next = refreshed.ok(200)["refresh_token"]
        .as_str()
        .expect("next")
        .to_string();
    assert_eq!(next, cookie_token(&refreshed));
    // Asked for the cookie only, it is not in the body.
    let again = env
        .refresh_by_body(json!({"refresh_token": next, "refresh": "cookie"}))
        .await;
    assert!(again.ok(200).get("refresh_token").is_none());
    let last = cookie_token(&again);
    // Asking for the body without any token refreshes nothing.
    refused(&env.refresh_by_body(json!({"refresh": "body"})).await);
    let by_cookie = env.refresh_by_cookie(&last).await;
    env.get("/v1/me", &session_of(&by_cookie).access)
        .await
        .ok(200);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_whole_session() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Remy").await;
    let first = env.session(&p.email, &p.password, &t.id).await;
    let other = env.session(&p.email, &p.password, &t.id).await;
    let second = session_of(&env.refresh_by_cookie(&first.refresh).await);
    let third = session_of(&env.refresh_by_cookie(&second.refresh).await);

    // The first token again (a thief's copy, or the owner's): the session ends.
    refused(&env.refresh_by_cookie(&first.refresh).await);
    refused(&env.refresh_by_cookie(&third.refresh).await);
    for access in [&first.access, &second.access, &third.access] {
        dead(&env, access).await;
    }
    // The person's other session is untouched.
    env.get("/v1/me", &other.access).await.ok(200);
    env.refresh_by_cookie(&other.refresh).await.ok(200);
    // The tenant's audit log names the reuse.
    assert!(
        env.audit_actions(&t)
            .await
            .contains(&"session.refresh_reused".to_string())
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn two_refreshes_racing_with_one_token_end_the_session() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Race").await;
    for _ in 0..3 {
        let s = env.session(&p.email, &p.password, &t.id).await;
        let (a, b) = tokio::join!(
            env.refresh_by_cookie(&s.refresh),
            env.refresh_by_cookie(&s.refresh)
        );
        let (won, lost) = match (a.status.as_u16(), b.status.as_u16()) {
            (200, 401) => (a, b),
            (401, 200) => (b, a),
            other => panic!(
                "expected one 200 and one 401, got {other:?}: {:?} {:?}",
                a.body, b.body
            ),
        };
        refused(&lost);
        let winner = session_of(&won);
        // The winner's tokens belong to the ended session.
        refused(&env.refresh_by_cookie(&winner.refresh).await);
        dead(&env, &winner.access).await;
        dead(&env, &s.access).await;
    }
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_session_idles_out_12_hours_after_its_last_use() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let (t, p) = tenant_and_member(&env, "Ida").await;
    let s = env.session(&p.email, &p.password, &t.id).await;

    clock.advance(12 * HOUR - 60);
    let used = env.refresh_by_cookie(&s.refresh).await;
    let next = session_of(&used);
    assert_eq!(
        set_cookies(&used),
        [expected_cookie(&next.refresh, WEEK - 12 * HOUR + 60)]
    );
    clock.advance(12 * HOUR);
    refused(&env.refresh_by_cookie(&next.refresh).await);
    // Signing in again is a new session.
    let fresh = env.session(&p.email, &p.password, &t.id).await;
    env.refresh_by_cookie(&fresh.refresh).await.ok(200);
}

#[tokio::test]
async fn a_session_ends_7_days_after_its_sign_in_however_often_it_is_refreshed() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let (t, p) = tenant_and_member(&env, "Abe").await;
    let mut s = env.session(&p.email, &p.password, &t.id).await;
    let mut elapsed = 0;
    // Refreshed every 11 hours: 15 refreshes reach 165 hours, inside the week.
    for _ in 0..15 {
        clock.advance(11 * HOUR);
        elapsed += 11 * HOUR;
        let refreshed = env.refresh_by_cookie(&s.refresh).await;
        s = session_of(&refreshed);
        assert_eq!(
            set_cookies(&refreshed),
            [expected_cookie(&s.refresh, WEEK - elapsed)]
        );
    }
    env.get("/v1/me", &s.access).await.ok(200);
    clock.advance(WEEK - elapsed);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    // The session's last access token has run out with it.
    dead(&env, &s.access).await;
}

#[tokio::test]
async fn changing_an_expired_password_completes_the_sign_in_and_starts_its_session() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let (t, p) = tenant_and_member(&env, "Exp").await;
    env.set_settings(&t, json!({"password_expiry_days": 30}))
        .await;
    clock.advance(31 * 24 * HOUR);

    let expired = env
        .sign_in(&p.email, &p.password, json!({"tenant_id": t.id}))
        .await;
    expired.problem(403, "password_expired");
    assert!(
        set_cookies(&expired).is_empty(),
        "no session before the change"
    );
    let change = expired.body["access_token"]
        .as_str()
        .expect("a change token");
    let changed = env
        .post(
            "/v1/auth/password",
            Some(change),
            json!({"current_password": p.password, "new_password": "exp-password-2",
                   "refresh": "body"}),
        )
        .await;
    let token = changed.ok(200)["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    assert_eq!(set_cookies(&changed), [expected_cookie(&token, WEEK)]);
    let next = session_of(&env.refresh_by_cookie(&token).await);
    env.get(&format!("/v1/tenants/{}/members", t.id), &next.access)
        .await
        .ok(200);
}

#[tokio::test]
async fn a_deleting_tenant_refreshes_nothing() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Gone").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    let admin = env.admin_token().await;
    env.delete(&format!("/v1/tenants/{}", t.id), &admin)
        .await
        .ok(202);
    refused(&env.refresh_by_cookie(&s.refresh).await);
}

// ---------------------------------------------------------------------------------------------
// SPEC.md §8.1: what ends every session ends refresh tokens.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_password_change_ends_every_other_sessions_refresh_token_and_keeps_the_callers() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Pam").await;
    let mine = env.session(&p.email, &p.password, &t.id).await;
    let other = env.session(&p.email, &p.password, &t.id).await;

    let changed = env
        .post(
            "/v1/auth/password",
            Some(&mine.access),
            json!({"current_password": p.password, "new_password": "pam-password-2"}),
        )
        .await;
    let fresh = changed.ok(200)["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    refused(&env.refresh_by_cookie(&other.refresh).await);
    dead(&env, &other.access).await;
    // The caller's own session goes on: its fresh token and its refresh token.
    env.get("/v1/me", &fresh).await.ok(200);
    let next = session_of(&env.refresh_by_cookie(&mine.refresh).await);
    env.get("/v1/me", &next.access).await.ok(200);
    env.get("/v1/me", &fresh).await.ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_password_reset_ends_every_refresh_token() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Rae").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    env.post(
        "/v1/auth/password-reset/request",
        None,
        json!({"email": p.email}),
    )
    .await
    .ok(202);
    let link = env.link_token_for(&p.email, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "rae-password-2"}),
    )
    .await
    .ok(204);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    dead(&env, &s.access).await;
    // A refused sign-in starts nothing; the new password starts a session that refreshes.
    let old = env
        .sign_in(&p.email, &p.password, json!({"tenant_id": t.id}))
        .await;
    old.problem(401, "unauthorized");
    assert!(
        set_cookies(&old).is_empty(),
        "a refused sign-in sets no cookie"
    );
    let fresh = env.session(&p.email, "rae-password-2", &t.id).await;
    env.refresh_by_cookie(&fresh.refresh).await.ok(200);
}

#[tokio::test]
async fn an_email_change_ends_every_other_sessions_refresh_token_and_keeps_the_callers() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Eve").await;
    let mine = env.session(&p.email, &p.password, &t.id).await;
    let other = env.session(&p.email, &p.password, &t.id).await;
    let new_address = format!("{}@sessions.test", unique("eve-new"));
    env.patch(
        "/v1/me",
        &mine.access,
        json!({"email": new_address, "current_password": p.password}),
    )
    .await
    .ok(202);
    let link = env.link_token_for(&new_address, "confirm-email").await;
    env.post(
        "/v1/me/email/confirm",
        Some(&mine.access),
        json!({"token": link}),
    )
    .await
    .ok(200);
    refused(&env.refresh_by_cookie(&other.refresh).await);
    let next = session_of(&env.refresh_by_cookie(&mine.refresh).await);
    assert_eq!(
        env.get("/v1/me", &next.access).await.ok(200)["user"]["email"],
        new_address.as_str()
    );
}

#[tokio::test]
async fn an_admin_disabling_a_member_ends_their_refresh_tokens_even_once_enabled_again() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Dan").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    let path = format!("/v1/tenants/{}/members/{}", t.id, p.member_id);
    env.patch(&path, &t.owner_token, json!({"status": "disabled"}))
        .await
        .ok(200);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    env.patch(&path, &t.owner_token, json!({"status": "active"}))
        .await
        .ok(200);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    let fresh = env.session(&p.email, &p.password, &t.id).await;
    env.refresh_by_cookie(&fresh.refresh).await.ok(200);
}

#[tokio::test]
async fn an_admin_deleting_a_member_ends_their_refresh_tokens_even_once_restored() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Del").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    env.delete(
        &format!("/v1/tenants/{}/members/{}", t.id, p.member_id),
        &t.owner_token,
    )
    .await
    .ok(204);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    env.post(
        &format!("/v1/tenants/{}/recycle-bin/{}/restore", t.id, p.member_id),
        Some(&t.owner_token),
        json!({"department_id": t.root}),
    )
    .await
    .ok(200);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    env.assert_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// Signing out, the list of sessions, ending one.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signing_out_ends_the_session_and_clears_the_cookie() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Lou").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    let other = env.session(&p.email, &p.password, &t.id).await;

    let out = env.logout_by_cookie(&s.refresh).await;
    assert_eq!(out.status.as_u16(), 204);
    assert_eq!(set_cookies(&out), [CLEARED]);
    refused(&env.refresh_by_cookie(&s.refresh).await);
    dead(&env, &s.access).await;
    // Again, or with nothing: no error, nothing told.
    assert_eq!(env.logout_by_cookie(&s.refresh).await.status.as_u16(), 204);
    assert_eq!(
        env.post("/v1/auth/logout", None, json!({}))
            .await
            .status
            .as_u16(),
        204
    );
    env.get("/v1/me", &other.access).await.ok(200);

    // A client that keeps the token signs out with the body.
    let out = env
        .post(
            "/v1/auth/logout",
            None,
            json!({"refresh_token": other.refresh}),
        )
        .await;
    assert_eq!(out.status.as_u16(), 204);
    dead(&env, &other.access).await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_person_lists_their_sessions_and_ends_one() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Lia").await;
    let mine = env.session(&p.email, &p.password, &t.id).await;
    let laptop = env.session(&p.email, &p.password, &t.id).await;

    let (list, n) = env.count(env.get("/v1/me/sessions", &mine.access)).await;
    assert_eq!(n, 2, "list sessions: the caller's batch, then one query");
    let items = list.ok(200)["items"].as_array().expect("items").clone();
    // The member's own first sign-in (`member_in`), then these two: newest first.
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(list.body["next_cursor"], Value::Null);
    let newest = &items[0];
    assert_eq!(newest["current"], false);
    assert_eq!(items[1]["current"], true);
    assert_eq!(items[2]["current"], false);
    assert_eq!(newest["tenant_id"], t.id.as_str());
    assert_eq!(newest["ip_address"], "127.0.0.1");
    assert_eq!(newest["user_agent"], "sessions-test/1.0");
    assert_eq!(newest["created_at"], newest["last_used_at"]);
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(newest[field].is_string(), "{field}");
    }
    let laptop_id = newest["id"].as_str().expect("id").to_string();
    assert_eq!(current_id(&env, &laptop.access).await, laptop_id);

    let (ended, n) = env
        .count(env.delete(&format!("/v1/me/sessions/{laptop_id}"), &mine.access))
        .await;
    assert_eq!(ended.status.as_u16(), 204);
    assert_eq!(
        n, 2,
        "end a session: the caller's batch, then one transaction"
    );
    refused(&env.refresh_by_cookie(&laptop.refresh).await);
    dead(&env, &laptop.access).await;
    assert!(!listed(&env, &mine.access).await.contains(&laptop_id));
    env.delete(&format!("/v1/me/sessions/{laptop_id}"), &mine.access)
        .await
        .problem(404, "not_found");

    // Ending the caller's own session: its token is dead at once.
    let own = current_id(&env, &mine.access).await;
    env.delete(&format!("/v1/me/sessions/{own}"), &mine.access)
        .await
        .ok(204);
    dead(&env, &mine.access).await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn another_persons_session_is_not_found_whoever_asks() {
    let env = Env::start().await;
    let (t, xena) = tenant_and_member(&env, "Xena").await;
    let yuri = env.member_in(&t, "Yuri", json!({})).await;
    let (_, zoe) = tenant_and_member(&env, "Zoe").await;
    let admin = env.admin_token().await;
    let x = env.session(&xena.email, &xena.password, &t.id).await;
    let x_id = current_id(&env, &x.access).await;

    for stranger in [&yuri.token, &zoe.token, &t.owner_token, &admin] {
        env.delete(&format!("/v1/me/sessions/{x_id}"), stranger)
            .await
            .problem(404, "not_found");
        assert!(!listed(&env, stranger).await.contains(&x_id));
    }
    env.delete(
        &format!("/v1/me/sessions/{}", uuid::Uuid::now_v7()),
        &yuri.token,
    )
    .await
    .problem(404, "not_found");
    env.delete("/v1/me/sessions/not-a-session", &yuri.token)
        .await
        .problem(404, "not_found");
    // Xena's session is whole.
    env.get("/v1/me", &x.access).await.ok(200);
    env.refresh_by_cookie(&x.refresh).await.ok(200);
    // Nobody signed in lists nothing.
    env.call(reqwest::Method::GET, "/v1/me/sessions", None, None)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn a_machine_client_has_no_sessions() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Machine Co").await;
    env.enable_api_access(&t).await;
    let client = env
        .post(
            &format!("/v1/tenants/{}/api-clients", t.id),
            Some(&t.owner_token),
            json!({"name": "Sync", "permissions": ["members.read"]}),
        )
        .await;
    let client = client.ok(201).clone();
    let granted = env
        .post(
            "/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": client["id"],
                   "client_secret": client["client_secret"]}),
        )
        .await;
    let token = granted.ok(200)["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    env.get("/v1/me/sessions", &token)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn failed_refreshes_are_limited_per_address() {
    let limits = Limits {
        refresh_address: 3,
        ..Limits::relaxed()
    };
    let env = Env::start_with_limits(Clock::System, limits).await;
    let (t, p) = tenant_and_member(&env, "Lim").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    for _ in 0..3 {
        refused(&env.refresh_by_cookie("made-up").await);
    }
    Env::retry_after(&env.refresh_by_cookie("made-up").await);
    // The right token from that address too, until the window passes.
    Env::retry_after(&env.refresh_by_cookie(&s.refresh).await);
}

#[tokio::test]
async fn a_refresh_reads_and_writes_a_pinned_number_of_times() {
    let env = Env::start().await;
    let (t, p) = tenant_and_member(&env, "Count").await;
    let s = env.session(&p.email, &p.password, &t.id).await;
    // The session with its spent marker and the address's counters; the user and membership;
    // the tenant and department rules (as at sign-in); the rotation.
    let (refreshed, n) = env.count(env.refresh_by_cookie(&s.refresh)).await;
    let next: Session = session_of(&refreshed);
    assert_eq!(n, 4, "refresh: {:?}", env.counter.by_operation());
    let (out, n) = env.count(env.logout_by_cookie(&next.refresh)).await;
    assert_eq!(out.status.as_u16(), 204);
    assert_eq!(n, 2, "logout");
}
