//! Benchmark, not a test (ignored by default; `scripts/bench.sh bulk` runs it): imports a file of
//! BENCH_ROWS rows (default 10,000) and exports a tenant of BENCH_MEMBERS members (default 100,000,
//! seeded straight into the table) as CSV and XLSX, reporting wall time, DynamoDB requests per row
//! and the peak resident memory of the export (the process's high-water mark, reset just before
//! the export starts). The emulator is one Python process: times are the emulator's, request
//! counts and memory are what carry over to Lambda.

use roster_shared::auth::{Permissions, Role};
use roster_shared::members::{Member, MemberSource, Person};
use roster_shared::store::Item;
use roster_tests::{Env, unique};
use serde_json::json;
use std::time::Instant;
use uuid::Uuid;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident set since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets the high-water mark to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with scripts/bench.sh bulk"]
async fn import_ten_thousand_rows_and_export_a_hundred_thousand_members() {
    let rows = env_number("BENCH_ROWS", 10_000);
    let members = env_number("BENCH_MEMBERS", 100_000);
    let env = Env::start().await;
    let admin = env.admin_token().await;

    // Import (BENCH_ROWS=0 skips it).
    if rows > 0 {
        let t = env.tenant_with_owner("Bulk Import").await;
        env.patch(
            &format!("/v1/tenants/{}", t.id),
            &admin,
            json!({"member_quota": rows + 10}),
        )
        .await
        .ok(200);
        let domain = unique("bench");
        let mut file = String::from("email,name,department,position\n");
        for i in 0..rows {
            file.push_str(&format!("p{i}@{domain}.test,Person {i},,Role {}\n", i % 50));
        }
        let (job_id, _) = env.uploaded_import(&t, &file, false).await;
        env.start_import(&t, &job_id).await.ok(202);
        let started = Instant::now();
        let (_, requests) = env
            .count(roster_shared::jobs::import::run(
                env.app,
                t.id.parse().unwrap(),
                job_id.parse().unwrap(),
            ))
            .await;
        let elapsed = started.elapsed();
        let job = env.job(&t, &job_id).await;
        println!(
            "import of {rows} rows: {:.1?}, {} DynamoDB requests ({:.2} per row), counts {}",
            elapsed,
            requests,
            requests as f64 / rows as f64,
            job["counts"]
        );
    }

    // Export.
    let t = env.tenant_with_owner("Bulk Export").await;
    let tenant_id: Uuid = t.id.parse().unwrap();
    let root: Uuid = t.root.parse().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let seeded = Instant::now();
    for wave in (0..members).collect::<Vec<_>>().chunks(25 * 16) {
        let items: Vec<Item> = wave
            .iter()
            .map(|i| {
                let member = Member {
                    position: Some("Engineer".into()),
                    work_number: Some(format!("E-{i}")),
                    location: Some("Remote".into()),
                    directory_number: (i % 10_000) as u32 + 1,
                    ..Member::new(
                        tenant_id,
                        root,
                        Person {
                            user_id: Uuid::now_v7(),
                            email: format!("user{i:06}@bulk.test"),
                            name: format!("Member {i}"),
                            phone: Some("+1 555 0100".into()),
                            email_verified: false,
                        },
                        Role::Member,
                        Permissions::none(),
                        MemberSource::Import,
                        now,
                    )
                };
                member.to_item(&t.root).unwrap()
            })
            .collect();
        env.put_items(&items, 16).await;
    }
    println!("seeded {members} members in {:.1?}", seeded.elapsed());
    for format in ["csv", "xlsx"] {
        // A long export outlives a 15-minute token: sign in again for each.
        let owner = env.owner_login(&t).await;
        let queued = env
            .post(
                &format!("/v1/tenants/{}/exports", t.id),
                Some(&owner),
                json!({"scope": "all", "format": format}),
            )
            .await;
        let job_id: Uuid = queued.ok(202)["id"].as_str().unwrap().parse().unwrap();
        reset_peak_rss();
        let before = peak_rss_mib();
        let started = Instant::now();
        let (ran, requests) = env
            .count(roster_shared::jobs::export::run(env.app, tenant_id, job_id))
            .await;
        assert!(ran.unwrap());
        let elapsed = started.elapsed();
        let peak = peak_rss_mib();
        // Read straight from the table: a long run outlives the owner's 15-minute token.
        let job: roster_shared::jobs::Job = roster_shared::store::from_item(
            env.app
                .store
                .get(&roster_shared::model::keys::Key::job(tenant_id, job_id))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        println!(
            "export {format} of {} members: {:.1?}, {} DynamoDB requests ({:.4} per member), peak RSS {:.1} MiB (process at start {:.1} MiB)",
            job.counts.total,
            elapsed,
            requests,
            requests as f64 / (members + 1) as f64,
            peak,
            before
        );
    }
}
