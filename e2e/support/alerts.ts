/**
 * Whether one of the chart's alert rules (files/alerts.yaml) fires on what a running
 * operator exports: promtool evaluates the rule as shipped (its expression, `for` and
 * labels) over the samples scraped from each replica's /metrics, with the target labels a
 * ServiceMonitor's scrape adds (namespace, job, pod), held for an hour. The rule's
 * annotations are left out: they are templates of the labels and value, pinned by the
 * chart's own promtool tests (tests/promtool/alerts.yaml); here the question is only
 * whether the live series make it fire.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump } from 'js-yaml';
import { alertRules } from '../../scripts/monitoring';
import { resolveToolchain } from '../../scripts/stack';
import { readsOf } from '../../operator/test/support/promql';

export interface Scrape {
  pod: string;
  exposition: string;
}

export interface AlertVerdict {
  /** promtool's test passed: the alert fired exactly when `firing` said it would. */
  passed: boolean;
  output: string;
}

/** The samples of `metric` in Prometheus text, as promtool series with the scrape's target labels. */
function seriesOf(metric: string, s: Scrape, target: { namespace: string; job: string }): string[] {
  return s.exposition.split('\n').flatMap((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m || m[1] !== metric) return [];
    const labels = [m[3], `namespace="${target.namespace}"`, `job="${target.job}"`, `pod="${s.pod}"`].filter(Boolean).join(', ');
    return [`${metric}{${labels}}|${Number(m[4])}`];
  });
}

/**
 * Runs promtool's rule test: `alert` over the scraped series, expecting it to fire (with
 * the rule's labels and the labels it groups by, taken from the target) or not.
 */
export async function alertVerdict(alert: string, scrapes: Scrape[], target: { namespace: string; job: string }, firing: boolean): Promise<AlertVerdict> {
  const rule = alertRules().find((r) => r.alert === alert);
  if (!rule) throw new Error(`no alert ${alert} in the chart's files/alerts.yaml`);
  const reads = readsOf(rule.expr);
  const input = [...new Set(reads.selectors.map((s) => s.metric))]
    .flatMap((metric) => scrapes.flatMap((s) => seriesOf(metric, s, target)))
    .map((line) => {
      const [series, value] = line.split('|');
      return { series, values: `${value}x60` };
    });
  // The alert carries the labels its expression groups by: here the scrape's target labels.
  const targetLabels: Record<string, string> = { ...target };
  const grouped = Object.fromEntries(
    (reads.groupings[0]?.labels ?? []).map((l) => {
      if (!(l in targetLabels)) throw new Error(`${alert} groups by ${l}, which is not a target label this check gives (${Object.keys(targetLabels).join(', ')})`);
      return [l, targetLabels[l]];
    }),
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-alert-'));
  try {
    fs.writeFileSync(path.join(dir, 'rules.yaml'), dump({ groups: [{ name: 'under-test', rules: [{ alert: rule.alert, expr: rule.expr, ...(rule.for ? { for: rule.for } : {}), labels: rule.labels ?? {} }] }] }));
    fs.writeFileSync(
      path.join(dir, 'test.yaml'),
      dump({
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [{ interval: '1m', input_series: input, alert_rule_test: [{ eval_time: '60m', alertname: alert, exp_alerts: firing ? [{ exp_labels: { ...rule.labels, ...grouped } }] : [] }] }],
      }),
    );
    const { promtool } = await resolveToolchain({ only: ['promtool'] });
    if (!promtool) throw new Error('the toolchain has no promtool');
    return await new Promise((resolve) => {
      execFile(promtool, ['test', 'rules', 'test.yaml'], { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ passed: !err, output: `${stdout}${stderr}\ninput series:\n${input.map((i) => `  ${i.series} ${i.values}`).join('\n')}` });
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
