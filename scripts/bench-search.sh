#!/usr/bin/env bash
# Search benchmark: seeds a tenant of BENCH_MEMBERS members (default 100,000) into the emulator and
# reports DynamoDB requests and time for a prefix search's first page and a full directory walk.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
PORT="$(free_port)"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"

cargo test --release --locked -p roster-tests --test bench_search -- --ignored --nocapture
