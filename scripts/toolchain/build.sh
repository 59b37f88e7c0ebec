#!/usr/bin/env bash
# Builds the local toolchain (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kwok, helm, helm-unittest, the External Secrets Operator,
# promtool, the distribution registry, Argo Rollouts) from the Go modules pinned in
# scripts/toolchain/versions.env, fetches ElasticMQ (a fast SQS server: Java, from
# Maven Central with mvn), and caches them under
#   ${SRO_TOOLCHAIN_CACHE:-~/.cache/secrets-rotation-operator}/<tool>-<version>/
# A second run builds nothing.
#
# Usage:
#   build.sh                    build what is missing, print a summary (stderr)
#   build.sh --print-env        same, then print KEY=VALUE lines (stdout) naming the
#                               binaries: ETCD_BIN KUBE_APISERVER_BIN
#                               KUBE_CONTROLLER_MANAGER_BIN KUBE_SCHEDULER_BIN KUBELET_BIN KWOK_BIN
#                               HELM_BIN HELM_PLUGINS HELM_UNITTEST_BIN
#                               ESO_BIN ESO_CRDS_DIR PROMTOOL_BIN REGISTRY_BIN
#                               ARGO_ROLLOUTS_CONTROLLER_BIN ARGO_ROLLOUTS_CRDS_DIR
#                               ELASTICMQ_CLASSPATH ...
#                               (eval-able: `set -a; eval "$(build.sh --print-env)"; set +a`)
#   build.sh --check            exit 0 if everything is cached, 1 otherwise; builds nothing
#   build.sh --only k8s,helm    restrict to some families: k8s kubelet etcd kwok helm helm-unittest
#                               eso promtool registry argo-rollouts elasticmq
#   build.sh --sync [FAMILY..]  regenerate scripts/toolchain/<family>/go.mod and go.sum
#                               from versions.env (needs the Go module proxy; Go families only)
#
# If KUBEBUILDER_ASSETS names a folder holding executable `etcd` and `kube-apiserver`,
# those two are used as they are and not built.
#
# Progress goes to stderr: which tool, when it started, a line every 30 s with the
# elapsed seconds, and the time it took.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

# Bump when the way binaries are built changes (flags, layout): invalidates the cache.
RECIPE=1
GO_FAMILIES=(etcd k8s kubelet kwok helm helm-unittest eso promtool registry argo-rollouts)
FAMILIES=("${GO_FAMILIES[@]}" elasticmq)
CACHE_ROOT="${SRO_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-rotation-operator}"

export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -mod=readonly"
GO_P="$(nproc 2>/dev/null || echo 2)"

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- arguments
MODE=build
ONLY=""
SYNC_FAMILIES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --print-env) MODE=print-env ;;
    --check) MODE=check ;;
    --only) shift; ONLY="${1:-}" ;;
    --only=*) ONLY="${1#--only=}" ;;
    --sync) MODE=sync; shift; SYNC_FAMILIES=("$@"); break ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
K8S_MINOR="$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
K8S_STAGING_VERSION="v0.${KUBERNETES_VERSION#v1.}"

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

sync_family() {
  local fam="$1" dir="$HERE/$1"
  log "sync $fam: regenerating $dir/go.mod from versions.env"
  case "$fam" in
    etcd)
      new_module "$dir" secrets-rotation-operator/toolchain/etcd
      (cd "$dir" && go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION" -tool=go.etcd.io/etcd/server/v3) ;;
    k8s|kubelet)
      # The kubelet has a module of its own (same release, same replaces): it needs a
      # few more requires, and the control plane's binaries stay cached when they change.
      new_module "$dir" "secrets-rotation-operator/toolchain/$fam"
      (cd "$dir" && GOFLAGS=-mod=mod go mod download "k8s.io/kubernetes@$KUBERNETES_VERSION")
      local upstream_mod; upstream_mod="$(gomodcache)/cache/download/k8s.io/kubernetes/@v/$KUBERNETES_VERSION.mod"
      [[ -f "$upstream_mod" ]] || die "sync $fam: $upstream_mod not found after download"
      local staging
      staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")"
      [[ -n "$staging" ]] || die "sync $fam: no staging replace lines found in $upstream_mod"
      local args=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION")
      local m
      for m in $staging; do args+=(-replace="$m=$m@$K8S_STAGING_VERSION"); done
      if [[ "$fam" == k8s ]]; then
        args+=(-tool=k8s.io/kubernetes/cmd/kube-apiserver -tool=k8s.io/kubernetes/cmd/kube-controller-manager -tool=k8s.io/kubernetes/cmd/kube-scheduler)
      else
        args+=(-tool=k8s.io/kubernetes/cmd/kubelet)
      fi
      (cd "$dir" && go mod edit "${args[@]}")
      log "sync $fam: $(echo "$staging" | wc -l) staging modules replaced by $K8S_STAGING_VERSION" ;;
    kwok)
      new_module "$dir" secrets-rotation-operator/toolchain/kwok
      (cd "$dir" && go mod edit -require="sigs.k8s.io/kwok@$KWOK_VERSION" -tool=sigs.k8s.io/kwok/cmd/kwok) ;;
    helm)
      new_module "$dir" secrets-rotation-operator/toolchain/helm
      (cd "$dir" && go mod edit -require="helm.sh/helm/v3@$HELM_VERSION" -tool=helm.sh/helm/v3/cmd/helm) ;;
    helm-unittest)
      new_module "$dir" secrets-rotation-operator/toolchain/helm-unittest
      (cd "$dir" && go mod edit -require="github.com/helm-unittest/helm-unittest@$HELM_UNITTEST_VERSION" \
        -replace="github.com/vmware-labs/yaml-jsonpath=github.com/helm-unittest/yaml-jsonpath@$HELM_UNITTEST_YAML_JSONPATH_VERSION" \
        -tool=github.com/helm-unittest/helm-unittest/cmd/helm-unittest) ;;
    eso)
      new_module "$dir" secrets-rotation-operator/toolchain/eso
      (cd "$dir" && go mod edit -require="github.com/external-secrets/external-secrets@$ESO_VERSION" -tool=github.com/external-secrets/external-secrets)
      copy_replaces "$dir" github.com/external-secrets/external-secrets "$ESO_VERSION" ;;
    promtool)
      new_module "$dir" secrets-rotation-operator/toolchain/promtool
      (cd "$dir" && go mod edit -require="github.com/prometheus/prometheus@$PROMETHEUS_VERSION" -tool=github.com/prometheus/prometheus/cmd/promtool)
      copy_replaces "$dir" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" ;;
    registry)
      new_module "$dir" secrets-rotation-operator/toolchain/registry
      (cd "$dir" && go mod edit -require="github.com/distribution/distribution/v3@$DISTRIBUTION_VERSION" -tool=github.com/distribution/distribution/v3/cmd/registry)
      copy_replaces "$dir" github.com/distribution/distribution/v3 "$DISTRIBUTION_VERSION" ;;
    argo-rollouts)
      new_module "$dir" secrets-rotation-operator/toolchain/argo-rollouts
      (cd "$dir" && go mod edit -require="github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION" -tool=github.com/argoproj/argo-rollouts/cmd/rollouts-controller)
      copy_replaces "$dir" github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION" ;;
    *) die "sync: unknown Go family '$fam' (one of: ${GO_FAMILIES[*]})" ;;
  esac
  tidy_module "$dir"
  log "sync $fam: done"
}

if [[ "$MODE" == sync ]]; then
  [[ ${#SYNC_FAMILIES[@]} -gt 0 ]] || SYNC_FAMILIES=("${GO_FAMILIES[@]}")
  for f in "${SYNC_FAMILIES[@]}"; do sync_family "$f"; done
  exit 0
fi

# ---------------------------------------------------------------- pin checks
requires() { # dir module version -> exit status
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$(printf '%s' "$2" | sed 's/[.]/\\./g')[[:space:]]+$3([[:space:]]|$)" "$1/go.mod"
}
check_pins() { # family
  local fam="$1" dir="$HERE/$1" ok=1
  [[ -f "$dir/go.mod" && -f "$dir/go.sum" ]] || die "$dir/go.mod or go.sum missing: run 'bash scripts/toolchain/build.sh --sync $fam'"
  case "$fam" in
    etcd) requires "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" || ok=0 ;;
    k8s|kubelet)
      requires "$dir" k8s.io/kubernetes "$KUBERNETES_VERSION" || ok=0
      if grep -E '=> k8s\.io/' "$dir/go.mod" | grep -vq " $K8S_STAGING_VERSION\$"; then ok=0; fi ;;
    kwok) requires "$dir" sigs.k8s.io/kwok "$KWOK_VERSION" || ok=0 ;;
    helm) requires "$dir" helm.sh/helm/v3 "$HELM_VERSION" || ok=0 ;;
    helm-unittest)
      requires "$dir" github.com/helm-unittest/helm-unittest "$HELM_UNITTEST_VERSION" || ok=0
      grep -q "=> github.com/helm-unittest/yaml-jsonpath $HELM_UNITTEST_YAML_JSONPATH_VERSION" "$dir/go.mod" || ok=0 ;;
    eso) requires "$dir" github.com/external-secrets/external-secrets "$ESO_VERSION" || ok=0 ;;
    promtool) requires "$dir" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" || ok=0 ;;
    registry) requires "$dir" github.com/distribution/distribution/v3 "$DISTRIBUTION_VERSION" || ok=0 ;;
    argo-rollouts) requires "$dir" github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION" || ok=0 ;;
  esac
  [[ $ok == 1 ]] || die "$dir/go.mod does not match versions.env: run 'bash scripts/toolchain/build.sh --sync $fam' and commit the result"
}

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
    mv -f "$tmp/$bin" "$dest/$bin"
    stamp_for "$dir" "$ldflags" "$bin" >"$dest/.$bin.stamp"
    local secs=$(( $(date +%s) - b0 ))
    log "$bin: done in ${secs}s -> $dest/$bin"
    BUILT+=("$bin(${secs}s)")
  done
  rm -rf "$tmp"
}

ETCD_BIN="" KUBE_APISERVER_BIN="" KUBE_CONTROLLER_MANAGER_BIN="" KUBE_SCHEDULER_BIN="" KUBELET_BIN=""
KWOK_BIN="" HELM_BIN="" HELM_PLUGINS_DIR="" HELM_UNITTEST_BIN="" ELASTICMQ_CLASSPATH=""
ESO_BIN="" ESO_CRDS_DIR="" PROMTOOL_BIN="" REGISTRY_BIN="" ARGO_ROLLOUTS_CONTROLLER_BIN="" ARGO_ROLLOUTS_CRDS_DIR=""
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

USE_ASSETS=0
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if [[ -x "$KUBEBUILDER_ASSETS/etcd" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]]; then
    USE_ASSETS=1
    ETCD_BIN="$KUBEBUILDER_ASSETS/etcd"
    KUBE_APISERVER_BIN="$KUBEBUILDER_ASSETS/kube-apiserver"
    log "using etcd and kube-apiserver from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  else
    log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks executable etcd and kube-apiserver; building them"
  fi
fi

if selected etcd && [[ $USE_ASSETS == 0 ]]; then
  d="$CACHE_ROOT/etcd-$ETCD_VERSION"
  build_family etcd "$d" "" "etcd=go.etcd.io/etcd/server/v3"
  ETCD_BIN="$d/etcd"
fi

k8s_ld="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"
if selected k8s; then
  d="$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION"
  specs=()
  [[ $USE_ASSETS == 1 ]] || specs+=("kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver")
  specs+=("kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager" "kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler")
  build_family k8s "$d" "$k8s_ld" "${specs[@]}"
  [[ $USE_ASSETS == 1 ]] || KUBE_APISERVER_BIN="$d/kube-apiserver"
  KUBE_CONTROLLER_MANAGER_BIN="$d/kube-controller-manager"
  KUBE_SCHEDULER_BIN="$d/kube-scheduler"
fi

# The real node's kubelet (same release as the control plane).
if selected kubelet; then
  d="$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION"
  build_family kubelet "$d" "$k8s_ld" "kubelet=k8s.io/kubernetes/cmd/kubelet"
  KUBELET_BIN="$d/kubelet"
fi

if selected kwok; then
  d="$CACHE_ROOT/kwok-$KWOK_VERSION"
  build_family kwok "$d" "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" "kwok=sigs.k8s.io/kwok/cmd/kwok"
  KWOK_BIN="$d/kwok"
fi

# Helm's default .Capabilities.KubeVersion comes from these variables (as in helm's
# Makefile); point it at the Kubernetes release we run instead of helm's v1.20 default.
helm_k8s_ld="-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR"

if selected helm; then
  d="$CACHE_ROOT/helm-$HELM_VERSION"
  build_family helm "$d" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean $helm_k8s_ld" "helm=helm.sh/helm/v3/cmd/helm"
  HELM_BIN="$d/helm"
fi

if selected helm-unittest; then
  d="$CACHE_ROOT/helm-unittest-$HELM_UNITTEST_VERSION"
  build_family helm-unittest "$d" "$helm_k8s_ld" "untt=github.com/helm-unittest/helm-unittest/cmd/helm-unittest"
  HELM_UNITTEST_BIN="$d/untt"
  # Install as a helm plugin without `helm plugin install` (no hooks, no download):
  # $HELM_PLUGINS/unittest/{plugin.yaml,untt}.
  HELM_PLUGINS_DIR="$d/plugins"
  if [[ "$MODE" != check && -x "$HELM_UNITTEST_BIN" ]]; then
    mkdir -p "$HELM_PLUGINS_DIR/unittest"
    sed "s/@VERSION@/${HELM_UNITTEST_VERSION#v}/" "$HERE/helm-unittest/plugin.yaml" >"$HELM_PLUGINS_DIR/unittest/plugin.yaml.tmp"
    mv -f "$HELM_PLUGINS_DIR/unittest/plugin.yaml.tmp" "$HELM_PLUGINS_DIR/unittest/plugin.yaml"
    if ! cmp -s "$HELM_UNITTEST_BIN" "$HELM_PLUGINS_DIR/unittest/untt"; then
      cp -f "$HELM_UNITTEST_BIN" "$HELM_PLUGINS_DIR/unittest/untt.tmp"
      mv -f "$HELM_PLUGINS_DIR/unittest/untt.tmp" "$HELM_PLUGINS_DIR/unittest/untt"
    fi
  fi
fi

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
  local f n=0
  for f in "$src/$sub"/$glob; do
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

# External Secrets Operator: one binary (its main.go is the module root) and its CRDs.
if selected eso; then
  d="$CACHE_ROOT/eso-$ESO_VERSION"
  build_family eso "$d" "" "eso=github.com/external-secrets/external-secrets"
  copy_module_files eso "github.com/external-secrets/external-secrets@$ESO_VERSION" config/crds/bases '*.yaml' "$d/crds"
  # config/crds/bases also holds a kustomization.yaml that is not a CRD.
  [[ "$MODE" == check || ! -f "$d/crds/kustomization.yaml" ]] || rm -f "$d/crds/kustomization.yaml"
  ESO_BIN="$d/eso"; ESO_CRDS_DIR="$d/crds"
fi

if selected promtool; then
  d="$CACHE_ROOT/prometheus-$PROMETHEUS_VERSION"
  # remove_all_sd leaves out every service-discovery plugin (cloud SDKs, client-go):
  # rule tests need none, and the build is a fraction of the full one.
  TAGS=remove_all_sd build_family promtool "$d" "" "promtool=github.com/prometheus/prometheus/cmd/promtool"
  PROMTOOL_BIN="$d/promtool"
fi

if selected registry; then
  d="$CACHE_ROOT/distribution-$DISTRIBUTION_VERSION"
  build_family registry "$d" "-X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION" "registry=github.com/distribution/distribution/v3/cmd/registry"
  REGISTRY_BIN="$d/registry"
fi

if selected argo-rollouts; then
  d="$CACHE_ROOT/argo-rollouts-$ARGO_ROLLOUTS_VERSION"
  build_family argo-rollouts "$d" "" "rollouts-controller=github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
  copy_module_files argo-rollouts "github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION" manifests/crds '*-crd.yaml' "$d/crds"
  ARGO_ROLLOUTS_CONTROLLER_BIN="$d/rollouts-controller"; ARGO_ROLLOUTS_CRDS_DIR="$d/crds"
fi

# ElasticMQ: the server jar on Maven Central is not a fat jar, so its runtime
# dependency closure is copied by Maven's dependency plugin from a generated pom, into
# elasticmq-<version>/lib/, run as `java -cp 'lib/*' org.elasticmq.server.Main`.
# Maven's own downloads stay in the cache too (maven-repository/), so an empty cache
# folder means a cold fetch.
fetch_elasticmq() { # dest
  local dest="$1" artifact="org.elasticmq:elasticmq-server_2.13:$ELASTICMQ_VERSION"
  local stamp; stamp="$(printf 'recipe=%s\nartifact=%s\nplugin=%s\n' "$RECIPE" "$artifact" "$MAVEN_DEPENDENCY_PLUGIN_VERSION" | sha256sum | cut -c1-20)"
  if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$stamp" && -f "$dest/lib/elasticmq-server_2.13-$ELASTICMQ_VERSION.jar" ]]; then
    CACHED+=(elasticmq); return 0
  fi
  if [[ "$MODE" == check ]]; then log "not cached: elasticmq ($dest)"; MISSING=1; return 0; fi
  command -v mvn >/dev/null || die "elasticmq: mvn is not on PATH (Maven fetches ElasticMQ from Maven Central)"
  command -v java >/dev/null || die "elasticmq: java is not on PATH (ElasticMQ $ELASTICMQ_VERSION needs Java >= 17)"
  local t0; t0="$(date +%s)"
  local tmp; tmp="$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")"
  cat >"$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>secrets-rotation-operator.toolchain</groupId>
  <artifactId>elasticmq</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.elasticmq</groupId><artifactId>elasticmq-server_2.13</artifactId><version>$ELASTICMQ_VERSION</version></dependency>
  </dependencies>
</project>
POM
  log "elasticmq: fetching $artifact and its runtime dependencies with Maven (started)"
  # mvn's own output goes to a file (shown if it fails); the progress lines stay on stderr.
  mvn_logged() { mvn "$@" >"$tmp/mvn.log" 2>&1; }
  if ! with_progress "elasticmq: mvn" mvn_logged -B -q -f "$tmp/pom.xml" -Dmaven.repo.local="$CACHE_ROOT/maven-repository" \
      "org.apache.maven.plugins:maven-dependency-plugin:$MAVEN_DEPENDENCY_PLUGIN_VERSION:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$tmp/lib"; then
    tail -20 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "elasticmq: mvn dependency:copy-dependencies failed"
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$tmp/lib" "$dest/lib"
  echo "$stamp" >"$dest/.stamp"
  rm -rf "$tmp"
  local secs=$(( $(date +%s) - t0 ))
  log "elasticmq: done in ${secs}s -> $dest/lib ($(ls "$dest/lib" | wc -l) jars)"
  BUILT+=("elasticmq(${secs}s)")
}

if selected elasticmq; then
  d="$CACHE_ROOT/elasticmq-$ELASTICMQ_VERSION"
  fetch_elasticmq "$d"
  ELASTICMQ_CLASSPATH="$d/lib/*"
fi

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

emit() { [[ -n "$2" ]] && printf '%s=%s\n' "$1" "$2" || true; }
print_env() {
  emit TOOLCHAIN_CACHE_DIR "$CACHE_ROOT"
  emit KUBERNETES_VERSION "$KUBERNETES_VERSION"
  emit ETCD_BIN "$ETCD_BIN"
  emit KUBE_APISERVER_BIN "$KUBE_APISERVER_BIN"
  emit KUBE_CONTROLLER_MANAGER_BIN "$KUBE_CONTROLLER_MANAGER_BIN"
  emit KUBE_SCHEDULER_BIN "$KUBE_SCHEDULER_BIN"
  emit KUBELET_BIN "$KUBELET_BIN"
  emit KWOK_BIN "$KWOK_BIN"
  emit HELM_BIN "$HELM_BIN"
  emit HELM_PLUGINS "$HELM_PLUGINS_DIR"
  emit HELM_UNITTEST_BIN "$HELM_UNITTEST_BIN"
  emit ESO_VERSION "$ESO_VERSION"
  emit ESO_BIN "$ESO_BIN"
  emit ESO_CRDS_DIR "$ESO_CRDS_DIR"
  emit PROMTOOL_BIN "$PROMTOOL_BIN"
  emit REGISTRY_BIN "$REGISTRY_BIN"
  emit ARGO_ROLLOUTS_VERSION "$ARGO_ROLLOUTS_VERSION"
  emit ARGO_ROLLOUTS_CONTROLLER_BIN "$ARGO_ROLLOUTS_CONTROLLER_BIN"
  emit ARGO_ROLLOUTS_CRDS_DIR "$ARGO_ROLLOUTS_CRDS_DIR"
  emit ELASTICMQ_VERSION "$ELASTICMQ_VERSION"
  emit ELASTICMQ_CLASSPATH "$ELASTICMQ_CLASSPATH"
}
if [[ "$MODE" == print-env ]]; then
  print_env
else
  print_env | sed 's/^/  /' >&2
fi
