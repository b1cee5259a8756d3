#!/usr/bin/env bash
# Every function under a real Lambda runtime: runs the binaries under cargo-lambda's runtime
# emulator (`cargo lambda watch`, pinned in scripts/requirements-dev.txt) against the local
# emulator and invokes each sample event of events/, made real (real ids, tokens and bodies; the
# workers get a stream record, an S3 notification or a schedule of real jobs), with
# `cargo lambda invoke --data-file`, checking each answer's status and the workers' effects
# (scripts/lambda_smoke.py). Extra arguments name the functions to run (default: all of events/).
# Run by scripts/test.sh for a small set, with its emulator; alone, it starts one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
export PATH="$VENV/bin:$PATH"  # cargo-lambda, run as `cargo lambda`
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  EMULATOR_PORT="$(free_port)"
  trap stop_emulator EXIT
  start_emulator "$EMULATOR_PORT"
  export_emulator_env "$EMULATOR_PORT"
fi

# The chosen functions' binaries and the gateway that sets up their data, built once before any
# invocation (cargo lambda watch would otherwise build each on its first invocation). Built for the
# workspace, as `cargo test --workspace` and `cargo lambda watch` build: the same dependency
# features, so no dependency is built twice.
if [ "$#" -eq 0 ]; then
  BINS=(--bins)
else
  # get-job reads the workers' jobs back; functions a chosen one needs otherwise (create-export
  # for export-run, say) are built by cargo lambda watch on their first invocation.
  BINS=(--bin local-gateway --bin get-job)
  for function in "$@"; do
    BINS+=(--bin "$function")
  done
fi
cargo build --locked --quiet --workspace "${BINS[@]}"

# A run of its own: a fresh table, bucket and signing keys; mails and links for a test domain.
export_run_stack smoke
export SMOKE_WORK_DIR="$LOCAL/$RUN"
mkdir -p "$SMOKE_WORK_DIR"
# The signing keys live in the emulator's Secrets Manager, as on AWS (the setup gateway creates
# them); only the token issuers are given the private key's secret (template.yaml).
export ROSTER_SIGNING_KEY_SECRET="roster-signing-key-$RUN"
export ROSTER_PUBLIC_KEYS_SECRET="roster-public-keys-$RUN"
export ROSTER_SEALING_SECRET="roster-sealing-$RUN"
export SMOKE_GATEWAY="$ROOT/target/debug/local-gateway"
# The webhook steps deliver to a receiver on loopback, as the local stack's do (never on AWS).
export ROSTER_WEBHOOKS_ALLOW_LOCAL=true
export RUST_LOG="${RUST_LOG:-info}"

"$VENV/bin/python" scripts/lambda_smoke.py "$@"
