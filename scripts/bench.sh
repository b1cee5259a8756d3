#!/usr/bin/env bash
# Lambda benchmarks: builds every function binary and a hello-world lambda_http baseline with the
# release profile, then reports each one's stripped size (target <= 12 MiB) and init time against
# hello-world (target <= 1.5x) via scripts/bench_init.py. Exits non-zero if a target is missed.
# BENCH_RUNS (default 15) sets the runs per binary.
# `scripts/bench.sh search` runs the search benchmark instead (scripts/bench-search.sh);
# `scripts/bench.sh bulk` the import/export benchmark (scripts/bench-bulk.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "search" ]; then
  exec scripts/bench-search.sh
fi
if [ "${1:-}" = "bulk" ]; then
  exec scripts/bench-bulk.sh
fi

start=$(date +%s)
cargo build --release --locked -p roster-functions --bins --example hello-world
echo "build took $(($(date +%s) - start)) s"

# Every bin is a Lambda function except the local gateway.
mapfile -t functions < <(ls functions/src/bin | sed 's/\.rs$//' | grep -vx 'local-gateway')

# A fresh Ed25519 key as fixed ROSTER_JWT_* variables (no Secrets Manager here; init reads no key
# either way); like template.yaml, only the functions that issue tokens get the private one.
eval "$(target/release/local-gateway keygen | sed 's/^/export /')"
BENCH_PRIVATE_KEY_FOR="$(awk '/Binary:/ {bin = $2} /ROSTER_SIGNING_KEY_SECRET:/ {print bin}' template.yaml | xargs)"
export BENCH_PRIVATE_KEY_FOR

python3 scripts/bench_init.py target/release/examples/hello-world "${functions[@]/#/target/release/}"
