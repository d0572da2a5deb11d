#!/usr/bin/env bash
# Builds and serves the app with live reload: http://127.0.0.1:${PORT:-8080}/
# Extra arguments go to `trunk serve` (e.g. --open, or --address 0.0.0.0 to serve beyond localhost).
#
# It builds into target/trunk-serve, not dist/: a served build carries trunk's live-reload
# script, and dist/ stays the plain release build that the browser tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec trunk serve --release --offline --dist target/trunk-serve --address 127.0.0.1 --port "${PORT:-8080}" "$@"
