//! Benchmark, not a test (ignored by default; `scripts/bench.sh search` runs it): seeds a tenant of
//! BENCH_MEMBERS members (default 100,000) straight into the table, then reports the DynamoDB
//! requests and time of a prefix search's first page and of a full directory walk through the API.
//! The emulator is one Python process, so times are the emulator's; request counts are what carry
//! over to DynamoDB.

use roster_tests::Env;
use std::time::Instant;

const FIRST: [&str; 20] = [
    "Ada", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
];
const LAST: [&str; 20] = [
    "Smith", "Müller", "García", "Rossi", "Dubois", "Kowalski", "Nguyen", "Silva", "Jensen",
    "Novak", "Schmidt", "Moreau", "Ivanova", "Sato", "Costa", "Fischer", "Lopez", "Berg", "Horvat",
    "Smythe",
];

#[tokio::test]
#[ignore = "benchmark: run with scripts/bench.sh search"]
async fn search_and_directory_in_a_large_tenant() {
    let n: usize = std::env::var("BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let env = Env::start().await;
    let t = env.tenant_with_owner("Large").await;

    let started = Instant::now();
    let items = env
        .seed_members(&t, n, |i| {
            (
                format!("user{i:06}@large.test"),
                format!("{} {}", FIRST[i % 20], LAST[(i / 20) % 20]),
                (i % 10_000) as u32 + 1,
            )
        })
        .await;
    println!(
        "seeded {n} members ({} items) in {:.1?}",
        items.len(),
        started.elapsed()
    );

    let base = format!("/v1/tenants/{}/members", t.id);
    for q in ["smi", "müll", "user04217", "chlo"] {
        let started = Instant::now();
        let (page, requests) = env
            .count(env.get(&format!("{base}?q={q}&limit=50"), &t.owner_token))
            .await;
        let found = page.ok(200)["items"].as_array().unwrap().len();
        println!(
            "search q={q:<10} first page: {found:>3} members, {requests} DynamoDB requests {:?}, {:.1?}",
            env.counter.by_operation(),
            started.elapsed()
        );
        assert!(
            requests <= 3,
            "a search's first page took {requests} requests"
        );
    }

    let started = Instant::now();
    env.counter.reset();
    let mut cursor: Option<String> = None;
    let (mut seen, mut pages) = (0usize, 0usize);
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=200&cursor={c}"),
            None => format!("{base}?limit=200"),
        };
        let page = env.get(&path, &t.owner_token).await;
        seen += page.ok(200)["items"].as_array().unwrap().len();
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    println!(
        "directory walk: {seen} members in {pages} pages, {} DynamoDB requests ({:.2} per page), {:.1?}",
        env.counter.total(),
        env.counter.total() as f64 / pages as f64,
        started.elapsed()
    );
    assert_eq!(seen, n + 1);
}
