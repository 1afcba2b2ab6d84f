#!/usr/bin/env bash
# Runs the end-to-end suite (official openai SDK -> tollgate -> fake provider).
#   TOLLGATE_BUILD_DIR  build directory holding tollgate and tests/tollgate-fake-provider
#                       (default: <repo>/build)
# Extra arguments are passed to `node --test` via npm (e.g. --test-name-pattern=embeddings).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export TOLLGATE_BUILD_DIR="${TOLLGATE_BUILD_DIR:-$repo/build}"

cd "$here"

for bin in "$TOLLGATE_BUILD_DIR/tollgate" "$TOLLGATE_BUILD_DIR/tests/tollgate-fake-provider"; do
  if [[ ! -x "$bin" ]]; then
    echo "run.sh: missing executable $bin (build first, or set TOLLGATE_BUILD_DIR)" >&2
    exit 2
  fi
done

if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

# Options (e.g. --test-name-pattern=...) must come before the directory for `node --test`.
exec node --test --test-reporter=spec "$@" test/
