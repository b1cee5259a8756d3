#!/usr/bin/env bash
# Uploads the console to a deployed stack (after `sam deploy`): builds console/ and syncs
# console/dist to the stack's ConsoleBucket (hashed assets cached for a year, index.html never),
# then invalidates index.html on the ConsoleDistribution. Needs the AWS CLI and credentials.
# Usage: scripts/deploy-console.sh STACK_NAME
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
stack="${1:?usage: scripts/deploy-console.sh STACK_NAME}"
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket="$(output ConsoleBucketName)"
distribution="$(output ConsoleDistributionId)"
(cd console && npm ci --no-audit --no-fund && npm run build)
aws s3 sync console/dist/assets "s3://$bucket/assets" --delete \
  --cache-control "public, max-age=31536000, immutable"
aws s3 sync console/dist "s3://$bucket" --exclude "assets/*" --delete \
  --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/index.html" "/"
echo "the console is at $(output ConsoleUrl)"
