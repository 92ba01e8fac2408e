#!/usr/bin/env bash
# Prints the path of a tansu broker binary, building it once into a cache that survives clean
# clones (~9 minutes the first time, instant afterwards). Never rebuilds a cached binary.
#   CALLPULSE_CACHE  cache root (default ~/.cache/callpulse)
set -euo pipefail
version=0.6.0
cache="${CALLPULSE_CACHE:-$HOME/.cache/callpulse}"
root="$cache/tansu-$version"
bin="$root/bin/tansu"
# an earlier layout of the cache, kept working
[ -x "$bin" ] || { [ -x "$cache/tansu/bin/tansu" ] && bin="$cache/tansu/bin/tansu"; }
if [ ! -x "$bin" ]; then
  echo "tansu.sh: building tansu $version once into $root (about 9 minutes)" >&2
  mkdir -p "$root"
  cargo install tansu --version "$version" --features dynostore,libsql --locked --root "$root" >&2
  bin="$root/bin/tansu"
fi
"$bin" --help >/dev/null
echo "$bin"
