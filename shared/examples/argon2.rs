//! How long one argon2id verification takes here, and what that becomes at each Lambda memory
//! size (CPU in proportion to memory: 1,769 MB = 1 vCPU), for template.yaml's memory sizes.
//! Run by `scripts/bench.sh argon2` (release build: the profile the functions ship with).

use roster_shared::crypto::{hash_password, verify_password};
use std::time::Instant;

/// A Graviton (arm64) core against the x86_64 one measured here: an allowance, not a measurement.
const ARM_ALLOWANCE: f64 = 1.5;
const RUNS: usize = 40;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stored = hash_password("correct horse battery staple")?;
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let ok = verify_password("correct horse battery staple", Some(&stored));
            assert!(ok, "the password verifies");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let (min, median) = (times[0], times[RUNS / 2]);
    // The fastest run is the one least disturbed by other work: the closest to the CPU it needs.
    let per_vcpu = min * ARM_ALLOWANCE;
    println!("argon2id verification over {RUNS} runs: min {min:.1} ms, median {median:.1} ms");
    println!("with the {ARM_ALLOWANCE}x arm64 allowance: {per_vcpu:.1} ms of one vCPU");
    println!(
        "{:>8} {:>8} {:>12} {:>12}",
        "memory", "vCPU", "1 op ms", "2 ops ms"
    );
    for memory in [256.0, 512.0, 1024.0, 1769.0] {
        let share = f64::min(memory / 1769.0, 1.0);
        println!(
            "{memory:>5} MB {share:>8.3} {:>12.0} {:>12.0}",
            per_vcpu / share,
            2.0 * per_vcpu / share
        );
    }
    Ok(())
}
