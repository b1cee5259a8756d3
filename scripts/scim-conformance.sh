#!/usr/bin/env bash
# SCIM 2.0 conformance: scim2-tester (pinned in scripts/requirements-dev.txt) against one tenant's
# /scim/v2 endpoint on a local gateway with a table of its own; every check for what the
# ServiceProviderConfig claims must pass. Run by scripts/test.sh with its emulator; alone, it
# starts one. SCIM_GATEWAY: a local-gateway binary built elsewhere instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  EMULATOR_PORT="$(free_port)"
  start_emulator "$EMULATOR_PORT"
  export_emulator_env "$EMULATOR_PORT"
fi

stop_all() {
  stop_gateway
  stop_emulator
}
trap stop_all EXIT

GATEWAY="${SCIM_GATEWAY:-}"
if [ -z "$GATEWAY" ]; then
  cargo build --locked --quiet --workspace --bin local-gateway
  GATEWAY="$ROOT/target/debug/local-gateway"
fi

export_run_stack scim
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
export RUST_LOG="${RUST_LOG:-warn}"
export ROSTER_GATEWAY_ADDR="127.0.0.1:$(free_port)"
BASE_URL="http://$ROSTER_GATEWAY_ADDR"
start_gateway "$GATEWAY"

"$VENV/bin/python" scripts/scim_conformance.py "$BASE_URL" "$AWS_ENDPOINT_URL" \
  "$ROSTER_BOOTSTRAP_EMAIL" "$ROSTER_BOOTSTRAP_PASSWORD"
