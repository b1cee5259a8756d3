#!/usr/bin/env bash
# The web console's tests (console/, SPEC §9.5–9.6): installs its pinned packages (npm ci) if
# missing, checks the generated API client against openapi.yaml (check:gen), runs the component
# tests (Vitest), builds it and checks the first load's JavaScript (≤ 250 KB gzipped), then
# starts a stack of its own (the emulator unless AWS_ENDPOINT_URL names one, and a local gateway
# serving the built console) and drives Debian's Chromium through every screen with
# playwright-core (console/e2e/): one test per seed story, axe-core on every screen, screenshots
# in .local/console-shots/. Installs chromium with apt-get when it is missing.
# `scripts/console-test.sh --serve` stops after starting the stack (for trying the console by hand);
# other arguments name the browser test files to run (e.g. e2e/01-sign-in.test.mjs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SERVE_ONLY=0
if [ "${1:-}" = "--serve" ]; then SERVE_ONLY=1; shift; fi

CHROMIUM="${ROSTER_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "installing chromium (Debian's) for the browser tests ..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi

cd "$ROOT/console"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ "$SERVE_ONLY" = 0 ]; then
  npm run --silent check:gen
  npx vitest run
fi
npm run --silent build
cd "$ROOT"

ensure_venv
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  EMULATOR_PORT="$(free_port)"
  start_emulator "$EMULATOR_PORT"
  export_emulator_env "$EMULATOR_PORT"
fi
stop_console_stack() {
  stop_gateway
  stop_emulator
}
trap stop_console_stack EXIT

GATEWAY="${CONSOLE_GATEWAY:-}"
if [ -z "$GATEWAY" ]; then
  # As fuzz.sh builds it (the same features, so the suite builds it once).
  cargo build --locked --quiet --workspace --bin local-gateway
  GATEWAY="$ROOT/target/debug/local-gateway"
fi

export_run_stack console
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
export RUST_LOG="${RUST_LOG:-warn}"
export ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS="${ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS:-30000}"
GATEWAY_PORT="${CONSOLE_PORT:-$(free_port)}"
export ROSTER_GATEWAY_ADDR="127.0.0.1:$GATEWAY_PORT"
# Mailed links open the console's pages (set-password, verify-email) on this gateway.
export ROSTER_APP_URL="http://$ROSTER_GATEWAY_ADDR"
export ROSTER_CONSOLE_DIR="$ROOT/console/dist"
start_gateway "$GATEWAY"

export CONSOLE_URL="http://$ROSTER_GATEWAY_ADDR"
export CONSOLE_EMULATOR="$AWS_ENDPOINT_URL"
export CONSOLE_ADMIN_EMAIL="$ROSTER_BOOTSTRAP_EMAIL"
export CONSOLE_ADMIN_PASSWORD="$ROSTER_BOOTSTRAP_PASSWORD"
export CONSOLE_SHOTS="$LOCAL/console-shots"
export CONSOLE_CHROMIUM="$CHROMIUM"
mkdir -p "$CONSOLE_SHOTS"

if [ "$SERVE_ONLY" = 1 ]; then
  echo "console: $CONSOLE_URL  (admin $CONSOLE_ADMIN_EMAIL / $CONSOLE_ADMIN_PASSWORD; mail: $AWS_ENDPOINT_URL/_roster/sent-mail)"
  echo "CONSOLE_URL=$CONSOLE_URL CONSOLE_EMULATOR=$CONSOLE_EMULATOR CONSOLE_ADMIN_EMAIL=$CONSOLE_ADMIN_EMAIL CONSOLE_ADMIN_PASSWORD=$CONSOLE_ADMIN_PASSWORD" > "$LOCAL/console-stack.env"
  wait "$GATEWAY_PID"
  exit 0
fi

cd "$ROOT/console"
# Extra arguments name the test files to run (e2e/ by default) and node --test options.
if [ "$#" -eq 0 ]; then set -- e2e/; fi
node --test --test-concurrency=1 --test-reporter=spec "$@"
echo "console tests passed"
