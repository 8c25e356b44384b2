#!/usr/bin/env bash
# Command (2) of the README: install everything, then lint, type-check, test every package against the real
# local servers, and run the consumer test on packed tarballs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(npm prefix -g)/bin:$PATH"
pnpm lint
pnpm build
pnpm typecheck
pnpm -r --if-present publint
pnpm -r --workspace-concurrency=1 exec attw --pack . --profile esm-only --format ascii >/dev/null
pnpm exec vitest run
if [ -f scripts/consumer-test.mjs ]; then pnpm test:consumer; fi
