#!/usr/bin/env bash
# Builds the local toolchain, one family per row of scripts/toolchain/families.txt
# (Go modules pinned in versions.env; ElasticMQ fetched from Maven Central with mvn),
# and caches it under
#   ${SRO_TOOLCHAIN_CACHE:-~/.cache/secrets-rotation-operator}/<cache>-<version>/
# A second run builds nothing.
#
# Usage:
#   build.sh                    build what is missing, print a summary (stderr)
#   build.sh --print-env        same, then print KEY=VALUE lines (stdout): TOOLCHAIN_CACHE_DIR,
#                               KUBERNETES_VERSION, and each selected family's version
#                               and outputs (families.txt: ETCD_BIN, HELM_PLUGINS, ...)
#                               (eval-able: `set -a; eval "$(build.sh --print-env)"; set +a`)
#   build.sh --check            exit 0 if everything is cached, 1 otherwise; builds nothing
#   build.sh --verify           run each cached binary's check (families.txt); builds nothing
#   build.sh --print-table      families.txt with every ${KEY} resolved; builds nothing
#   build.sh --only k8s,helm    restrict to some families (the first column of families.txt)
#   build.sh --sync [FAMILY..]  regenerate scripts/toolchain/<family>/go.mod and go.sum
#                               from families.txt and versions.env (needs the Go module
#                               proxy; Go families only)
#
# If KUBEBUILDER_ASSETS names a folder holding executable `etcd` and `kube-apiserver`,
# those two are used as they are and not built (the `assets:` hooks).
#
# Progress goes to stderr: which tool, when it started, a line every 30 s with the
# elapsed seconds, and the time it took.
set -euo pipefail
# Table cells are split into words unquoted; a GLOB in them is data, not for the shell.
set -f

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
TABLE="$HERE/families.txt"

# Bump when the way binaries are built changes (flags, layout): invalidates the cache.
RECIPE=1
CACHE_ROOT="${SRO_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-rotation-operator}"

export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -mod=readonly"
GO_P="$(nproc 2>/dev/null || echo 2)"

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- the table
# Values several rows share, derived from versions.env. The control plane's version
# variables (as the Kubernetes release build sets them), and helm's default
# .Capabilities.KubeVersion (as in helm's Makefile): the release we run, not helm's
# v1.20 default.
K8S_MINOR="$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
K8S_STAGING_VERSION="v0.${KUBERNETES_VERSION#v1.}"
K8S_LDFLAGS="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"
HELM_K8S_LDFLAGS="-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR"
EXPANDABLE=" $(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$HERE/versions.env" | tr '\n' ' ') K8S_MINOR K8S_STAGING_VERSION K8S_LDFLAGS HELM_K8S_LDFLAGS "

# Replaces ${KEY} and ${KEY#v} by their values; an unknown or empty KEY is an error.
expand() { # text
  local s="$1" out="" name val
  local re='^([^$]*)\$\{([A-Za-z_][A-Za-z0-9_]*)(#v)?\}(.*)$'
  while [[ "$s" =~ $re ]]; do
    name="${BASH_REMATCH[2]}"
    [[ "$EXPANDABLE" == *" $name "* ]] || die "families.txt: \${$name} is neither in versions.env nor derived by build.sh"
    val="${!name:-}"
    [[ -n "$val" ]] || die "families.txt: \${$name} is empty"
    [[ -z "${BASH_REMATCH[3]}" ]] || val="${val#v}"
    out+="${BASH_REMATCH[1]}$val"
    s="${BASH_REMATCH[4]}"
  done
  printf '%s' "$out$s"
}
trim() { local s="$1"; s="${s#"${s%%[![:space:]]*}"}"; s="${s%"${s##*[![:space:]]}"}"; [[ "$s" == - ]] && s=""; printf '%s' "$s"; }

# The hooks a row may name (families.txt says what each does).
HOOKS="copy-replaces k8s-staging replace assets files helm-plugin maven"
TABLE_COLUMNS=(family needed version cache module builds tags ldflags check outputs hooks)
FAMILIES=()
declare -A T_NEEDED T_VERSION T_CACHE T_MODULE T_BUILDS T_TAGS T_LDFLAGS T_CHECK T_OUTPUTS T_HOOKS
while IFS= read -r line; do
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  IFS='|' read -r -a cols <<<"$line"
  [[ ${#cols[@]} -eq ${#TABLE_COLUMNS[@]} ]] || die "families.txt: ${#cols[@]} columns where ${#TABLE_COLUMNS[@]} are expected (${TABLE_COLUMNS[*]}): $line"
  f="$(trim "${cols[0]}")"
  FAMILIES+=("$f")
  T_NEEDED[$f]="$(trim "${cols[1]}")"
  T_VERSION[$f]="$(trim "${cols[2]}")"
  [[ "$EXPANDABLE" == *" ${T_VERSION[$f]} "* ]] || die "families.txt: $f's version key '${T_VERSION[$f]}' is not in versions.env"
  T_CACHE[$f]="$(trim "${cols[3]}")"
  T_MODULE[$f]="$(trim "${cols[4]}")"
  T_BUILDS[$f]="$(trim "${cols[5]}")"
  T_TAGS[$f]="$(trim "${cols[6]}")"
  T_LDFLAGS[$f]="$(expand "$(trim "${cols[7]}")")"
  T_CHECK[$f]="$(expand "$(trim "${cols[8]}")")"
  T_OUTPUTS[$f]="$(trim "${cols[9]}")"
  T_HOOKS[$f]="$(expand "$(trim "${cols[10]}")")"
  for h in ${T_HOOKS[$f]}; do
    [[ " $HOOKS " == *" ${h%%:*} "* ]] || die "families.txt: $f's hook '${h%%:*}' is none of:$HOOKS"
  done
done <"$TABLE"

version_of() { local key="${T_VERSION[$1]}"; printf '%s' "${!key}"; }
dest_of() { printf '%s/%s-%s' "$CACHE_ROOT" "${T_CACHE[$1]}" "$(version_of "$1")"; }
hooks_of() { # family name -> the value of each of its hooks `name:value`, one a line
  local h
  for h in ${T_HOOKS[$1]}; do
    [[ "$h" == "$2:"* ]] && echo "${h#"$2:"}"
  done
  return 0
}
has_hook() { [[ " ${T_HOOKS[$1]} " == *" $2 "* || " ${T_HOOKS[$1]} " == *" $2:"* ]]; }
is_go() { ! has_hook "$1" maven; }
package_of() { # family pkg
  [[ "$2" == . ]] && printf '%s' "${T_MODULE[$1]}" || printf '%s/%s' "${T_MODULE[$1]}" "$2"
}
GO_FAMILIES=()
for f in "${FAMILIES[@]}"; do is_go "$f" && GO_FAMILIES+=("$f"); done

# ---------------------------------------------------------------- arguments
MODE=build
ONLY=""
SYNC_FAMILIES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --print-env) MODE=print-env ;;
    --check) MODE=check ;;
    --verify) MODE=verify ;;
    --print-table) MODE=print-table ;;
    --only) shift; ONLY="${1:-}" ;;
    --only=*) ONLY="${1#--only=}" ;;
    --sync) MODE=sync; shift; SYNC_FAMILIES=("$@"); break ;;
    -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

selected() { # family
  [[ -z "$ONLY" ]] && return 0
  [[ ",$ONLY," == *",$1,"* ]]
}
if [[ -n "$ONLY" ]]; then
  IFS=',' read -r -a _only <<<"$ONLY"
  for f in "${_only[@]}"; do
    [[ " ${FAMILIES[*]} " == *" $f "* ]] || die "--only: unknown family '$f' (one of: ${FAMILIES[*]})"
  done
fi

if [[ "$MODE" == print-table ]]; then
  for f in "${FAMILIES[@]}"; do
    selected "$f" || continue
    printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$f" "${T_NEEDED[$f]}" "${T_VERSION[$f]}" "${T_CACHE[$f]}" "${T_MODULE[$f]}" \
      "${T_BUILDS[$f]}" "${T_TAGS[$f]}" "${T_LDFLAGS[$f]}" "${T_CHECK[$f]}" "${T_OUTPUTS[$f]}" "${T_HOOKS[$f]}"
  done
  exit 0
fi

needs_go() {
  [[ "$MODE" == sync ]] && return 0
  local f
  for f in "${GO_FAMILIES[@]}"; do selected "$f" && return 0; done
  return 1
}
GO_VERSION=""
if needs_go; then
  command -v go >/dev/null || die "go is not on PATH (Go >= $GO_DIRECTIVE is needed)"
  GO_VERSION="$(go env GOVERSION)"
fi

# ---------------------------------------------------------------- progress
TICKER_PID=""
start_ticker() { # label t0
  local label="$1" t0="$2"
  # `wait` on a background sleep lets the TERM trap run at once when stopped.
  ( sp=""
    trap '[[ -n "$sp" ]] && kill "$sp" 2>/dev/null; exit 0' TERM
    while :; do
      sleep 30 & sp=$!
      wait "$sp"
      printf '[toolchain %s] %s: still running, %ss elapsed\n' "$(date +%H:%M:%S)" "$label" "$(( $(date +%s) - t0 ))" >&2
    done ) &
  TICKER_PID=$!
}
stop_ticker() {
  if [[ -n "$TICKER_PID" ]]; then
    kill "$TICKER_PID" 2>/dev/null || true
    wait "$TICKER_PID" 2>/dev/null || true
    TICKER_PID=""
  fi
}
trap stop_ticker EXIT

with_progress() { # label cmd...   runs cmd, printing a line every 30 s
  local label="$1"; shift
  local t0; t0="$(date +%s)"
  start_ticker "$label" "$t0"
  local rc=0
  "$@" || rc=$?
  stop_ticker
  return "$rc"
}

# ---------------------------------------------------------------- --sync
gomodcache() { go env GOMODCACHE; }

new_module() { # dir modulepath
  local dir="$1" path="$2"
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  (cd "$dir" && GOFLAGS=-mod=mod go mod init "$path" >/dev/null 2>&1 && go mod edit -go="$GO_DIRECTIVE")
}

tidy_module() { # dir
  (cd "$1" && GOFLAGS=-mod=mod with_progress "go mod tidy ($1)" go mod tidy)
}

# A replace in a dependency's go.mod does not apply to a module that requires it: copy
# the upstream module's own (non-local) replaces into ours, as its own build has them.
copy_replaces() { # dir module version
  local dir="$1" mod="$2" ver="$3" gomod
  gomod="$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "$gomod" ]] || die "sync: no go.mod downloaded for $mod@$ver"
  local args=() line
  while IFS= read -r line; do
    [[ -n "$line" ]] && args+=(-replace="$line")
  done < <(sed -n -e '/^replace (/,/^)/{/=>/p}' -e 's/^replace \(.*=>.*\)$/\1/p' "$gomod" \
             | sed -e 's#^[[:space:]]*##' -e 's#//.*##' \
             | awk -F'=>' '{ l=$1; r=$2; gsub(/^ +| +$/,"",l); gsub(/^ +| +$/,"",r); n=split(r,a," "); if (a[1] ~ /^\.|^\//) next;
                     split(l,b," "); lhs=b[1]; if (b[2]!="") lhs=lhs"@"b[2]; print lhs "=" a[1] "@" a[2] }')
  if [[ ${#args[@]} -gt 0 ]]; then
    (cd "$dir" && go mod edit "${args[@]}")
  fi
  log "sync: copied ${#args[@]} replace(s) from $mod@$ver"
}

# The k8s.io staging modules, which k8s.io/kubernetes replaces by its own ./staging
# folders, at v0.<minor>.<patch>: -replace arguments for go mod edit.
k8s_staging_replaces() { # dir family
  local dir="$1" fam="$2" mod="${T_MODULE[$2]}" ver; ver="$(version_of "$2")"
  (cd "$dir" && GOFLAGS=-mod=mod go mod download "$mod@$ver")
  local upstream_mod; upstream_mod="$(gomodcache)/cache/download/$mod/@v/$ver.mod"
  [[ -f "$upstream_mod" ]] || die "sync $fam: $upstream_mod not found after download"
  local staging m
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")"
  [[ -n "$staging" ]] || die "sync $fam: no staging replace lines found in $upstream_mod"
  for m in $staging; do echo "-replace=$m=$m@$K8S_STAGING_VERSION"; done
  log "sync $fam: $(echo "$staging" | wc -l) staging modules replaced by $K8S_STAGING_VERSION"
}

sync_family() {
  local fam="$1" dir="$HERE/$1" mod="${T_MODULE[$1]}" ver spec r hooks
  is_go "$fam" || die "sync: unknown Go family '$fam' (one of: ${GO_FAMILIES[*]})"
  ver="$(version_of "$fam")"
  log "sync $fam: regenerating $dir/go.mod from families.txt and versions.env"
  new_module "$dir" "secrets-rotation-operator/toolchain/$fam"
  local args=(-require="$mod@$ver")
  if has_hook "$fam" k8s-staging; then
    mapfile -t -O ${#args[@]} args < <(k8s_staging_replaces "$dir" "$fam")
  fi
  mapfile -t hooks < <(hooks_of "$fam" replace)
  for r in "${hooks[@]}"; do args+=(-replace="$r"); done
  for spec in ${T_BUILDS[$fam]}; do args+=(-tool="$(package_of "$fam" "${spec#*=}")"); done
  (cd "$dir" && go mod edit "${args[@]}")
  if has_hook "$fam" copy-replaces; then copy_replaces "$dir" "$mod" "$ver"; fi
  tidy_module "$dir"
  log "sync $fam: done"
}

if [[ "$MODE" == sync ]]; then
  [[ ${#SYNC_FAMILIES[@]} -gt 0 ]] || SYNC_FAMILIES=("${GO_FAMILIES[@]}")
  for f in "${SYNC_FAMILIES[@]}"; do
    [[ " ${FAMILIES[*]} " == *" $f "* ]] || die "sync: unknown Go family '$f' (one of: ${GO_FAMILIES[*]})"
    sync_family "$f"
  done
  exit 0
fi

# ---------------------------------------------------------------- pin checks
requires() { # dir module version -> exit status
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$(printf '%s' "$2" | sed 's/[.]/\\./g')[[:space:]]+$3([[:space:]]|$)" "$1/go.mod"
}
check_pins() { # family
  local fam="$1" dir="$HERE/$1" ok=1 r hooks
  mapfile -t hooks < <(hooks_of "$fam" replace)
  [[ -f "$dir/go.mod" && -f "$dir/go.sum" ]] || die "$dir/go.mod or go.sum missing: run 'bash scripts/toolchain/build.sh --sync $fam'"
  requires "$dir" "${T_MODULE[$fam]}" "$(version_of "$fam")" || ok=0
  if has_hook "$fam" k8s-staging && grep -E '=> k8s\.io/' "$dir/go.mod" | grep -vq " $K8S_STAGING_VERSION\$"; then ok=0; fi
  for r in "${hooks[@]}"; do
    grep -q "=> ${r#*=}" <<<"$(sed 's/ \(v[^ ]*\)$/@\1/' "$dir/go.mod")" || ok=0
  done
  [[ $ok == 1 ]] || die "$dir/go.mod does not match families.txt and versions.env: run 'bash scripts/toolchain/build.sh --sync $fam' and commit the result"
}

# ---------------------------------------------------------------- checks
# A build is kept only if it answers its check (families.txt) as the release should.
run_check() { # family bin-path
  local check="${T_CHECK[$1]}" out
  [[ -n "$check" ]] || return 0
  # ARGS are words (word splitting wanted); TEXT is matched as it is.
  # shellcheck disable=SC2086
  out="$(timeout 30 "$2" ${check%% ~ *} 2>&1)" || true
  [[ "$out" == *"${check#* ~ }"* ]] || { log "$1: '$(basename "$2") ${check%% ~ *}' did not print '${check#* ~ }': $(head -c 300 <<<"$out")"; return 1; }
}

if [[ "$MODE" == verify ]]; then
  bad=0
  for f in "${FAMILIES[@]}"; do
    selected "$f" && [[ -n "${T_CHECK[$f]}" ]] || continue
    for spec in ${T_BUILDS[$f]}; do
      bin="$(dest_of "$f")/${spec%%=*}"
      [[ -x "$bin" ]] || { log "not cached: $bin"; bad=1; continue; }
      if run_check "$f" "$bin"; then log "$f: ${spec%%=*} answers '${T_CHECK[$f]}'"; else bad=1; fi
    done
  done
  exit "$bad"
fi

# ---------------------------------------------------------------- build
BUILT=()
CACHED=()
mkdir -p "$CACHE_ROOT"

stamp_for() { # dir ldflags bin   (TAGS, if set, are part of it)
  { echo "recipe=$RECIPE"; echo "go=$GO_VERSION"; echo "ldflags=$2"; echo "bin=$3"
    [[ -z "${TAGS:-}" ]] || echo "tags=$TAGS"
    cat "$1/go.mod" "$1/go.sum"; } | sha256sum | cut -c1-20
}

# build_family FAMILY DEST LDFLAGS BIN=PKG...  (every BIN is put at DEST/BIN)
# TAGS=... build_family ... builds with those Go build tags.
build_family() {
  local fam="$1" dest="$2" ldflags="$3"; shift 3
  local dir="$HERE/$fam" spec bin pkg stamp need=()
  for spec in "$@"; do
    bin="${spec%%=*}"
    stamp="$(stamp_for "$dir" "$ldflags" "$bin")"
    if [[ -x "$dest/$bin" && -f "$dest/.$bin.stamp" && "$(cat "$dest/.$bin.stamp")" == "$stamp" ]]; then
      CACHED+=("$bin")
    else
      need+=("$spec")
    fi
  done
  [[ ${#need[@]} -gt 0 ]] || return 0
  if [[ "$MODE" == check ]]; then
    for spec in "${need[@]}"; do log "not cached: ${spec%%=*} ($dest)"; done
    MISSING=1; return 0
  fi
  check_pins "$fam"
  mkdir -p "$dest"
  local t0; t0="$(date +%s)"
  local pkgs=()
  for spec in "${need[@]}"; do pkgs+=("${spec#*=}"); done
  log "$fam: downloading the modules for ${pkgs[*]} (started)"
  # Loading the packages fetches exactly the modules the build needs.
  (cd "$dir" && with_progress "$fam: module download" go list -deps ${TAGS:+-tags "$TAGS"} "${pkgs[@]}" >/dev/null)
  log "$fam: modules ready after $(( $(date +%s) - t0 ))s"
  local tmp; tmp="$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")"
  for spec in "${need[@]}"; do
    bin="${spec%%=*}"; pkg="${spec#*=}"
    local b0; b0="$(date +%s)"
    log "$bin: building $pkg (started; Go $GO_VERSION, -p $GO_P)"
    if ! (cd "$dir" && with_progress "$bin" go build -p "$GO_P" -trimpath ${TAGS:+-tags "$TAGS"} -ldflags "-s -w $ldflags" -o "$tmp/$bin" "$pkg"); then
      rm -rf "$tmp"
      die "$bin: go build failed"
    fi
    run_check "$fam" "$tmp/$bin" || { rm -rf "$tmp"; die "$bin: the fresh build fails its check (families.txt)"; }
    mv -f "$tmp/$bin" "$dest/$bin"
    stamp_for "$dir" "$ldflags" "$bin" >"$dest/.$bin.stamp"
    local secs=$(( $(date +%s) - b0 ))
    log "$bin: done in ${secs}s -> $dest/$bin"
    BUILT+=("$bin(${secs}s)")
  done
  rm -rf "$tmp"
}

MISSING=0
T_START="$(date +%s)"

# One build at a time per cache (jest globalSetup and a developer may race). What is all
# cached already needs no build: it does not wait while another run builds other tools
# (a demo behind a test run's ESO build). Binaries and stamps are moved into place, so
# a cached tool's files are whole.
if [[ "$MODE" != check ]] && ! bash "${BASH_SOURCE[0]}" --check ${ONLY:+--only "$ONLY"} >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.lock"
  if ! flock -n 9; then
    log "another build.sh holds $CACHE_ROOT/.lock; waiting for it"
    flock 9
  fi
fi

# The binaries the assets: hooks name, all of them executable in KUBEBUILDER_ASSETS, are
# taken from there.
USE_ASSETS=0
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  ASSET_BINS=()
  for f in "${FAMILIES[@]}"; do mapfile -t -O ${#ASSET_BINS[@]} ASSET_BINS < <(hooks_of "$f" assets); done
  USE_ASSETS=1
  for b in "${ASSET_BINS[@]}"; do [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || USE_ASSETS=0; done
  if [[ $USE_ASSETS == 1 ]]; then
    log "using ${ASSET_BINS[*]} from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  else
    log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks executable ${ASSET_BINS[*]}; building them"
  fi
fi
from_assets() { # family bin
  [[ $USE_ASSETS == 1 ]] && hooks_of "$1" assets | grep -qx -- "$2"
}

# ---------------------------------------------------------------- hooks
# Copies data files (CRDs) shipped inside a pinned module into the cache, once per
# stamp of the family's go.mod/go.sum: tests install them from there.
copy_module_files() { # family module subdir name-glob dest
  local fam="$1" mod="$2" sub="$3" glob="$4" dest="$5" dir="$HERE/$1"
  local stamp; stamp="$(stamp_for "$dir" "" "files:$sub/$glob")"
  if [[ -d "$dest" && -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$stamp" ]]; then
    CACHED+=("$fam:$(basename "$dest")"); return 0
  fi
  if [[ "$MODE" == check ]]; then log "not cached: $dest"; MISSING=1; return 0; fi
  check_pins "$fam"
  local src
  src="$(cd "$dir" && with_progress "$fam: module download" go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -d "$src/$sub" ]] || die "$fam: $sub not found in $mod ($src)"
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  local f n=0 files
  set +f; files=("$src/$sub"/$glob); set -f
  for f in "${files[@]}"; do
    [[ -f "$f" ]] || continue
    cp "$f" "$dest.tmp/"; n=$((n + 1))
  done
  [[ $n -gt 0 ]] || die "$fam: no $glob in $mod/$sub"
  chmod -R u+w "$dest.tmp"
  echo "$stamp" >"$dest.tmp/.stamp"
  rm -rf "$dest"; mv "$dest.tmp" "$dest"
  log "$fam: $n file(s) of $mod/$sub -> $dest"
  BUILT+=("$fam:$(basename "$dest")")
}

# files:DIR=SUB/GLOB[!NAME] (the CRDs of ESO and Argo Rollouts).
hook_files() { # family dest spec
  local fam="$1" d="$2" spec="$3" drop=""
  [[ "$spec" == *'!'* ]] && { drop="${spec#*!}"; spec="${spec%%!*}"; }
  local into="${spec%%=*}" from="${spec#*=}"
  copy_module_files "$fam" "${T_MODULE[$fam]}@$(version_of "$fam")" "${from%/*}" "${from##*/}" "$d/$into"
  # e.g. ESO's config/crds/bases also holds a kustomization.yaml that is not a CRD.
  [[ -z "$drop" || "$MODE" == check || ! -f "$d/$into/$drop" ]] || rm -f "$d/$into/$drop"
}

# Install as a helm plugin without `helm plugin install` (no hooks, no download):
# <dest>/plugins/unittest/{plugin.yaml,<bin>}.
hook_helm_plugin() { # family dest
  local fam="$1" d="$2" bin version plugin="$2/plugins/unittest"
  bin="${T_BUILDS[$fam]%%=*}"; version="$(version_of "$fam")"
  [[ "$MODE" != check && -x "$d/$bin" ]] || return 0
  mkdir -p "$plugin"
  sed "s/@VERSION@/${version#v}/" "$HERE/$fam/plugin.yaml" >"$plugin/plugin.yaml.tmp"
  mv -f "$plugin/plugin.yaml.tmp" "$plugin/plugin.yaml"
  if ! cmp -s "$d/$bin" "$plugin/$bin"; then
    cp -f "$d/$bin" "$plugin/$bin.tmp"
    mv -f "$plugin/$bin.tmp" "$plugin/$bin"
  fi
}

# maven: the server jar on Maven Central is not a fat jar, so its runtime dependency
# closure is copied by Maven's dependency plugin from a generated pom, into
# <dest>/lib/ (ElasticMQ runs as `java -cp 'lib/*' org.elasticmq.server.Main`).
# Maven's own downloads stay in the cache too (maven-repository/), so an empty cache
# folder means a cold fetch.
hook_maven() { # family dest
  local fam="$1" dest="$2" version; version="$(version_of "$1")"
  local group="${T_MODULE[$fam]%%:*}" artifact_id="${T_MODULE[$fam]#*:}"
  local artifact="${T_MODULE[$fam]}:$version"
  local stamp; stamp="$(printf 'recipe=%s\nartifact=%s\nplugin=%s\n' "$RECIPE" "$artifact" "$MAVEN_DEPENDENCY_PLUGIN_VERSION" | sha256sum | cut -c1-20)"
  if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$stamp" && -f "$dest/lib/$artifact_id-$version.jar" ]]; then
    CACHED+=("$fam"); return 0
  fi
  if [[ "$MODE" == check ]]; then log "not cached: $fam ($dest)"; MISSING=1; return 0; fi
  command -v mvn >/dev/null || die "$fam: mvn is not on PATH (Maven fetches $fam from Maven Central)"
  command -v java >/dev/null || die "$fam: java is not on PATH ($fam $version needs Java >= 17)"
  local t0; t0="$(date +%s)"
  local tmp; tmp="$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")"
  cat >"$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>secrets-rotation-operator.toolchain</groupId>
  <artifactId>$fam</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>$group</groupId><artifactId>$artifact_id</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
  log "$fam: fetching $artifact and its runtime dependencies with Maven (started)"
  # mvn's own output goes to a file (shown if it fails); the progress lines stay on stderr.
  mvn_logged() { mvn "$@" >"$tmp/mvn.log" 2>&1; }
  if ! with_progress "$fam: mvn" mvn_logged -B -q -f "$tmp/pom.xml" -Dmaven.repo.local="$CACHE_ROOT/maven-repository" \
      "org.apache.maven.plugins:maven-dependency-plugin:$MAVEN_DEPENDENCY_PLUGIN_VERSION:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$tmp/lib"; then
    tail -20 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "$fam: mvn dependency:copy-dependencies failed"
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$tmp/lib" "$dest/lib"
  echo "$stamp" >"$dest/.stamp"
  rm -rf "$tmp"
  local secs=$(( $(date +%s) - t0 ))
  log "$fam: done in ${secs}s -> $dest/lib ($(ls "$dest/lib" | wc -l) jars)"
  BUILT+=("$fam(${secs}s)")
}

# ---------------------------------------------------------------- one family per row
ENV_LINES=()
for f in "${FAMILIES[@]}"; do
  selected "$f" || continue
  d="$(dest_of "$f")"
  if has_hook "$f" maven; then
    hook_maven "$f" "$d"
  else
    specs=()
    for spec in ${T_BUILDS[$f]}; do
      from_assets "$f" "${spec%%=*}" || specs+=("${spec%%=*}=$(package_of "$f" "${spec#*=}")")
    done
    [[ ${#specs[@]} -eq 0 ]] || TAGS="${T_TAGS[$f]}" build_family "$f" "$d" "${T_LDFLAGS[$f]}" "${specs[@]}"
  fi
  mapfile -t hooks < <(hooks_of "$f" files)
  for spec in "${hooks[@]}"; do hook_files "$f" "$d" "$spec"; done
  if has_hook "$f" helm-plugin; then hook_helm_plugin "$f" "$d"; fi
  [[ "${T_VERSION[$f]}" == KUBERNETES_VERSION ]] || ENV_LINES+=("${T_VERSION[$f]}=$(version_of "$f")")
  for out in ${T_OUTPUTS[$f]}; do
    out="${out#*:}"
    if from_assets "$f" "${out#*=}"; then
      ENV_LINES+=("${out%%=*}=$KUBEBUILDER_ASSETS/${out#*=}")
    else
      ENV_LINES+=("${out%%=*}=$d/${out#*=}")
    fi
  done
done

if [[ "$MODE" == check ]]; then
  [[ $MISSING == 0 ]] && log "everything is cached" || true
  exit "$MISSING"
fi

TOTAL=$(( $(date +%s) - T_START ))
if [[ ${#BUILT[@]} -eq 0 ]]; then
  log "nothing built: all cached under $CACHE_ROOT (${TOTAL}s)"
else
  log "built ${BUILT[*]} in ${TOTAL}s total; cached: ${CACHED[*]:-none}"
fi

print_env() {
  printf 'TOOLCHAIN_CACHE_DIR=%s\nKUBERNETES_VERSION=%s\n' "$CACHE_ROOT" "$KUBERNETES_VERSION"
  printf '%s\n' "${ENV_LINES[@]}"
}
if [[ "$MODE" == print-env ]]; then
  print_env
else
  print_env | sed 's/^/  /' >&2
fi
