#!/usr/bin/env bash
# Lambda benchmarks: the stripped release size of every function binary (target <= 12 MB) and each
# one's init time against a hello-world lambda_http binary built the same way (target <= 1.5x).
# `scripts/bench.sh search` runs the search benchmark instead (scripts/bench-search.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "search" ]; then
  exec scripts/bench-search.sh
fi

cargo build --release --locked -p roster-functions --bins --example hello-world
mapfile -t FUNCTIONS < <(ls functions/src/bin | sed 's/\.rs$//' | grep -v '^local-gateway$')

echo "== binary sizes (stripped, release)"
status=0
for f in hello-world "${FUNCTIONS[@]}"; do
  path="target/release/$f"
  [ "$f" = hello-world ] && path="target/release/examples/hello-world"
  bytes=$(stat -c %s "$path")
  mb=$(python3 -c "print(f'{$bytes / 1048576:.2f}')")
  flag=""
  if [ "$bytes" -gt $((12 * 1048576)) ]; then flag="  OVER 12 MB"; status=1; fi
  printf '%-28s %8s MB%s\n' "$f" "$mb" "$flag"
done

echo
echo "== init time"
# What a deployed function gets from template.yaml; no network call happens during init.
eval "$(target/release/local-gateway keygen | sed 's/^/export /')"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
export AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_FUNCTION_VERSION='$LATEST'
export AWS_LAMBDA_LOG_STREAM_NAME=bench AWS_LAMBDA_LOG_GROUP_NAME=bench
export ROSTER_TABLE=roster ROSTER_BUCKET=roster-files ROSTER_MAIL_FROM=no-reply@example.com
export ROSTER_APP_URL=https://app.example.com AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true
binaries=()
for f in "${FUNCTIONS[@]}"; do binaries+=("target/release/$f"); done
python3 scripts/bench_init.py target/release/examples/hello-world "${binaries[@]}" || status=1
exit $status
