#!/usr/bin/env bash
# The whole check, as CI runs it: setup, the native tests, the web build, the browser tests.
# Exits non-zero if any step fails. The browser tests run last, so their summary
# (`# pass N` / `# fail N`) closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

failed=()
timings=()
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# step NAME COMMAND...: runs it, records its time and whether it passed.
step() {
  local name="$1" t rc=0
  shift
  printf '\n=== %s: %s\n' "$name" "$*"
  t=$(now)
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    timings+=("$(printf '%-12s ok    %s' "$name" "$(since "$t")")")
  else
    timings+=("$(printf '%-12s FAIL  %s (exit %s)' "$name" "$(since "$t")" "$rc")")
    failed+=("$name")
  fi
  printf '=== %s\n' "${timings[-1]}"
  return "$rc"
}

step setup bash scripts/setup.sh || exit 1

# Tests that skip (no GPU adapter, no data: only outside CI=true, where both fail) say so here.
export SKIP_LOG="${TMPDIR:-/tmp}/metaplastic-skipped.$$"
rm -f "$SKIP_LOG"
step cargo-test cargo test || true

built=0
if step trunk-build trunk build --release --offline; then
  wasm=$(ls -S dist/*.wasm 2>/dev/null | head -n 1 || true)
  if [ -n "$wasm" ]; then
    printf 'wasm: %s %s bytes\n' "$wasm" "$(stat -c %s "$wasm")"
    built=1
  else
    echo "trunk build left no .wasm in dist/"
    failed+=(trunk-build)
  fi
fi

printf '\n--- timings\n'
printf '%s\n' "${timings[@]}"
skips() {
  printf '\n--- skipped, so not checked on this machine (CI=true makes these failures):\n'
  sort "$SKIP_LOG"
}
if [ -s "$SKIP_LOG" ]; then skips; else printf '\n--- no test skipped\n'; fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED so far: ${failed[*]}"
fi

if [ "$built" -ne 1 ]; then
  echo "e2e: not run (the web build failed)"
  rm -f "$SKIP_LOG"
  exit 1
fi

# The browser tests come last, with nothing printed after them: TAP output whatever the
# terminal, so the run always ends with node's summary (`# pass N`, `# fail N`, `# duration_ms`).
printf '\n=== e2e: node --test tests/e2e/\n'
rc=0
node --test --test-reporter=tap tests/e2e/ || rc=$?
# Only outside CI (where a skip is a failure) does anything follow node's summary.
if [ -s "$SKIP_LOG" ]; then skips; fi
rm -f "$SKIP_LOG"
if [ "$rc" -ne 0 ] || [ ${#failed[@]} -gt 0 ]; then
  exit 1
fi
