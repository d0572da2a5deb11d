#!/usr/bin/env bash
# Everything the build and the tests need, installed only where missing (idempotent; a few
# seconds when all is present). Run it (`bash scripts/setup.sh`) or source it (`. scripts/setup.sh`,
# which also leaves ~/.cargo/bin on your PATH).
#
#   - Debian packages: chromium chromium-driver (browser tests), mesa-vulkan-drivers libvulkan1
#     (software Vulkan "llvmpipe" for the native GPU tests)
#   - rustup target wasm32-unknown-unknown
#   - trunk 0.21.x (0.22 needs a newer rustc than this project's)
#   - wasm-bindgen CLI of exactly the version of the wasm-bindgen crate in Cargo.lock
#   - the crates in Cargo.lock (cargo fetch), so that `trunk build --offline` works
#   - npm packages (playwright-core) from package-lock.json
#   - the data sets (scripts/fetch-data.sh)

_metaplastic_setup() {
  set -euo pipefail
  local root start
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  start=$(date +%s.%N)
  cd "$root"

  case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac

  say() { printf 'setup: %s\n' "$*"; }
  die() { printf 'setup: ERROR: %s\n' "$*" >&2; return 1; }

  # --- Debian packages -------------------------------------------------------------------
  # python3: trunk's post-build hook writes the offline manifest (scripts/offline_manifest.py).
  local apt_pkgs=(chromium chromium-driver mesa-vulkan-drivers libvulkan1 python3) missing=() p
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "apt packages present (${apt_pkgs[*]})"
  else
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
      else
        die "missing Debian packages: ${missing[*]}; as root run: apt-get install -y ${missing[*]}"
      fi
    fi
    say "installing apt packages: ${missing[*]}"
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" update >/dev/null
    "${apt[@]}" install -y "${missing[@]}" >/dev/null
  fi

  # --- Rust: wasm target, trunk, wasm-bindgen CLI ----------------------------------------
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs)"
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "rust target wasm32-unknown-unknown present"
  else
    say "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi

  local have
  have="$(trunk --version 2>/dev/null || true)"
  if [[ "$have" =~ ^trunk\ 0\.21\. ]]; then
    say "$have present"
  else
    say "installing trunk 0.21.x (was: ${have:-none}; about 9 minutes on 2 cores)"
    cargo install trunk --locked --version '~0.21'
  fi

  # The CLI must match the crate exactly; the crate version is pinned in Cargo.toml and recorded
  # in Cargo.lock. No --locked: one of its locked dependencies is missing from the index.
  local want
  want="$(awk '
    /^\[\[package\]\]/ { inpkg = 1; name = ""; next }
    inpkg && /^name = / { name = $3; gsub(/"/, "", name) }
    inpkg && /^version = / && name == "wasm-bindgen" { v = $3; gsub(/"/, "", v); print v; exit }
  ' Cargo.lock 2>/dev/null || true)"
  [ -n "$want" ] || die "no wasm-bindgen package in Cargo.lock (run: cargo generate-lockfile)"
  have="$(wasm-bindgen --version 2>/dev/null || true)"
  if [ "$have" = "wasm-bindgen $want" ]; then
    say "$have present (matches Cargo.lock)"
  else
    say "installing wasm-bindgen-cli $want (was: ${have:-none}; about 4 minutes)"
    cargo install wasm-bindgen-cli --version "$want" --force
  fi

  # Crates for every target (the wasm-only ones included), so builds can run with --offline.
  cargo fetch --quiet
  say "crates fetched (cargo fetch)"

  # --- npm packages ------------------------------------------------------------------------
  command -v npm >/dev/null 2>&1 || die "node and npm not found: install Node.js 20 or newer"
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: playwright-core needs 20 or newer"
  local stamp=node_modules/.setup-lock.sha256 lock_sum
  if [ -f package-lock.json ]; then
    lock_sum="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
  else
    lock_sum="no-lock:$(sha256sum package.json | cut -d' ' -f1)"
  fi
  if [ -d node_modules/playwright-core ] && [ "$(cat "$stamp" 2>/dev/null)" = "$lock_sum" ]; then
    say "npm packages present (playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version'))"
  else
    if [ -f package-lock.json ]; then
      say "installing npm packages (npm ci)"
      npm ci --no-audit --no-fund --loglevel=error >/dev/null
    else
      say "installing npm packages (npm install: no package-lock.json)"
      npm install --no-audit --no-fund --loglevel=error >/dev/null
      lock_sum="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
    fi
    printf '%s\n' "$lock_sum" >"$stamp"
  fi

  # --- data ---------------------------------------------------------------------------------
  bash scripts/fetch-data.sh

  say "done in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: run in a child bash so that set -e and cd do not leak into the caller's shell;
  # keep only the PATH addition.
  # (A fresh bash, not a subshell: under `||` a subshell would run with set -e switched off.)
  bash "${BASH_SOURCE[0]}" || return $?
  case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac
  unset -f _metaplastic_setup
else
  _metaplastic_setup
fi
