#!/usr/bin/env bash
# Soak under faults: several clients drive a mixed workload (creates, edits, moves, departments,
# invitations and accepts, seat changes, bulk status, imports, exports; scripts/soak.py) against a
# local gateway on loopback, on an emulator injecting faults (scripts/emulator.py), for a set time
# and at most a set number of requests. Midway the gateway is killed (SIGKILL, requests and
# workers in flight) and started again. At the end the consistency checker reads the whole table.
# Prints requests made, 503s, other 5xx (must be 0), faults injected and invariants broken (must
# be 0); fails otherwise.
#
# usage: scripts/soak.sh [SECONDS] [MAX_REQUESTS] [CLIENTS]     (defaults: 120, 20000, 6)
# environment: ROSTER_FAULT_RATE (0.05), ROSTER_FAULT_DELAY_RATE (0.002), ROSTER_FAULT_SEED
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DURATION="${1:-120}"
MAX_REQUESTS="${2:-20000}"
CLIENTS="${3:-6}"
ensure_venv
export ROSTER_FAULT_RATE="${ROSTER_FAULT_RATE:-0.05}"
export ROSTER_FAULT_DELAY_RATE="${ROSTER_FAULT_DELAY_RATE:-0.002}"
export ROSTER_FAULT_DELAY_SECONDS="${ROSTER_FAULT_DELAY_SECONDS:-4}"
export ROSTER_FAULT_SEED="${ROSTER_FAULT_SEED:-$RANDOM}"
export ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS="${ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS:-3000}"
EMULATOR_PORT="$(free_port)"
start_emulator "$EMULATOR_PORT"
export_emulator_env "$EMULATOR_PORT"

stop_soak() {
  stop_gateway
  stop_emulator
}
trap stop_soak EXIT

cargo build --locked --quiet --workspace --bin local-gateway
GATEWAY="$ROOT/target/debug/local-gateway"
export_run_stack soak
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
# The workload signs in and imports far more than production's abuse limits allow one address.
export ROSTER_LIMIT_SIGN_IN_ACCOUNT=1000000
export ROSTER_LIMIT_SIGN_IN_ACCOUNT_ADDRESS=1000000
export ROSTER_LIMIT_CURRENT_PASSWORD=1000000
export ROSTER_LIMIT_SIGN_IN_ADDRESS=1000000
export ROSTER_LIMIT_PUBLIC_ADDRESS=1000000
export ROSTER_LIMIT_PENDING_JOIN_REQUESTS=1000000
export RUST_LOG="${RUST_LOG:-warn}"
export ROSTER_GATEWAY_ADDR="127.0.0.1:$(free_port)"
start_gateway "$GATEWAY"
echo "soak $RUN: ${DURATION}s, at most $MAX_REQUESTS requests, $CLIENTS clients, faults $ROSTER_FAULT_RATE (delays $ROSTER_FAULT_DELAY_RATE), seed $ROSTER_FAULT_SEED"

"$VENV/bin/python" scripts/soak.py "http://$ROSTER_GATEWAY_ADDR" "$AWS_ENDPOINT_URL" \
  "$DURATION" "$MAX_REQUESTS" "$CLIENTS" > "$LOCAL/$RUN-soak.log" 2>&1 &
SOAK_PID=$!
sleep $(( DURATION / 2 ))
if kill -0 "$SOAK_PID" 2>/dev/null; then
  kill -9 "$GATEWAY_PID"
  wait "$GATEWAY_PID" 2>/dev/null || true
  echo "gateway killed at $(( DURATION / 2 ))s, with requests and workers in flight; starting it again"
  start_gateway "$GATEWAY" ""
fi
wait "$SOAK_PID" || { cat "$LOCAL/$RUN-soak.log"; exit 1; }
# Let the workers finish what the last requests queued before the checker reads the table.
sleep 5
stop_gateway

set +e
# The emulator walks the whole table for every scan page, so on a soaked table one page takes
# longer than the production attempt timeout the soak holds requests to; the checker is a batch
# job and waits for it.
ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS=30000 "$GATEWAY" check > "$LOCAL/$RUN-check.log" 2>&1
CHECKED=$?
set -e
"$VENV/bin/python" - "$LOCAL/$RUN-soak.log" "$LOCAL/$RUN-check.log" "$AWS_ENDPOINT_URL" "$CHECKED" <<'PY'
import json, sys, urllib.request
soak_log, check_log, emulator, checked = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = open(soak_log).read().splitlines()
for line in lines[:-1]:
    print(line)
summary = json.loads(lines[-1])
faults = json.load(urllib.request.urlopen(emulator + "/_roster/faults"))
check = open(check_log).read()
broken = None
for line in reversed(check.splitlines()):
    try:
        report = json.loads(line)
    except ValueError:
        continue
    if isinstance(report, dict) and "findings" in report:
        broken = len(report["findings"])
        break
print(f"duration:            {summary['seconds']} s")
print(f"requests:            {summary.get('requests', 0)}")
print(f"statuses:            {summary['statuses']}")
print(f"client errors:       {summary.get('problems', {})}")
print(f"faults injected:     {faults['injected_total']} {faults['injected']}")
print(f"503s (retried):      {summary.get('unavailable_503', 0)}")
print(f"other 5xx:           {summary.get('server_errors_5xx', 0)}")
print(f"connection errors:   {summary.get('connection_errors', 0)} (while the gateway restarted)")
print(f"invariants broken:   {broken if broken is not None else 'unknown'} (checker exit {checked})")
if checked != 0:
    print(check[-4000:])
ok = summary.get("server_errors_5xx", 0) == 0 and checked == 0 and broken == 0
sys.exit(0 if ok else 1)
PY
