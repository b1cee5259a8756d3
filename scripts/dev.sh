#!/usr/bin/env bash
# Runs Roster locally: the emulator, the table, bucket and sender identity, and the local HTTP
# gateway on every route and the web console (console/, built here), with a bootstrap platform
# admin it prints. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
PORT="${ROSTER_EMULATOR_PORT:-$(free_port)}"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"

cargo build --locked --workspace --bin local-gateway
GATEWAY="$ROOT/target/debug/local-gateway"

# The web console, served by the gateway at / (its pinned packages installed the first time).
(
  cd "$ROOT/console"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
  npm run --silent build
)
export ROSTER_CONSOLE_DIR="$ROOT/console/dist"

if [ ! -f "$LOCAL/bootstrap-password" ]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$LOCAL/bootstrap-password"
  chmod 600 "$LOCAL/bootstrap-password"
fi
# The signing keys live in the emulator's Secrets Manager, as on AWS: `serve --setup` creates the
# signing-key and public-key secrets with a first key; `local-gateway rotate-key` rotates it.
# It creates the sealing secret too (a random value), which the keys that seal idempotent
# creates' kept answers derive from.
export ROSTER_SIGNING_KEY_SECRET="${ROSTER_SIGNING_KEY_SECRET:-roster-signing-key}"
export ROSTER_PUBLIC_KEYS_SECRET="${ROSTER_PUBLIC_KEYS_SECRET:-roster-public-keys}"
export ROSTER_SEALING_SECRET="${ROSTER_SEALING_SECRET:-roster-sealing}"
export ROSTER_TABLE="${ROSTER_TABLE:-roster}"
export ROSTER_BUCKET="${ROSTER_BUCKET:-roster-files}"
export ROSTER_MAIL_FROM="${ROSTER_MAIL_FROM:-no-reply@roster.local}"
export ROSTER_GATEWAY_ADDR="${ROSTER_GATEWAY_ADDR:-127.0.0.1:8080}"
# Mailed links (set password, verify email) open the console served by the gateway.
export ROSTER_APP_URL="${ROSTER_APP_URL:-http://$ROSTER_GATEWAY_ADDR}"
export ROSTER_BOOTSTRAP_EMAIL="${ROSTER_BOOTSTRAP_EMAIL:-admin@roster.local}"
ROSTER_BOOTSTRAP_PASSWORD="$(cat "$LOCAL/bootstrap-password")"
export ROSTER_BOOTSTRAP_PASSWORD
export RUST_LOG="${RUST_LOG:-info}"
# The emulator serves one request at a time: under load a request may wait its turn for seconds.
export ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS="${ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS:-30000}"
# Webhooks may go to a receiver on this machine (http, loopback): the local stack only.
export ROSTER_WEBHOOKS_ALLOW_LOCAL="${ROSTER_WEBHOOKS_ALLOW_LOCAL:-true}"

echo "emulator: $AWS_ENDPOINT_URL (sent mail: $AWS_ENDPOINT_URL/moto-api/data.json)"
echo "rotate the signing key (tokens already issued stay valid):"
echo "  AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\"
echo "  ROSTER_TABLE=$ROSTER_TABLE ROSTER_BUCKET=$ROSTER_BUCKET ROSTER_MAIL_FROM=$ROSTER_MAIL_FROM ROSTER_APP_URL=$ROSTER_APP_URL \\"
echo "  ROSTER_SIGNING_KEY_SECRET=$ROSTER_SIGNING_KEY_SECRET ROSTER_PUBLIC_KEYS_SECRET=$ROSTER_PUBLIC_KEYS_SECRET $GATEWAY rotate-key"
"$GATEWAY" serve --setup
