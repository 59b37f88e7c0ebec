#!/usr/bin/env bash
# Installs what the project needs from outside npm, for one entry point:
#
#   setup.sh demo   npm run demo, npm run stack:up: moto's server (PyPI) and the Debian
#                   packages of the real node (containerd, runc, CNI plugins, iptables)
#                   and of the operator's image (buildah, debootstrap, skopeo, ...);
#                   moto only with STACK_REAL_NODE=0 (no real node, no image then)
#   setup.sh test   npm test (so .ci/run too): the demo's, plus cfn-lint (PyPI), podman
#                   (the image test), Java 17 and Maven (ElasticMQ, fetched by Maven)
#
# What is there already is left alone: a second run installs nothing (well under 1 s).
# Debian packages go in with apt-get when root. Another apt/dpkg run on the machine (CI,
# unattended upgrades) holding its lock is waited for, up to SETUP_APT_LOCK_TIMEOUT
# seconds (default 900), rather than failed on. Not root and a package missing: stops
# with the one command that installs it. It never skips: what the profile needs is there
# when it exits 0.
set -euo pipefail

PROFILE="${1:-}"
LOCK_TIMEOUT="${SETUP_APT_LOCK_TIMEOUT:-900}"
log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The real node (scripts/stack/realnode.ts) and the image build (scripts/image/build.sh,
# buildah's storage helpers and skopeo's pushes to the stack's registry).
DEMO_DEBS=(containerd runc iptables iproute2 containernetworking-plugins buildah skopeo umoci fuse-overlayfs uidmap debootstrap busybox-static)
# The image test runs the image with podman; ElasticMQ (the burst benchmark, the flood
# fault) runs on Java 17 and is fetched from Maven Central with Maven.
TEST_DEBS=(podman openjdk-17-jre-headless maven)
# "command it provides=pip requirement"
DEMO_PYPI=("moto_server=moto[server]")
TEST_PYPI=("cfn-lint=cfn-lint")

case "$PROFILE" in
  demo)
    debs=("${DEMO_DEBS[@]}"); pypi=("${DEMO_PYPI[@]}")
    [[ "${STACK_REAL_NODE:-}" != 0 ]] || debs=() ;;
  test)
    debs=("${DEMO_DEBS[@]}" "${TEST_DEBS[@]}"); pypi=("${DEMO_PYPI[@]}" "${TEST_PYPI[@]}") ;;
  *) die "usage: setup.sh demo|test" ;;
esac

# ---------------------------------------------------------------- PyPI
# Into the Python on PATH (the user's own: no root needed).
for spec in "${pypi[@]}"; do
  cmd="${spec%%=*}" req="${spec#*=}"
  command -v "$cmd" >/dev/null 2>&1 && continue
  command -v python3 >/dev/null || die "python3 is not on PATH ($req is installed with pip)"
  log "installing $req from PyPI ($cmd is not on PATH)"
  python3 -m pip install --quiet "$req" || die "pip could not install $req into $(command -v python3) (above: why); install it into a Python you own, with its scripts folder on PATH, then run this again"
  hash -r
  command -v "$cmd" >/dev/null 2>&1 || die "pip installed $req but $cmd is still not on PATH (is python3's scripts folder on PATH?)"
done

# ---------------------------------------------------------------- Debian
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

if [[ "$(id -u)" != 0 ]]; then
  log "missing Debian packages: ${missing[*]}"
  log "install them (root), then run the command again:"
  printf '  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
  exit 1
fi

# apt-get honours DPkg::Lock::Timeout for dpkg's lock, but `apt-get update` fails at
# once on the lists lock: such a failure is retried until the same deadline.
apt_waiting() { # apt-get arguments...
  local deadline=$(( $(date +%s) + LOCK_TIMEOUT )) out said=0 rc
  out="$(mktemp)"
  while :; do
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout="$(( deadline - $(date +%s) > 0 ? deadline - $(date +%s) : 0 ))" "$@" >"$out" 2>&1 || rc=$?
    if [[ $rc == 0 ]]; then rm -f "$out"; return 0; fi
    if grep -q 'Could not get lock' "$out" && (( $(date +%s) < deadline )); then
      [[ $said == 1 ]] || log "another apt/dpkg run holds its lock: waiting for it (up to ${LOCK_TIMEOUT}s)"
      said=1
      sleep 5 # polling the lock: apt offers no way to wait for it here
      continue
    fi
    tail -20 "$out" >&2
    if grep -q 'Could not get lock' "$out"; then rm -f "$out"; die "apt-get $*: the lock was still held after ${LOCK_TIMEOUT}s (SETUP_APT_LOCK_TIMEOUT)"; fi
    rm -f "$out"
    die "apt-get $* failed (exit $rc)"
  done
}

log "installing Debian packages: ${missing[*]}"
t0="$(date +%s)"
apt_waiting update
apt_waiting install -y --no-install-recommends "${missing[@]}"
log "Debian packages installed in $(( $(date +%s) - t0 ))s"
