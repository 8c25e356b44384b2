#!/usr/bin/env bash
# Command (2) of the README: install everything, then lint, type-check, test every package against the real
# local servers, run the consumer test on packed tarballs, and follow the README as a new user does (its install
# commands, then every line of its Examples against a local moto: scripts/newcomer.mjs).
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
node scripts/newcomer.mjs | tee "$results/newcomer.log"
# One closing line for the whole run: vitest's tests plus the consumer test's and the newcomer script's checks.
node -e '
  const fs = require("node:fs");
  const v = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  let passed = v.numPassedTests;
  let failed = v.numFailedTests;
  for (const log of process.argv.slice(2)) {
    const c = fs.readFileSync(log, "utf8").match(/(\d+) passed, (\d+) failed/);
    passed += Number(c[1]);
    failed += Number(c[2]);
  }
  console.log(`total: ${passed} passed, ${failed} failed`);
' "$results/vitest.json" "$results/consumer.log" "$results/newcomer.log"
rm -rf "$results"
