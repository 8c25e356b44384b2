#!/usr/bin/env bash
# Install what s3kit's build and tests need on a fresh machine that has Node and npm:
# Node 24 (when the machine has an older one), pnpm, the apt tools the tests use, and the workspace packages.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 24 ]; then
  echo "setup: Node $(node -v 2>/dev/null) found; installing Node 24 from the npm registry" >&2
  npm i -g --force node@24 >/dev/null 2>&1 || npm i -g --force node@24
  hash -r
fi
echo "setup: node $(node -v)" >&2

# After `npm i -g node@24`, npm's global prefix moves under the new node (/usr/lib/node_modules/node), so
# global bins such as pnpm land in a folder that may not be on PATH yet.
export PATH="$(npm prefix -g)/bin:$PATH"

want_pnpm=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm -v 2>/dev/null || true)" != "$want_pnpm" ]; then
  npm i -g "pnpm@$want_pnpm" >/dev/null 2>&1 || npm i -g "pnpm@$want_pnpm"
  hash -r
fi
echo "setup: pnpm $(pnpm -v)" >&2

# Native tools: xdelta3 and zstd for delta-store (tests compare against them), openssl for shared's TLS test
# certificate. Only with root and apt.
missing=()
for tool in xdelta3 zstd openssl; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: warning: ${missing[*]} not installed and no root apt; the native delta engine tests will use what is there" >&2
  fi
fi

if ! python3 -c 'import moto' >/dev/null 2>&1; then
  echo "setup: warning: python3 moto is missing; S3 integration tests need it (pip install 'moto[server]') or S3KIT_TEST_S3_ENDPOINT" >&2
fi
if ! command -v java >/dev/null 2>&1; then
  echo "setup: warning: java is missing; DynamoDB Local needs it (or set S3KIT_TEST_DYNAMODB_ENDPOINT)" >&2
fi

pnpm install --frozen-lockfile
