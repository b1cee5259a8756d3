#!/usr/bin/env bash
# Bulk benchmark: imports BENCH_ROWS rows (default 10,000) and exports BENCH_MEMBERS members
# (default 100,000) against the emulator; reports wall time, DynamoDB requests per row and the
# export's peak memory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
PORT="$(free_port)"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"

cargo test --release --locked -p roster-tests --test bench_bulk -- --ignored --nocapture
