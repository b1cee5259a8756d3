#!/usr/bin/env bash
# Lambda benchmarks: builds every function binary and a hello-world lambda_http baseline with the
# release profile, then reports via scripts/bench_init.py each one's stripped size (target <= 6 MiB),
# init time against hello-world's (target <= 1.2x), and for a few handlers (BENCH_REQUESTS) a cold
# and a warm request against the local emulator with real data (target: cold <= warm + init + 2 ms).
# Exits non-zero if a target is missed. BENCH_RUNS (default 15) sets the runs per binary;
# BENCH_BINARIES=DIR measures the binaries in DIR (hello-world among them) instead of building.
# `scripts/bench.sh search` runs the search benchmark instead (scripts/bench-search.sh);
# `scripts/bench.sh bulk` the import/export benchmark (scripts/bench-bulk.sh); `scripts/bench.sh
# webhooks` the time from a member's creation to its webhook delivery (scripts/webhooks-conformance.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ "${1:-}" = "search" ]; then
  exec scripts/bench-search.sh
fi
if [ "${1:-}" = "bulk" ]; then
  exec scripts/bench-bulk.sh
fi
if [ "${1:-}" = "webhooks" ]; then
  # The member-create-to-delivery time on the local stack (SPEC §9.6: 5 s), with the
  # standardwebhooks checks of every delivery.
  exec scripts/webhooks-conformance.sh
fi

BIN="${BENCH_BINARIES:-}"
if [ -z "$BIN" ]; then
  start=$(date +%s)
  cargo build --release --locked -p roster-functions --bins --example hello-world
  echo "build took $(($(date +%s) - start)) s"
  BIN=target/release
  HELLO=target/release/examples/hello-world
else
  HELLO="$BIN/hello-world"
fi

# Every bin is a Lambda function except the local gateway (with BENCH_BINARIES, those in the DIR).
mapfile -t functions < <(ls functions/src/bin | sed 's/\.rs$//' | grep -vx 'local-gateway' |
  while read -r name; do [ -z "${BENCH_BINARIES:-}" ] || [ -x "$BIN/$name" ] && echo "$name"; done)

# A fresh Ed25519 key as fixed ROSTER_JWT_* variables (no Secrets Manager here; init reads no key
# either way); like template.yaml, only the functions that issue tokens get the private one.
eval "$("$BIN/local-gateway" keygen | sed 's/^/export /')"
BENCH_PRIVATE_KEY_FOR="$(awk '/Binary:/ {bin = $2} /ROSTER_SIGNING_KEY_SECRET:/ {print bin}' template.yaml | xargs)"
export BENCH_PRIVATE_KEY_FOR

# The requests' data: the emulator, then the local gateway makes the table, bucket and sender and
# serves the API the setup makes a tenant through; it is stopped before anything is measured.
ensure_venv
GATEWAY_PID=""
stop_all() {
  if [ -n "$GATEWAY_PID" ]; then kill "$GATEWAY_PID" 2>/dev/null || true; fi
  stop_emulator
}
trap stop_all EXIT
EMULATOR_PORT="$(free_port)"
start_emulator "$EMULATOR_PORT"
export_emulator_env "$EMULATOR_PORT"
export_run_stack bench
export ROSTER_GATEWAY_ADDR="127.0.0.1:$(free_port)"
"$BIN/local-gateway" serve --setup > "$LOCAL/$RUN-gateway.log" 2>&1 &
GATEWAY_PID=$!
until curl -fsS "http://$ROSTER_GATEWAY_ADDR/.well-known/jwks.json" > /dev/null 2>&1; do
  kill -0 "$GATEWAY_PID" 2>/dev/null || { echo "see $LOCAL/$RUN-gateway.log" >&2; exit 1; }
  sleep 0.2
done
data="$(python3 scripts/bench_init.py setup "http://$ROSTER_GATEWAY_ADDR" "$AWS_ENDPOINT_URL" \
  "$ROSTER_BOOTSTRAP_EMAIL" "$ROSTER_BOOTSTRAP_PASSWORD")"
eval "$data"
export BENCH_TENANT_ID BENCH_DEPARTMENT_ID BENCH_MEMBER_ID BENCH_OWNER_EMAIL BENCH_OWNER_PASSWORD BENCH_OWNER_TOKEN
kill "$GATEWAY_PID"
wait "$GATEWAY_PID" 2>/dev/null || true
GATEWAY_PID=""

python3 scripts/bench_init.py "$HELLO" "${functions[@]/#/$BIN/}"
