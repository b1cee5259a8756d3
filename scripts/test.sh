#!/usr/bin/env bash
# The whole test suite from a fresh clone: checks formatting, clippy and the code's shape
# (scripts/shape.py: no module circle, no function over 80 lines, no module over 600 lines of
# code), installs the emulator if missing, starts it on a free port, runs every cargo test
# against it, lints template.yaml, runs the concurrency and bulk tests again under injected
# faults (scripts/fault-run.sh), runs a small set of functions under the Lambda runtime emulator
# (scripts/lambda-smoke.sh), fuzzes the API against openapi.yaml (scripts/fuzz.sh), runs an admin's
# day through a Python client generated from it (scripts/generated-client.sh), verifies webhook
# deliveries with the official standardwebhooks package (scripts/webhooks-conformance.sh), checks SCIM
# with scim2-tester (scripts/scim-conformance.sh), tests the web console (scripts/console-test.sh:
# its generated client, component tests, first-load size, and Chromium through every screen on a
# local gateway serving it), and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

FULL_SUITE=$(( $# == 0 ))
# The whole suite fails fast on formatting, lints and shape, before any emulator or test build.
if [ "$FULL_SUITE" = 1 ]; then
  cargo fmt --all --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
  python3 scripts/shape.py --self-test
  python3 scripts/shape.py --check
fi
ensure_venv
if [ "$FULL_SUITE" = 1 ]; then
  # Every function with a sample event has a Lambda smoke step (scripts/lambda-smoke.sh runs them all).
  PYTHONPATH="$ROOT/scripts" "$VENV/bin/python" scripts/lambda_smoke.py --check-steps
fi
PORT="$(free_port)"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"
# The emulator handles one request at a time, so under the suite's races a request may wait its
# turn for seconds; only the fault run (below) holds DynamoDB attempts to production's timeout.
export ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS="${ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS:-30000}"

# Library unit tests and the integration tests; the handler binaries hold no tests, and skipping
# their test harnesses saves linking one executable per function.
if [ "$#" -eq 0 ]; then
  set -- --lib --test '*'
fi
cargo test --workspace --locked --no-fail-fast "$@"
"$VENV/bin/cfn-lint" template.yaml
# The whole suite also runs a small set of functions under cargo-lambda's Lambda runtime emulator
# with their sample events (a public route, an authenticated write, a worker and two scheduled jobs, the consistency check among them;
# scripts/lambda-smoke.sh alone runs them all) and fuzzes every operation of openapi.yaml but
# SCIM's (/scim/, left to the SCIM conformance tester) on a local gateway with schemathesis (each
# on a table of its own); a run of chosen tests (extra arguments) does neither.
if [ "$FULL_SUITE" = 1 ]; then
  # The concurrency and bulk tests again, under 5% injected faults, on an emulator of their own.
  scripts/fault-run.sh
  scripts/lambda-smoke.sh login create-export export-run recycle-purge consistency-check
  scripts/fuzz.sh
  scripts/generated-client.sh
  scripts/webhooks-conformance.sh
  scripts/scim-conformance.sh
  scripts/console-test.sh
fi
echo "all tests passed"
