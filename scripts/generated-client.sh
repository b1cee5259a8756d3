#!/usr/bin/env bash
# The contract generates clients: openapi-python-client (pinned in scripts/requirements-dev.txt)
# generates a Python client from openapi.yaml with no options and no warning, into
# .local/python-client, and scripts/client_scenario.py runs an admin's day through it against a
# local gateway on a table of its own. Run by scripts/test.sh with its emulator; alone, it starts
# one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
OUT="$LOCAL/python-client"
rm -rf "$OUT"
mkdir -p "$OUT"
# The generator formats its output with ruff, which the venv holds.
log="$(cd "$OUT" && PATH="$VENV/bin:$PATH" "$VENV/bin/openapi-python-client" generate \
  --path "$ROOT/openapi.yaml" 2>&1)" || { echo "$log" >&2; exit 1; }
if grep -qi "warning\|error" <<< "$log"; then
  echo "openapi-python-client warned about openapi.yaml:" >&2
  echo "$log" >&2
  exit 1
fi

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

# CLIENT_GATEWAY: a local-gateway binary built elsewhere (e.g. from another checkout) instead.
GATEWAY="${CLIENT_GATEWAY:-}"
if [ -z "$GATEWAY" ]; then
  cargo build --locked --quiet --workspace --bin local-gateway
  GATEWAY="$ROOT/target/debug/local-gateway"
fi
export_run_stack client
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
export RUST_LOG="${RUST_LOG:-warn}"
export ROSTER_GATEWAY_ADDR="127.0.0.1:$(free_port)"
start_gateway "$GATEWAY"
PYTHONPATH="$OUT/roster-client:$ROOT/scripts" "$VENV/bin/python" scripts/client_scenario.py \
  "http://$ROSTER_GATEWAY_ADDR" "$AWS_ENDPOINT_URL" "$ROSTER_BOOTSTRAP_EMAIL" \
  "$ROSTER_BOOTSTRAP_PASSWORD"
