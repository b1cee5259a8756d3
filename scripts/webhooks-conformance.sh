#!/usr/bin/env bash
# Webhooks checked by the official `standardwebhooks` package (pinned in
# scripts/requirements-dev.txt): scripts/webhook_receiver.py receives the local stack's deliveries
# on loopback and verifies each, refuses tampered bodies, goes down and comes back. Run by
# scripts/test.sh with its emulator; alone, it starts one.
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

cargo build --locked --quiet --workspace --bin local-gateway
GATEWAY="$ROOT/target/debug/local-gateway"
export_run_stack hooks
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
export RUST_LOG="${RUST_LOG:-warn}"
export ROSTER_GATEWAY_ADDR="127.0.0.1:$(free_port)"
# The receiver is on this machine, over http: the local stack's setting, never a deployment's.
export ROSTER_WEBHOOKS_ALLOW_LOCAL=true
start_gateway "$GATEWAY"
PYTHONPATH="$ROOT/scripts" "$VENV/bin/python" scripts/webhook_receiver.py \
  "http://$ROSTER_GATEWAY_ADDR" "$AWS_ENDPOINT_URL" "$ROSTER_BOOTSTRAP_EMAIL" \
  "$ROSTER_BOOTSTRAP_PASSWORD"
