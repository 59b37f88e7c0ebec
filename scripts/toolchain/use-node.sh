# Source it (`. scripts/toolchain/use-node.sh`): puts the pinned Node.js (versions.env,
# fetched and cached by node.sh on first use) first on PATH for this shell, so `npm`
# and every project command run on it. The machine's npm is driven by this node too.
_sro_node_bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/node.sh")" || return 1
case ":$PATH:" in *":$_sro_node_bin:"*) ;; *) PATH="$_sro_node_bin:$PATH" ;; esac
export PATH
unset _sro_node_bin
