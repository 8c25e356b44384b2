#!/usr/bin/env bash
# Commit only the given paths, serialised with other agents working in this tree.
# Usage: scripts/commit.sh "message" path [path...]
set -euo pipefail
msg=$1; shift
exec 9>/tmp/s3kit-git.lock
flock 9
git add -A -- "$@"
git commit -q -m "$msg" -- "$@" || true
