#!/usr/bin/env bash
# Prints the path of a cargo-deny binary: the one on PATH, or one built once from crates.io into
# a cache that survives clean clones (several minutes the first time, instant afterwards).
#   CALLPULSE_CACHE  cache root (default ~/.cache/callpulse)
set -euo pipefail
version=0.20.2
if command -v cargo-deny >/dev/null 2>&1; then
  command -v cargo-deny
  exit 0
fi
cache="${CALLPULSE_CACHE:-$HOME/.cache/callpulse}"
root="$cache/cargo-deny-$version"
bin="$root/bin/cargo-deny"
if [ ! -x "$bin" ]; then
  echo "cargo-deny.sh: building cargo-deny $version once into $root" >&2
  mkdir -p "$root"
  cargo install cargo-deny --version "$version" --locked --root "$root" >&2
fi
"$bin" --version >/dev/null
echo "$bin"
