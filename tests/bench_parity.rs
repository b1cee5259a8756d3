//! Benchmark, not a test (ignored by default; `scripts/bench-parity.sh` runs it): the public
//! answers that may mail (password-reset request, verification resend, join) must take the same
//! time whether or not the address has an account (SPEC.md §9.1), or their timing tells who has
//! one. Sends BENCH_REQUESTS (default 200) of each, alternating an existing and a missing
//! address, and reports the median of each and their difference, which must stay under 5 ms.

use roster_tests::{Env, unique};
use serde_json::json;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_millis(5);

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs `n` rounds of (existing, missing), alternating which goes first, and reports.
async fn compare<E, EF, M, MF>(door: &str, n: usize, existing: E, missing: M) -> bool
where
    E: Fn(usize) -> EF,
    EF: std::future::Future<Output = u16>,
    M: Fn(usize) -> MF,
    MF: std::future::Future<Output = u16>,
{
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        for first in [i % 2 == 0, i % 2 == 1] {
            let start = Instant::now();
            let status = if first {
                existing(i).await
            } else {
                missing(i).await
            };
            let took = start.elapsed();
            assert!((200..300).contains(&status), "{door}: answered {status}");
            if first { a.push(took) } else { b.push(took) }
        }
    }
    let (a, b) = (median(a), median(b));
    let diff = a.abs_diff(b);
    println!(
        "{door:<24} existing {:>7.2} ms   missing {:>7.2} ms   difference {:>5.2} ms",
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        diff.as_secs_f64() * 1e3
    );
    diff < LIMIT
}

#[tokio::test]
#[ignore = "benchmark: run with scripts/bench-parity.sh"]
async fn public_answers_that_mail_take_the_same_time_for_any_address() {
    let n: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let env = Env::start().await;
    let t = env.tenant_with_owner("Parity Co").await;
    env.set_limits(&t, json!({"member_quota": 100_000})).await;
    let proven = env.member_in(&t, "Proven", json!({})).await;
    let code = env.join_code(&t).await;
    let unproven = format!("{}@parity.test", unique("unproven"));
    env.join(
        &code,
        None,
        json!({"email": unproven, "name": "Una", "password": "unproven-password-1"}),
    )
    .await
    .ok(202);
    let post = |path: &'static str, body: serde_json::Value| {
        let env = &env;
        async move { env.post(path, None, body).await.status.as_u16() }
    };
    let missing = |i: usize| format!("nobody-{i}-{}@parity.test", unique("m"));
    let mut alike = compare(
        "password-reset request",
        n,
        |_| {
            post(
                "/v1/auth/password-reset/request",
                json!({"email": proven.email}),
            )
        },
        |i| {
            post(
                "/v1/auth/password-reset/request",
                json!({"email": missing(i)}),
            )
        },
    )
    .await;
    alike &= compare(
        "verification resend",
        n,
        |_| post("/v1/auth/verify-email/resend", json!({"email": unproven})),
        |i| post("/v1/auth/verify-email/resend", json!({"email": missing(i)})),
    )
    .await;
    let join = |email: String| {
        let (env, code) = (&env, &code);
        async move {
            let body = json!({"email": email, "name": "Joan", "password": "joiner-password-1"});
            // Straight over HTTP: the harness's `join` also runs the outbox worker after it,
            // which the answer does not wait for.
            let url = format!("{}/v1/join/{code}", env.base);
            let sent = env.http.post(url).json(&body).send().await;
            sent.expect("join").status().as_u16()
        }
    };
    alike &= compare(
        "join",
        n,
        |_| join(proven.email.clone()),
        |i| join(missing(i)),
    )
    .await;
    assert!(alike, "a median differs by {LIMIT:?} or more");
}
