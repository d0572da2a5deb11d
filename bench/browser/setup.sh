#!/usr/bin/env bash
# Installs what the jax-js peer page needs, only if it is missing: @jax-js/jax (pinned in
# package.json) from the npm registry into bench/browser/node_modules. Idempotent: a second run
# only checks that the pinned version is there. Not part of the project's test path
# (scripts/test.sh never calls it); bench/browser.mjs runs it first.
set -euo pipefail
cd "$(dirname "$0")"

want="$(node -p "require('./package.json').dependencies['@jax-js/jax']")"
have="$(node -p "try { require('./node_modules/@jax-js/jax/package.json').version } catch { '' }" 2>/dev/null || true)"
if [ "$have" = "$want" ] && [ -f node_modules/@jax-js/jax/dist/index.js ]; then
  exit 0
fi

echo "bench/browser/setup: installing @jax-js/jax@$want into $PWD/node_modules" >&2
# --no-package-lock: the one pinned dependency has none of its own; nothing to lock.
npm install --no-audit --no-fund --no-package-lock --loglevel=error
have="$(node -p "require('./node_modules/@jax-js/jax/package.json').version")"
if [ "$have" != "$want" ]; then
  echo "bench/browser/setup: @jax-js/jax $have installed, $want wanted" >&2
  exit 1
fi
echo "bench/browser/setup: @jax-js/jax $have ok" >&2
