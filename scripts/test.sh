#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs the emulator if missing, starts it on a free
# port, runs every cargo test against it, lints template.yaml, fuzzes the API against openapi.yaml
# (scripts/fuzz.sh), and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
FULL_SUITE=$(( $# == 0 ))
PORT="$(free_port)"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"

# Library unit tests and the integration tests; the handler binaries hold no tests, and skipping
# their test harnesses saves linking one executable per function.
if [ "$#" -eq 0 ]; then
  set -- --lib --test '*'
fi
cargo test --workspace --locked --no-fail-fast "$@"
"$VENV/bin/cfn-lint" template.yaml
# The whole suite also fuzzes every operation of openapi.yaml on a local gateway (its own table)
# with schemathesis; a run of chosen tests (extra arguments) does not.
if [ "$FULL_SUITE" = 1 ]; then
  scripts/fuzz.sh
fi
echo "all tests passed"
