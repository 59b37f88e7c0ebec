/**
 * The chart's alert rules and dashboard, held to the operator's metrics, the runbook
 * and the promtool tests. (promtool itself runs the rules in scripts/test-chart.sh; the
 * e2e monitoring test holds them to a running operator's /metrics.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { createMetrics } from '../../../src/core/metrics';
import { alertRules, dashboard, expressions } from '../../../../scripts/monitoring';
import { CHART_DIR } from '../../../../scripts/stack/paths';
import { declaredLabels, missingFrom } from '../../support/monitoring';
import { PromqlError, readsOf } from '../../support/promql';

const RUNBOOK = path.join(CHART_DIR, '..', '..', 'docs', 'runbook.md');
const PROMTOOL_TESTS = path.join(CHART_DIR, 'tests', 'promtool', 'alerts.yaml');
const M = 'secrets_rotation_operator_';

describe('the PromQL reader', () => {
  it('finds the metrics and the labels an expression matches on and groups by', () => {
    expect(readsOf(`sum by (result) (rate(${M}restarts_total{namespace=~"$namespace", result="failed"}[$__rate_interval])) and on () ${M}leader == 1`)).toEqual({
      selectors: [
        { metric: `${M}restarts_total`, matchers: ['namespace', 'result'] },
        { metric: `${M}leader`, matchers: [] },
      ],
      groupings: [{ labels: ['result'], metrics: [`${M}restarts_total`] }],
    });
  });

  it('refuses an expression that is not PromQL, and a selector without a metric name', () => {
    expect(() => readsOf('sum(rate(x[5m])')).toThrow(PromqlError);
    expect(() => readsOf('{job="a"}')).toThrow(/without a metric name/);
  });
});

describe('what the rules and the dashboard read', () => {
  const metrics = createMetrics();
  let exposition: string;
  beforeAll(async () => {
    exposition = await metrics.registry.metrics();
  });

  it('is all exported by the operator (metrics.ts), labels included', () => {
    expect(expressions().length).toBeGreaterThan(30);
    expect(missingFrom(exposition, declaredLabels(metrics.registry))).toEqual([]);
  });

  it('would be caught if it were not: a misspelt metric, a label it lacks, a grouping label of none', () => {
    const renamed = exposition.replaceAll(`${M}rotations_total`, `${M}rotation_total`).replaceAll(`${M}status_backlog`, `${M}backlog`);
    const labels = declaredLabels(metrics.registry);
    labels.set(`${M}messages_malformed_total`, ['kode']);
    expect(missingFrom(renamed, labels)).toEqual(
      expect.arrayContaining([
        `alert SecretsRotationFailing: ${M}rotations_total is not exported`,
        `panel "Status backlog" A: ${M}status_backlog is not exported`,
        `alert SecretsRotationMessagesDeadLettered: groups by code, a label of none of ${M}messages_malformed_total`,
      ]),
    );
    labels.set(`${M}rotations_total`, ['outcome']);
    expect(missingFrom(exposition, labels)).toContain(`alert SecretsRotationFailing: ${M}rotations_total has no label result`);
  });
});

describe('the alert rules (files/alerts.yaml)', () => {
  const rules = alertRules();
  const runbook = fs.readFileSync(RUNBOOK, 'utf8');

  it("are the alerts issue 16 asks for, discovery's, issue 25's halted rollout and issue 23's absent operator, each with a severity, a summary and a description", () => {
    expect(rules.map((r) => r.alert)).toEqual([
      'SecretsRotationMessagesFailing',
      'SecretsRotationMessagesDeadLettered',
      'SecretsRotationDriftDetected',
      'SecretsRotationNoLeader',
      'SecretsRotationConsumerNotReceiving',
      'SecretsRotationStatusBacklogNotDraining',
      'SecretsRotationFailing',
      'SecretsRotationExternalSecretNotSyncing',
      'SecretsRotationRolloutHalted',
      'SecretsRotationOperatorAbsent',
    ]);
    for (const r of rules) {
      expect({ alert: r.alert, severity: r.labels?.severity }).toEqual({ alert: r.alert, severity: expect.stringMatching(/^(warning|critical)$/) });
      expect(r.annotations).toEqual(expect.objectContaining({ summary: expect.any(String), description: expect.any(String) }));
    }
  });

  it('link each alert to a section of its own name in docs/runbook.md', () => {
    const anchors = [...runbook.matchAll(/^## (\S+)$/gm)].map((m) => m[1].toLowerCase());
    for (const r of rules) {
      expect({ alert: r.alert, runbook: r.annotations?.runbook_url }).toEqual({ alert: r.alert, runbook: `docs/runbook.md#${r.alert.toLowerCase()}` });
      expect(anchors).toContain(r.alert.toLowerCase());
    }
  });

  it('are each tested by promtool both firing and staying quiet', () => {
    const file = load(fs.readFileSync(PROMTOOL_TESTS, 'utf8')) as { rule_files: string[]; tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    expect(file.rule_files.map((f) => path.resolve(path.dirname(PROMTOOL_TESTS), f))).toEqual([path.join(CHART_DIR, 'files', 'alerts.yaml')]);
    const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of rules) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect({ alert: r.alert, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0), quiet: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ alert: r.alert, fires: true, quiet: true });
    }
  });

  it('are the names values.schema.json lets prometheusRule.disabledAlerts take', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8'));
    expect(schema.properties.prometheusRule.properties.disabledAlerts.items.enum).toEqual(rules.map((r) => r.alert));
  });
});

describe('the Grafana dashboard (files/dashboard.json)', () => {
  const d = dashboard();
  const read = new Set(d.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => readsOf(t.expr).selectors.map((s) => s.metric))));

  it('shows rotations and restarts, latency, messages by outcome, drift, the leader and the status backlog', () => {
    for (const what of ['rotations_total', 'restarts_total', 'queue_to_restart_seconds_bucket', 'messages_received_total', 'messages_failed_total', 'messages_malformed_total', 'messages_ignored_total', 'drift_detected_total', 'leader', 'status_backlog']) {
      expect(read).toContain(`${M}${what}`);
    }
    const latency = d.panels.find((p) => p.title === 'Queue to restart latency')!;
    expect(latency.targets!.map((t) => /histogram_quantile\(([0-9.]+),/.exec(t.expr)?.[1])).toEqual(['0.5', '0.9', '0.99']);
  });

  it('shows every metric the operator declares but the index lookup time (a bench figure, microseconds)', () => {
    const declared = createMetrics(false).registry.getMetricsAsArray().map((m) => m.name);
    const shown = (name: string) => read.has(name) || read.has(`${name}_bucket`);
    expect(declared.filter((name) => !shown(name))).toEqual([`${M}match_seconds`]);
  });

  it('shows ExternalSecret sync failures by reason and the discovered sources by source', () => {
    const byTitle = (title: string) => d.panels.find((p) => p.title === title)?.targets?.map((t) => readsOf(t.expr));
    expect(byTitle('ExternalSecret sync failures')).toEqual([{ selectors: [{ metric: `${M}eso_sync_failures_total`, matchers: ['namespace', 'job'] }], groupings: [{ labels: ['reason'], metrics: [`${M}eso_sync_failures_total`] }] }]);
    expect(byTitle('Discovered sources')).toEqual([{ selectors: [{ metric: `${M}discovered_sources`, matchers: ['namespace', 'job'] }], groupings: [{ labels: ['source'], metrics: [`${M}discovered_sources`] }] }]);
  });

  it('has unique panel ids, a query in every panel, and a Prometheus data source variable every query uses', () => {
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of d.panels.filter((p) => p.type !== 'row')) {
      expect({ panel: p.title, queries: (p.targets ?? []).length > 0 }).toEqual({ panel: p.title, queries: true });
      expect({ panel: p.title, datasource: (p as { datasource?: { uid?: string } }).datasource?.uid }).toEqual({ panel: p.title, datasource: '${datasource}' });
    }
  });

  it('scopes every query to the chosen namespace and job', () => {
    for (const p of d.panels) {
      for (const t of p.targets ?? []) {
        for (const s of readsOf(t.expr).selectors) expect({ panel: p.title, matchers: s.matchers }).toEqual({ panel: p.title, matchers: expect.arrayContaining(['namespace', 'job']) });
      }
    }
  });
});
