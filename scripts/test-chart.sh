#!/usr/bin/env bash
# Tests the Helm chart charts/secrets-rotation-operator (npm run test:chart):
#   - Chart.yaml's version, appVersion and image annotation (and the sample app's
#     image tag) equal package.json's version (scripts/version.ts --check);
#   - the chart's copy of the EventBridge patterns equals scripts/event-patterns.json;
#   - Chart-README.md's values table is current (scripts/chart-readme.ts --check);
#   - `helm lint --strict` with the defaults and with each value set in the chart's
#     ci/ folder, and a render of the bare defaults that must fail naming the one
#     required value;
#   - the helm-unittest suites in the chart's tests/;
#   - the alert rules (files/alerts.yaml): `promtool check rules` and the rule unit tests
#     `promtool test rules tests/promtool/alerts.yaml`; the Grafana dashboard's queries
#     (files/dashboard.json) parsed by promtool as recording rules.
# Helm, helm-unittest and promtool come from scripts/toolchain/build.sh (built from
# pinned Go modules on first use, cached afterwards). Every check runs even when an earlier
# one fails; the exit code is non-zero when any failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/charts/secrets-rotation-operator"
cd "$ROOT" || exit 1

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1" >&2; }
# refused WHAT PATTERN COMMAND...: COMMAND must fail, with PATTERN in what it says.
refused() {
  local what="$1" pattern="$2" out
  shift 2
  if out="$("$@" 2>&1)"; then
    fail "$* passed with $what; it must be refused, naming $pattern"
  elif grep -q -- "$pattern" <<<"$out"; then
    pass "refused $what, naming $pattern: $*"
  else
    echo "$out" >&2
    fail "refused $what without naming $pattern: $*"
  fi
}

# ---------------------------------------------------------------- facts kept in two places
if npx tsx scripts/version.ts --check; then
  pass "Chart.yaml's version, appVersion and image tag equal package.json's version"
else
  fail "a copy of the release version differs from package.json's (npx tsx scripts/version.ts --write)"
fi

if cmp -s scripts/event-patterns.json "$CHART/files/event-patterns.json"; then
  pass "charts/secrets-rotation-operator/files/event-patterns.json equals scripts/event-patterns.json"
else
  fail "charts/secrets-rotation-operator/files/event-patterns.json differs from scripts/event-patterns.json (copy it: cp scripts/event-patterns.json charts/secrets-rotation-operator/files/)"
fi

if npx tsx scripts/chart-readme.ts --check; then
  pass "Chart-README.md values table is current"
else
  fail "Chart-README.md values table (npx tsx scripts/chart-readme.ts)"
fi

# ---------------------------------------------------------------- helm and helm-unittest
HELM_BIN=""
HELM_PLUGINS=""
PROMTOOL_BIN=""
if toolchain_env="$(bash scripts/toolchain/build.sh --print-env --only helm,helm-unittest,promtool)"; then
  while IFS='=' read -r key value; do
    case "$key" in
      HELM_BIN) HELM_BIN="$value" ;;
      HELM_PLUGINS) HELM_PLUGINS="$value" ;;
      PROMTOOL_BIN) PROMTOOL_BIN="$value" ;;
    esac
  done <<<"$toolchain_env"
fi
if [[ ! -x "$HELM_BIN" || ! -d "$HELM_PLUGINS" || ! -x "$PROMTOOL_BIN" ]]; then
  fail "scripts/toolchain/build.sh did not provide HELM_BIN, HELM_PLUGINS and PROMTOOL_BIN"
  echo "test-chart: $passed passed, $failed failed"
  exit 1
fi
export HELM_PLUGINS
# Keep helm away from the user's repositories and registry logins.
HELM_HOME_TMP="$(mktemp -d)"
trap 'rm -rf "$HELM_HOME_TMP"' EXIT
export HELM_CACHE_HOME="$HELM_HOME_TMP/cache" HELM_CONFIG_HOME="$HELM_HOME_TMP/config" HELM_DATA_HOME="$HELM_HOME_TMP/data"

# helm lint reports a template's `fail` without failing, so the bare defaults lint
# clean; installing them must still be refused with a message naming the queue URL.
if "$HELM_BIN" lint --strict "$CHART"; then
  pass "helm lint --strict with the default values"
else
  fail "helm lint --strict with the default values"
fi
refused "the bare defaults" "sqs.queueUrl is required" "$HELM_BIN" template "$CHART"

for values in "$CHART"/ci/*-values.yaml; do
  name="ci/$(basename "$values")"
  if "$HELM_BIN" lint --strict "$CHART" --values "$values"; then
    pass "helm lint --strict with $name"
  else
    fail "helm lint --strict with $name"
  fi
done

# The package carries its README (generated from Chart-README.md; chart-readme.ts --check
# above keeps it current): `helm show readme` is what Artifact Hub and users see.
# (helm prints a newline after the file: compare without trailing newlines.)
if [[ -s "$CHART/README.md" && "$("$HELM_BIN" show readme "$CHART")" == "$(cat "$CHART/README.md")" ]]; then
  pass "helm show readme shows the chart's README.md"
else
  fail "helm show readme does not show charts/secrets-rotation-operator/README.md"
fi

# kubeVersion: helm itself refuses a cluster older than the default admission policy needs.
queue=https://sqs.eu-west-1.amazonaws.com/123456789012/q
refused "Kubernetes 1.29" "kubeVersion" "$HELM_BIN" template sro "$CHART" --set sqs.queueUrl=$queue --kube-version 1.29.0
if "$HELM_BIN" template sro "$CHART" --set sqs.queueUrl=$queue --kube-version 1.30.0 >/dev/null; then
  pass "helm renders the defaults for Kubernetes 1.30"
else
  fail "helm template for Kubernetes 1.30 with the defaults"
fi

if "$HELM_BIN" unittest --strict "$CHART"; then
  pass "helm unittest"
else
  fail "helm unittest"
fi

# ---------------------------------------------------------------- promtool
if "$PROMTOOL_BIN" check rules "$CHART/files/alerts.yaml"; then
  pass "promtool check rules files/alerts.yaml"
else
  fail "promtool check rules files/alerts.yaml"
fi
if "$PROMTOOL_BIN" test rules "$CHART/tests/promtool/alerts.yaml"; then
  pass "promtool test rules tests/promtool/alerts.yaml"
else
  fail "promtool test rules tests/promtool/alerts.yaml"
fi
# The same tests against the rules as the chart renders them (default values): the
# template must hand Prometheus files/alerts.yaml's rules unchanged. Release sro in
# namespace secrets-rotation is the release the tests' series come from, so the
# absent-operator rule, which the template points at its own release (and includes
# with the chart's ServiceMonitor only), is unchanged too.
rendered_dir="$HELM_HOME_TMP/rendered-rules"
mkdir -p "$rendered_dir"
if "$HELM_BIN" template sro "$CHART" --namespace secrets-rotation --set sqs.queueUrl=https://sqs.eu-west-1.amazonaws.com/123456789012/q \
    --set serviceMonitor.enabled=true \
    --set prometheusRule.enabled=true --show-only templates/prometheusrule.yaml >"$rendered_dir/prometheusrule.yaml" &&
  node -e '
    const fs = require("node:fs"), yaml = require("js-yaml"), [dir, tests] = process.argv.slice(1);
    fs.writeFileSync(`${dir}/rules.json`, JSON.stringify(yaml.load(fs.readFileSync(`${dir}/prometheusrule.yaml`, "utf8")).spec));
    const t = yaml.load(fs.readFileSync(tests, "utf8"));
    fs.writeFileSync(`${dir}/tests.json`, JSON.stringify({ ...t, rule_files: [`${dir}/rules.json`] }));
  ' "$rendered_dir" "$CHART/tests/promtool/alerts.yaml" &&
  "$PROMTOOL_BIN" test rules "$rendered_dir/tests.json"; then
  pass "promtool test rules against the rendered PrometheusRule"
else
  fail "promtool test rules against the rendered PrometheusRule"
fi
dashboard_rules="$HELM_HOME_TMP/dashboard-rules.json"
if npx tsx scripts/dashboard-rules.ts >"$dashboard_rules" && "$PROMTOOL_BIN" check rules "$dashboard_rules"; then
  pass "promtool parses every query of files/dashboard.json"
else
  fail "promtool parses every query of files/dashboard.json (npx tsx scripts/dashboard-rules.ts)"
fi

echo "test-chart: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
