//! Texts cost money (SPEC.md §9.1): the per-invitation cap and cooldown, the per-number daily cap
//! across tenants, the tenant's daily budget, and mobile numbers of allowed countries only. Over
//! any cap: 429 `rate_limited` with `Retry-After`, nothing stored, nothing sent.

use roster_shared::app::Clock;
use roster_tests::{Env, Tenant, id, mobile_number};
use serde_json::json;

fn manual_clock() -> Clock {
    Clock::manual(time::OffsetDateTime::now_utc())
}

async fn invite_by_phone(env: &Env, t: &Tenant, number: &str) -> roster_tests::Answer {
    env.post(
        &format!("/v1/tenants/{}/invitations", t.id),
        Some(&t.owner_token),
        json!({"phone": number, "department_id": t.root}),
    )
    .await
}

async fn resend(env: &Env, t: &Tenant, invitation: &str) -> roster_tests::Answer {
    env.post(
        &format!("/v1/tenants/{}/invitations/{invitation}/resend", t.id),
        Some(&t.owner_token),
        json!({}),
    )
    .await
}

async fn pending_invitations(env: &Env, t: &Tenant) -> usize {
    let listed = env
        .get(
            &format!("/v1/tenants/{}/invitations?status=pending", t.id),
            &t.owner_token,
        )
        .await;
    listed.ok(200)["items"].as_array().expect("items").len()
}

/// The reproduction (issue 27): 20 resends of one SMS invitation answered 20 × 200 and sent 20
/// texts. Now: one text a minute, five in all.
#[tokio::test]
async fn an_invitation_is_texted_at_most_five_times_and_once_a_minute() {
    let clock = manual_clock();
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Texting Co").await;
    let number = mobile_number();
    let invitation = id(invite_by_phone(&env, &t, &number).await.ok(201));
    let too_soon = resend(&env, &t, &invitation).await;
    too_soon.problem(429, "rate_limited");
    let wait = Env::retry_after(&too_soon);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Twenty resends, a minute apart every fourth (the owner's token outlives the test).
    for i in 0..20 {
        if i % 4 == 0 {
            clock.advance(61);
        }
        let answer = resend(&env, &t, &invitation).await;
        if answer.status.as_u16() == 429 {
            answer.problem(429, "rate_limited");
            continue;
        }
        answer.ok(200);
    }
    assert_eq!(env.sms_to(&number).await.len(), 5, "five texts in all");
    env.assert_consistent().await;
}

/// Five texts a day to one number, whichever tenants send them: the sixth invitation is refused
/// and nothing of it is stored or sent.
#[tokio::test]
async fn a_number_gets_at_most_five_texts_a_day_across_tenants() {
    let env = Env::start().await;
    let number = mobile_number();
    for i in 0..5 {
        let t = env.tenant_with_owner(&format!("Sender {i}")).await;
        invite_by_phone(&env, &t, &number).await.ok(201);
    }
    let sixth = env.tenant_with_owner("Sixth Sender").await;
    invite_by_phone(&env, &sixth, &number)
        .await
        .problem(429, "rate_limited");
    assert_eq!(pending_invitations(&env, &sixth).await, 0);
    assert_eq!(env.sms_to(&number).await.len(), 5);
    // Invitations by email go on as ever.
    env.post(
        &format!("/v1/tenants/{}/invitations", sixth.id),
        Some(&sixth.owner_token),
        json!({"email": "still@texts.test", "department_id": sixth.root}),
    )
    .await
    .ok(201);
    env.assert_consistent().await;
}

/// The tenant's daily budget (set by operators, 200 by default) holds across numbers.
#[tokio::test]
async fn a_tenant_texts_within_its_daily_budget() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Budget Co").await;
    assert_eq!(env.tenant_view(&t).await["sms_daily_budget"], 200);
    // Only operators set it.
    env.patch(
        &format!("/v1/tenants/{}", t.id),
        &t.owner_token,
        json!({"sms_daily_budget": 100_000}),
    )
    .await
    .problem(403, "forbidden");
    env.set_limits(&t, json!({"sms_daily_budget": 2})).await;
    invite_by_phone(&env, &t, &mobile_number()).await.ok(201);
    invite_by_phone(&env, &t, &mobile_number()).await.ok(201);
    let third = mobile_number();
    let refused = invite_by_phone(&env, &t, &third).await;
    refused.problem(429, "rate_limited");
    assert!(Env::retry_after(&refused) > 0);
    assert!(env.sms_to(&third).await.is_empty());
    assert_eq!(pending_invitations(&env, &t).await, 2);
    env.assert_consistent().await;
}

/// Numbers are checked as mobile numbers of their country, in the deployment's countries.
#[tokio::test]
async fn only_mobile_numbers_of_allowed_countries_are_texted() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Numbers Co").await;
    for (number, why) in [
        ("+442079460000", "a London landline"),
        ("+448001111111", "a freephone number"),
        (
            "+33612345678",
            "a French mobile (France is not allowed here)",
        ),
        ("+4477009", "too short for a UK mobile"),
    ] {
        let refused = invite_by_phone(&env, &t, number).await;
        refused.problem(400, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], "phone", "{why}");
        assert!(env.sms_to(number).await.is_empty(), "{why}");
    }
    // A US number (mobile and fixed lines share ranges there) is texted.
    invite_by_phone(&env, &t, "+12015550123").await.ok(201);
    assert_eq!(pending_invitations(&env, &t).await, 1);
}
