# Shared by scripts/dev.sh and scripts/test.sh: the project-local virtualenv and the emulator.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"

# Installs the pinned emulator and linter into .local/venv, once per requirements file.
ensure_venv() {
  local stamp="$VENV/.requirements.sha256"
  local want
  want="$(sha256sum "$ROOT/scripts/requirements-dev.txt" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/moto_server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "installing the local emulator into $VENV ..." >&2
  mkdir -p "$LOCAL"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-dev.txt"
  echo "$want" > "$stamp"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_emulator PORT: starts moto on loopback, waits until it answers; sets EMULATOR_PID.
start_emulator() {
  local port="$1"
  MOTO_PORT="$port" "$VENV/bin/python" "$ROOT/scripts/emulator.py" 127.0.0.1 "$port" > "$LOCAL/moto-$port.log" 2>&1 &
  EMULATOR_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/" > /dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
      echo "the emulator failed to start; see $LOCAL/moto-$port.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "the emulator did not answer on port $port" >&2
  return 1
}

stop_emulator() {
  if [ -n "${EMULATOR_PID:-}" ]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
}

# The SDK reads its endpoint and credentials from the environment, as on AWS.
export_emulator_env() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="test"
  export AWS_SECRET_ACCESS_KEY="test"
}

# export_run_stack NAME: a Roster of its own on the emulator for one scripted run (RUN=NAME-<hex>):
# a fresh table and bucket, a test mail domain and a bootstrap admin with a random password.
export_run_stack() {
  RUN="$1-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
  export RUN
  export ROSTER_TABLE="roster-$RUN"
  export ROSTER_BUCKET="roster-files-$RUN"
  export ROSTER_MAIL_FROM="no-reply@roster.test"
  export ROSTER_APP_URL="https://app.roster.test"
  export ROSTER_BOOTSTRAP_EMAIL="admin-$RUN@operators.test"
  ROSTER_BOOTSTRAP_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  export ROSTER_BOOTSTRAP_PASSWORD
}

# start_gateway BINARY [SETUP]: `BINARY serve --setup` on ROSTER_GATEWAY_ADDR (log appended to
# .local/$RUN-gateway.log), waiting until it answers; sets GATEWAY_PID. SETUP "" restarts a gateway
# on a stack already set up. stop_gateway stops it.
start_gateway() {
  # shellcheck disable=SC2086 # an empty SETUP is no argument
  "$1" serve ${2---setup} >> "$LOCAL/$RUN-gateway.log" 2>&1 &
  GATEWAY_PID=$!
  for _ in $(seq 1 300); do
    if curl -fsS "http://$ROSTER_GATEWAY_ADDR/.well-known/jwks.json" > /dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
      echo "the gateway failed to start; see $LOCAL/$RUN-gateway.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "the gateway did not answer on $ROSTER_GATEWAY_ADDR" >&2
  return 1
}

stop_gateway() {
  if [ -n "${GATEWAY_PID:-}" ]; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
}
