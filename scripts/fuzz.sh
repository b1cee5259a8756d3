#!/usr/bin/env bash
# Fuzzes the API with schemathesis (pinned in scripts/requirements-dev.txt) against openapi.yaml:
# a local gateway on its own table, as the owner of a real tenant (every {tenant_id} is that
# tenant), every check on, SCIM's /scim/ paths left to the SCIM conformance tester
# (scripts/schemathesis.toml), seeded and deterministic. Fails on a server
# error, a response outside the document, or a request breaking the document that is accepted.
# Run by scripts/test.sh with its emulator; alone, it starts one. Extra arguments go to
# `schemathesis run` (e.g. `--include-operation-id get-tenant`, `-n 100`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  EMULATOR_PORT="$(free_port)"
  start_emulator "$EMULATOR_PORT"
  export_emulator_env "$EMULATOR_PORT"
fi

stop_fuzz() {
  stop_gateway
  stop_emulator
}
trap stop_fuzz EXIT

# FUZZ_GATEWAY: a local-gateway binary built elsewhere (e.g. from another checkout) instead.
GATEWAY="${FUZZ_GATEWAY:-}"
if [ -z "$GATEWAY" ]; then
  cargo build --locked --quiet --workspace --bin local-gateway
  GATEWAY="$ROOT/target/debug/local-gateway"
fi

# A gateway of its own: a fresh table, bucket and signing-key secrets, and abuse limits raised out of the way (a
# fuzz run signs in and knocks on the public doors far more often than the production limits allow).
export_run_stack fuzz
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
export ROSTER_LIMIT_SIGN_IN_ACCOUNT=1000000
export ROSTER_LIMIT_SIGN_IN_ACCOUNT_ADDRESS=1000000
export ROSTER_LIMIT_CURRENT_PASSWORD=1000000
export ROSTER_LIMIT_SIGN_IN_ADDRESS=1000000
export ROSTER_LIMIT_PUBLIC_ADDRESS=1000000
export ROSTER_LIMIT_PENDING_JOIN_REQUESTS=1000000
export ROSTER_LIMIT_CLIENT_GRANT_ADDRESS=1000000
export ROSTER_LIMIT_REFRESH_ADDRESS=1000000
export RUST_LOG="${RUST_LOG:-warn}"
GATEWAY_PORT="$(free_port)"
export ROSTER_GATEWAY_ADDR="127.0.0.1:$GATEWAY_PORT"
export FUZZ_BASE_URL="http://$ROSTER_GATEWAY_ADDR"
start_gateway "$GATEWAY"

eval "$("$VENV/bin/python" scripts/fuzz_setup.py "$FUZZ_BASE_URL" "$AWS_ENDPOINT_URL" \
  "$ROSTER_BOOTSTRAP_EMAIL" "$ROSTER_BOOTSTRAP_PASSWORD")"
export FUZZ_TENANT_ID FUZZ_OWNER_TOKEN

"$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run openapi.yaml \
  --no-color --report junit,ndjson --report-dir "$LOCAL/fuzz-report" "$@"
