#!/usr/bin/env bash
# Runs a command on the Node.js pinned in versions.env (fetched and cached by node.sh on
# first use): `bash scripts/toolchain/with-node.sh tsx scripts/demo.ts`. Every npm script
# starts with it because npm itself runs on whatever node the machine has (often older)
# and cannot switch: the pinned node's folder goes first on PATH, so `node`, the
# `#!/usr/bin/env node` tools (tsx, jest, tsc) and the npm scripts the command runs in
# turn are all on it.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: with-node.sh <command> [args...]" >&2; exit 2; }
bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/node.sh")"
# First, even when a nested run put it further down already.
rest=":$PATH:"
rest="${rest//:$bin:/:}"
rest="${rest#:}"
PATH="$bin:${rest%:}"
export PATH
exec "$@"
