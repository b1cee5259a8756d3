#!/usr/bin/env bash
# Runs Roster locally: the emulator, the table, bucket and sender identity, and the local HTTP
# gateway on every route, with a bootstrap platform admin it prints. Ctrl-C stops everything.
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

# A development signing key, generated once and never committed (.local is ignored).
if [ ! -f "$LOCAL/jwt.env" ]; then
  "$GATEWAY" keygen > "$LOCAL/jwt.env"
  chmod 600 "$LOCAL/jwt.env"
fi
if [ ! -f "$LOCAL/bootstrap-password" ]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$LOCAL/bootstrap-password"
  chmod 600 "$LOCAL/bootstrap-password"
fi
set -a
# shellcheck disable=SC1091
source "$LOCAL/jwt.env"
set +a
export ROSTER_TABLE="${ROSTER_TABLE:-roster}"
export ROSTER_BUCKET="${ROSTER_BUCKET:-roster-files}"
export ROSTER_MAIL_FROM="${ROSTER_MAIL_FROM:-no-reply@roster.local}"
export ROSTER_APP_URL="${ROSTER_APP_URL:-http://localhost:3000}"
export ROSTER_GATEWAY_ADDR="${ROSTER_GATEWAY_ADDR:-127.0.0.1:8080}"
export ROSTER_BOOTSTRAP_EMAIL="${ROSTER_BOOTSTRAP_EMAIL:-admin@roster.local}"
ROSTER_BOOTSTRAP_PASSWORD="$(cat "$LOCAL/bootstrap-password")"
export ROSTER_BOOTSTRAP_PASSWORD
export RUST_LOG="${RUST_LOG:-info}"

echo "emulator: $AWS_ENDPOINT_URL (sent mail: $AWS_ENDPOINT_URL/moto-api/data.json)"
"$GATEWAY" serve --setup
