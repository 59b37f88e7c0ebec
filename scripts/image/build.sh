#!/usr/bin/env bash
# npm run image — builds the operator's image from the project's own Dockerfile with
# buildah (no daemon, no registry), and the sample app's (examples/fingerprint-app),
# and saves each as an OCI archive; the operator's with a CycloneDX SBOM of its npm
# packages:
#   .image/secrets-rotation-operator-<version>.oci.tar
#   .image/secrets-rotation-operator-<version>.cdx.json
#   .image/fingerprint-app-<version>.oci.tar
#
# No base image can be pulled here, so the Dockerfiles' FROM images are assembled
# locally first (once; cached in the image store) and tagged with the names the
# Dockerfiles use:
#   docker.io/library/node:24-bookworm-slim      debootstrap (minbase) + the official
#                                                Node binary (scripts/toolchain/node.sh)
#                                                + npm from the npm registry
#   gcr.io/distroless/nodejs24-debian12:nonroot  a distroless-like tree: node, the
#                                                libraries it links, CA bundle,
#                                                passwd/group with nonroot (65532), /tmp
# On a machine with a registry the same Dockerfiles build unchanged against the real ones.
#
# Also (for the stack's real node, not part of `npm run image`):
#   build.sh --only pause   the sandbox ("pause") image: busybox-static `sleep` in a
#                           scratch image, as a docker-archive (cached by busybox's version)
#
# Both images are tagged with the release version, package.json's "version" (the one
# place it is written: scripts/version.ts).
#
# Usage: build.sh [--only operator|app|pause] [--print-env] [--print-version]
#   --print-env       print KEY=VALUE lines naming the archives and image names (stdout)
#   --print-version   print the version the images are tagged with, build nothing
# Needs root, buildah, runc, debootstrap (Debian packages; .ci/run installs them).
# Image store, container configs and the bases' stamp live under
#   ${SRO_TOOLCHAIN_CACHE:-~/.cache/secrets-rotation-operator}/containers/
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../toolchain/versions.env
. "$REPO/scripts/toolchain/versions.env"
# shellcheck source=env.sh
. "$HERE/env.sh"

# Bump when the way the bases are assembled changes: they are rebuilt.
BASE_RECIPE=1
NODE_BASE=docker.io/library/node:24-bookworm-slim
RUNTIME_BASE=gcr.io/distroless/nodejs24-debian12:nonroot

ONLY="" PRINT_ENV=0
VERSION="$(node -p 'require(process.argv[1]).version' "$REPO/package.json")"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) shift; ONLY="${1:-}" ;;
    --print-env) PRINT_ENV=1 ;;
    --print-version) echo "$VERSION"; exit 0 ;;
    -h|--help) sed -n '2,32p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

[[ "$(id -u)" == 0 ]] || die "needs root (buildah's overlay store and debootstrap); CI runs as root"
for c in buildah runc debootstrap; do
  command -v "$c" >/dev/null || die "$c is not installed: apt-get install buildah runc debootstrap"
done

OUT="$REPO/.image"
mkdir -p "$OUT"
T_ALL="$(date +%s)"

sro_containers_env
exec 8>"$SRO_CONTAINERS_DIR/.lock"
flock 8

# ---------------------------------------------------------------- pause
if [[ "$ONLY" == pause ]]; then
  [[ -x /bin/busybox ]] || die "/bin/busybox missing: apt-get install busybox-static"
  PAUSE_IMAGE=docker.io/library/sro-pause:1
  PAUSE_ARCHIVE="$SRO_CONTAINERS_DIR/pause-$(sha256sum /bin/busybox | cut -c1-12).docker.tar"
  if [[ ! -s "$PAUSE_ARCHIVE" ]]; then
    ctr="$(buildah from --quiet scratch)"
    buildah copy --quiet "$ctr" /bin/busybox /bin/busybox >/dev/null
    # PID 1 ignores SIGTERM; the runtime stops sandboxes with SIGKILL.
    buildah config --entrypoint '["/bin/busybox","sleep","2147483647"]' --user 65535:65535 "$ctr"
    buildah commit --quiet --rm "$ctr" "$PAUSE_IMAGE" >/dev/null
    buildah push --quiet "$PAUSE_IMAGE" "docker-archive:$PAUSE_ARCHIVE.tmp:$PAUSE_IMAGE" >/dev/null
    mv -f "$PAUSE_ARCHIVE.tmp" "$PAUSE_ARCHIVE"
    log "pause: $PAUSE_IMAGE -> $PAUSE_ARCHIVE"
  fi
  [[ $PRINT_ENV == 1 ]] && printf 'PAUSE_IMAGE=%s\nPAUSE_ARCHIVE=%s\n' "$PAUSE_IMAGE" "$PAUSE_ARCHIVE"
  exit 0
fi

# ---------------------------------------------------------------- bases
node_bin="$(bash "$REPO/scripts/toolchain/node.sh")/node"
base_key="$( { echo "recipe=$BASE_RECIPE suite=$DEBIAN_SUITE node=$NODE_VERSION npm=$NPM_VERSION"; sed -n '/^# ---- bases-begin/,/^# ---- bases-end/p' "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)"
stamp="$SRO_CONTAINERS_DIR/bases.key"

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# The Debian mirror apt is configured with (never a hard-coded host).
debian_mirror() {
  apt-cache policy 2>/dev/null | awk -v s="$DEBIAN_SUITE/main" '$3 == s && $4 == "amd64" { print $2; exit }'
}

# ---- bases-begin (the text between these markers is part of the bases' cache key)
commit_tree() { # name tarball cfg...
  local name="$1" tarball="$2"; shift 2
  local ctr; ctr="$(buildah from --quiet scratch)"
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config "$@" --label "dev.secrets-rotation-operator.base-key=$base_key" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
}

build_bases() {
  local t0 work rootfs mirror
  t0="$(date +%s)"
  work="$(mktemp -d "$SRO_CONTAINERS_DIR/.bases-XXXXXX")"
  trap 'rm -rf "$work"' RETURN
  rootfs="$work/rootfs"
  mirror="$(debian_mirror)"
  [[ -n "$mirror" ]] || die "no apt source for $DEBIAN_SUITE/main found (apt-cache policy); run apt-get update"
  log "bases: debootstrap --variant=minbase $DEBIAN_SUITE (about a minute; output in $work/debootstrap.log)"
  if ! debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  log "bases: Debian $DEBIAN_SUITE root file system ready after $(elapsed "$t0")"

  # Stand-in for node:24-bookworm-slim: trimmed Debian + node + npm at /usr/local.
  local slim="$work/slim"
  cp -a "$rootfs" "$slim"
  rm -rf "$slim"/var/lib/apt/lists/* "$slim"/var/cache/apt/* "$slim"/usr/share/doc/* "$slim"/usr/share/man/* \
    "$slim"/usr/share/info/* "$slim"/var/log/* "$slim"/dev/* "$slim"/proc/* "$slim"/sys/*
  find "$slim/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  install -m 0755 "$node_bin" "$slim/usr/local/bin/node"
  (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$slim/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz -C "$slim/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$slim/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$slim/usr/local/bin/npx"
  tar --numeric-owner -C "$slim" -cf "$work/slim.tar" .
  commit_tree "$NODE_BASE" "$work/slim.tar" \
    --env "NODE_VERSION=$NODE_VERSION" --env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --cmd '["node"]'
  log "bases: $NODE_BASE ready ($(du -sh "$slim" | cut -f1))"

  # Stand-in for the distroless Node 24 image: node and exactly what it links.
  local dl="$work/distroless" lib
  mkdir -p "$dl"/{etc/ssl/certs,nodejs/bin,home/nonroot,tmp}
  install -m 0755 "$node_bin" "$dl/nodejs/bin/node"
  install -m 0755 "$node_bin" "$rootfs/node-probe"
  for lib in $(chroot "$rootfs" /usr/bin/ldd /node-probe | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
    mkdir -p "$dl$(dirname "$lib")"
    cp -L "$rootfs$lib" "$dl$lib"
  done
  cp -L "$rootfs/etc/ssl/certs/ca-certificates.crt" "$dl/etc/ssl/certs/ca-certificates.crt"
  cp "$rootfs/etc/os-release" "$dl/etc/os-release"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dl/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$dl/etc/group"
  printf 'hosts: files dns\n' >"$dl/etc/nsswitch.conf"
  chmod 1777 "$dl/tmp"
  chown 65532:65532 "$dl/home/nonroot"
  tar --numeric-owner -C "$dl" -cf "$work/distroless.tar" .
  commit_tree "$RUNTIME_BASE" "$work/distroless.tar" \
    --env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" --env "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --user 65532:65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]'
  log "bases: $RUNTIME_BASE ready ($(du -sh "$dl" | cut -f1))"
  log "bases: assembled in $(elapsed "$t0")"
}
# ---- bases-end

if [[ -f "$stamp" && "$(cat "$stamp")" == "$base_key" ]] && have_image "$NODE_BASE" && have_image "$RUNTIME_BASE"; then
  log "bases: cached ($NODE_BASE, $RUNTIME_BASE; key $base_key)"
else
  build_bases
  echo "$base_key" >"$stamp"
fi

# ---------------------------------------------------------------- builds
# npm inside the build containers trusts the host's CA bundle and uses its registry;
# both are mounted for the build only, never baked into a layer.
npmrc="$SRO_CONTAINERS_DIR/build.npmrc"
{ echo "registry=$(npm config get registry)"; echo "cafile=/etc/ssl/certs/ca-certificates.crt"; } >"$npmrc"

build_image() { # name context dockerfile [buildah bud arguments...]
  local name="$1" ctx="$2" file="$3" t0
  shift 3
  t0="$(date +%s)"
  log "$name: buildah bud -f ${file#"$REPO"/} (layers cached in the image store)"
  buildah bud --pull=never --network host --layers --isolation chroot \
    -v "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro" -v "$npmrc:/root/.npmrc:ro" \
    "$@" -t "$name" -f "$file" "$ctx" 2>&1 | sed -u "s/^/[image] /" >&2
  [[ ${PIPESTATUS[0]} == 0 ]] || die "$name: buildah bud failed"
  log "$name: built in $(elapsed "$t0")"
}

save_image() { # name archive
  local name="$1" archive="$2" size
  rm -f "$archive"
  buildah push --quiet "$name" "oci-archive:$archive:$name" >/dev/null
  size="$(buildah images --format '{{.Size}}' "$name" | head -1)"
  log "$name: image size $size (archive $(du -h "$archive" | cut -f1)) -> ${archive#"$REPO"/}"
}

OPERATOR_IMAGE="docker.io/library/secrets-rotation-operator:$VERSION"
OPERATOR_ARCHIVE="$OUT/secrets-rotation-operator-$VERSION.oci.tar"
OPERATOR_SBOM="$OUT/secrets-rotation-operator-$VERSION.cdx.json"
APP_IMAGE="docker.io/library/fingerprint-app:$VERSION"
APP_ARCHIVE="$OUT/fingerprint-app-$VERSION.oci.tar"

commit_revision() { git -C "$REPO" rev-parse HEAD; }
# The commit's time, not the build's: one commit, the same labels.
commit_time() { TZ=UTC git -C "$REPO" log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ; }

# The operator's OCI labels (Dockerfile): package.json's facts and the commit's. The
# origin remote's URL, credentials stripped, is the source when there is one: the
# project states no URL of its own.
oci_label_args() {
  local pkg="$REPO/package.json" origin
  printf '%s\0' \
    --build-arg "IMAGE_TITLE=$(node -p 'require(process.argv[1]).name' "$pkg")" \
    --build-arg "IMAGE_DESCRIPTION=$(node -p 'require(process.argv[1]).description' "$pkg")" \
    --build-arg "IMAGE_LICENSES=$(node -p 'require(process.argv[1]).license' "$pkg")" \
    --build-arg "IMAGE_VERSION=$VERSION"
  if origin="$(git -C "$REPO" remote get-url origin 2>/dev/null)"; then
    printf '%s\0' --label "org.opencontainers.image.source=$(sed -E 's#://[^/@]*@#://#' <<<"$origin")"
  fi
}

# The commit's revision and time are set on the built image itself (a config change, no
# new files), not in the Dockerfile: buildah's layer cache keys a LABEL step by its text,
# not by the build-arg values in it, so a commit whose image inputs did not change got the
# cached layer labelled with the commit that first built it (image test: revision
# 9604708… on 8710ccc…).
commit_labels() { # name
  local name="$1" ctr
  ctr="$(buildah from --pull=never --quiet "$name")"
  buildah config \
    --label "org.opencontainers.image.revision=$(commit_revision)" \
    --label "org.opencontainers.image.created=$(commit_time)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null || die "$name: committing its labels failed"
}

if [[ -z "$ONLY" || "$ONLY" == operator ]]; then
  git -C "$REPO" rev-parse --verify --quiet HEAD >/dev/null || die "not a git checkout: the image's revision label names its commit"
  mapfile -d '' oci_args < <(oci_label_args)
  build_image "$OPERATOR_IMAGE" "$REPO" "$REPO/Dockerfile" "${oci_args[@]}"
  commit_labels "$OPERATOR_IMAGE"
  save_image "$OPERATOR_IMAGE" "$OPERATOR_ARCHIVE"
  t0="$(date +%s)"
  (cd "$REPO" && npx --no-install cyclonedx-npm --omit dev --output-reproducible --output-format JSON --output-file "$OPERATOR_SBOM" >/dev/null 2>"$OUT/sbom.log") \
    || { cat "$OUT/sbom.log" >&2; die "cyclonedx-npm failed"; }
  log "SBOM: $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).components.length)' "$OPERATOR_SBOM") npm components (CycloneDX) in $(elapsed "$t0") -> ${OPERATOR_SBOM#"$REPO"/}"
fi
if [[ -z "$ONLY" || "$ONLY" == app ]]; then
  build_image "$APP_IMAGE" "$REPO/examples/fingerprint-app" "$REPO/examples/fingerprint-app/Dockerfile"
  save_image "$APP_IMAGE" "$APP_ARCHIVE"
fi
log "done in $(elapsed "$T_ALL")"

if [[ $PRINT_ENV == 1 ]]; then
  printf 'OPERATOR_IMAGE=%s\nOPERATOR_ARCHIVE=%s\nOPERATOR_SBOM=%s\nAPP_IMAGE=%s\nAPP_ARCHIVE=%s\n' \
    "$OPERATOR_IMAGE" "$OPERATOR_ARCHIVE" "$OPERATOR_SBOM" "$APP_IMAGE" "$APP_ARCHIVE"
fi
