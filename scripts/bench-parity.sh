#!/usr/bin/env bash
# Timing parity of the public answers that may mail (SPEC.md §9.1): BENCH_REQUESTS (default 200)
# password-reset requests, verification resends and joins each for an existing and a missing
# address, against the emulator; prints the medians and fails if any two differ by 5 ms or more.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
PORT="$(free_port)"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"

cargo test --locked --workspace --test bench_parity -- --ignored --nocapture
