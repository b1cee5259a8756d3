//! Sign-in limits per account and source address (SPEC.md §9.1, replacing §8.1's "even with the
//! right password"): a stranger's guesses shut out the stranger's address, not the owner's; an
//! account-wide ceiling shuts out every address; a completed reset clears the account's counters;
//! wrong `current_password` checks count as sign-in failures and the 10th ends the session.
//! Production limits (`Env::start_limited`); other addresses are other loopback addresses.

use roster_shared::app::Clock;
use roster_tests::{Env, unique};
use serde_json::json;

/// Where the owner signs in from (the harness's own address).
const OWNER: &str = "127.0.0.1";
/// Where a stranger guesses from.
const STRANGER: &str = "127.0.0.2";

fn manual_clock() -> Clock {
    Clock::manual(time::OffsetDateTime::now_utc())
}

/// `n` wrong passwords for `email` from `source`, each answered 401 or (past the address's own
/// limit) 429.
async fn guesses(env: &Env, source: &str, email: &str, n: usize) {
    for i in 0..n {
        let answer = env
            .try_login_from(source, email, "wrong-password-1", None)
            .await;
        assert!(
            [401, 429].contains(&answer.status.as_u16()),
            "guess {i} from {source}: {} {:?}",
            answer.status,
            answer.body
        );
    }
}

#[tokio::test]
async fn a_strangers_guesses_do_not_shut_the_owner_out() {
    let env = Env::start_limited(manual_clock()).await;
    let t = env.tenant_with_owner("Guessed Co").await;
    guesses(&env, STRANGER, &t.owner_email, 15).await;
    let owner = env
        .try_login_from(OWNER, &t.owner_email, roster_tests::OWNER_PASSWORD, None)
        .await;
    assert_eq!(owner.ok(200)["tenant_id"], t.id.as_str());

    // The same for the bootstrap platform admin.
    guesses(&env, STRANGER, &env.admin_email, 15).await;
    let admin = env
        .try_login_from(OWNER, &env.admin_email, &env.admin_password, None)
        .await;
    assert_eq!(admin.ok(200)["platform_admin"], true);
    env.assert_consistent().await;
}

#[tokio::test]
async fn the_tenth_failure_from_one_address_refuses_that_address_even_with_the_right_password() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Shut Co").await;
    let tia = env.member_in(&t, "Tia", json!({})).await;
    for _ in 0..10 {
        env.try_login_from(STRANGER, &tia.email, "wrong-password-1", Some(&t.id))
            .await
            .problem(401, "unauthorized");
    }
    let refused = env
        .try_login_from(STRANGER, &tia.email, &tia.password, Some(&t.id))
        .await;
    let wait = Env::retry_after(&refused);
    // Another address is not refused, and its right password does not reopen the first.
    env.try_login_from(OWNER, &tia.email, &tia.password, Some(&t.id))
        .await
        .ok(200);
    Env::retry_after(
        &env.try_login_from(STRANGER, &tia.email, &tia.password, Some(&t.id))
            .await,
    );
    clock.advance(wait);
    env.try_login_from(STRANGER, &tia.email, &tia.password, Some(&t.id))
        .await
        .ok(200);

    // The refusals are in the tenant's sign-in log, with the address they came from (read with
    // a fresh token: the wait may outlast the owner's first one).
    let owner = env.owner_login(&t).await;
    let log = env
        .get(&format!("/v1/tenants/{}/login-log?limit=200", t.id), &owner)
        .await;
    let throttled = log.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["email"] == tia.email.as_str() && e["failure"] == "rate_limited")
        .map(|e| e["source_ip"].clone())
        .collect::<Vec<_>>();
    assert_eq!(throttled, vec![json!(STRANGER), json!(STRANGER)]);
    env.assert_consistent().await;
}

#[tokio::test]
async fn the_account_wide_ceiling_refuses_every_address() {
    let clock = manual_clock();
    let env = Env::start_limited(clock.clone()).await;
    let t = env.tenant_with_owner("Ceiling Co").await;
    let cal = env.member_in(&t, "Cal", json!({})).await;
    // 100 failures from ten addresses, none of them past its own ten.
    for source in 10..20 {
        for _ in 0..10 {
            env.try_login_from(
                &format!("127.0.0.{source}"),
                &cal.email,
                "wrong-password-1",
                None,
            )
            .await
            .problem(401, "unauthorized");
        }
    }
    for source in [OWNER, "127.0.0.30"] {
        Env::retry_after(
            &env.try_login_from(source, &cal.email, &cal.password, None)
                .await,
        );
    }
    // Another account from the same addresses is untouched.
    env.try_login_from(
        "127.0.0.10",
        &t.owner_email,
        roster_tests::OWNER_PASSWORD,
        None,
    )
    .await
    .ok(200);
    let wait = Env::retry_after(
        &env.try_login_from(OWNER, &cal.email, &cal.password, None)
            .await,
    );
    clock.advance(wait);
    env.try_login_from(OWNER, &cal.email, &cal.password, None)
        .await
        .ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_completed_password_reset_clears_the_accounts_counters() {
    let env = Env::start_limited(manual_clock()).await;
    let t = env.tenant_with_owner("Reset Co").await;
    let rae = env.member_in(&t, "Rae", json!({})).await;
    guesses(&env, OWNER, &rae.email, 10).await;
    Env::retry_after(&env.try_login(&rae.email, &rae.password, None).await);

    env.post(
        "/v1/auth/password-reset/request",
        None,
        json!({"email": rae.email}),
    )
    .await
    .ok(202);
    let link = env.link_token_for(&rae.email, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "rae-password-2"}),
    )
    .await
    .ok(204);
    // The same address, at once: the reset forgot the guesses.
    env.login(&rae.email, "rae-password-2", None).await;
    // And ten more are needed to refuse it again.
    guesses(&env, OWNER, &rae.email, 9).await;
    env.login(&rae.email, "rae-password-2", None).await;
    env.assert_consistent().await;
}

#[tokio::test]
async fn ten_wrong_current_passwords_end_the_session() {
    let env = Env::start_limited(manual_clock()).await;
    let t = env.tenant_with_owner("Check Co").await;
    let kit = env.member_in(&t, "Kit", json!({})).await;
    let other_session = env.login(&kit.email, &kit.password, None).await;
    let new_email = format!("{}@identity.test", unique("kit-new"));
    for attempt in 1..=9 {
        let answer = env
            .patch(
                "/v1/me",
                &kit.token,
                json!({"email": new_email, "current_password": format!("guess-{attempt}")}),
            )
            .await;
        answer.problem(400, "validation_failed");
        assert_eq!(answer.body["errors"][0]["field"], "current_password");
    }
    env.patch(
        "/v1/me",
        &kit.token,
        json!({"email": new_email, "current_password": "guess-10"}),
    )
    .await
    .problem(401, "unauthorized");
    for token in [&kit.token, &other_session] {
        env.get("/v1/me", token).await.problem(401, "unauthorized");
    }
    // The guesses were sign-in failures of the account from this address: it is refused here,
    // not elsewhere.
    Env::retry_after(&env.try_login(&kit.email, &kit.password, None).await);
    let again = env
        .try_login_from(STRANGER, &kit.email, &kit.password, None)
        .await;
    let token = again.ok(200)["access_token"].as_str().expect("token");
    env.get("/v1/me", token).await.ok(200);
    env.assert_consistent().await;
}

#[tokio::test]
async fn wrong_current_passwords_on_a_password_change_count_as_well() {
    let env = Env::start_limited(manual_clock()).await;
    let t = env.tenant_with_owner("Change Co").await;
    let lee = env.member_in(&t, "Lee", json!({})).await;
    let change = |current: String| {
        env.post(
            "/v1/auth/password",
            Some(&lee.token),
            json!({"current_password": current, "new_password": "lee-password-2"}),
        )
    };
    for attempt in 1..=9 {
        change(format!("guess-{attempt}"))
            .await
            .problem(400, "validation_failed");
    }
    // The right one gives its count back, and is still refused as the same password here.
    env.post(
        "/v1/auth/password",
        Some(&lee.token),
        json!({"current_password": lee.password, "new_password": lee.password}),
    )
    .await
    .problem(400, "validation_failed");
    change("guess-10".into()).await.problem(401, "unauthorized");
    env.get("/v1/me", &lee.token)
        .await
        .problem(401, "unauthorized");
    env.assert_consistent().await;
}
