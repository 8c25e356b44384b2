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
pnpm -r --workspace-concurrency=1 exec attw --pack . --profile esm-only --format table-flipped
results=$(mktemp -d)
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json"
pnpm test:consumer | tee "$results/consumer.log"
# One closing line for the whole run: vitest's tests plus the consumer test's checks.
node -e '
  const fs = require("node:fs");
  const v = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const c = fs.readFileSync(process.argv[2], "utf8").match(/(\d+) passed, (\d+) failed/);
  const passed = v.numPassedTests + Number(c[1]);
  const failed = v.numFailedTests + Number(c[2]);
  console.log(`total: ${passed} passed, ${failed} failed`);
' "$results/vitest.json" "$results/consumer.log"
rm -rf "$results"
