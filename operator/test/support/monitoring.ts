/**
 * The check that every metric the chart's alert rules and dashboard (scripts/monitoring.ts)
 * read is one an operator exports: a metric family of its Prometheus text, and every
 * label they match on or group by a label of that family's series. The unit test runs it against the operator's own registry, the e2e
 * test against a running operator's /metrics.
 */
import type { Registry } from 'prom-client';
import { expressions } from '../../../scripts/monitoring';
import { readsOf } from './promql';

// e2e/monitoring.e2e.test.ts reads the chart's expressions from here.
export { expressions };

/** Labels Prometheus adds to every scraped series (the ServiceMonitor's target labels), and histograms' `le`. */
export const TARGET_LABELS: ReadonlySet<string> = new Set(['namespace', 'job', 'pod', 'instance', 'service', 'endpoint', 'container']);

export interface Family {
  readonly name: string;
  readonly type: string;
  /** Label names seen on its series. */
  readonly labels: Set<string>;
  series: number;
}

/** Metric families of Prometheus text (`# TYPE` lines), with the label names of their series. */
export function familiesOf(exposition: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type) families.set(type[1], { name: type[1], type: type[2], labels: new Set(), series: 0 });
  }
  for (const line of exposition.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? /.exec(line);
    if (!sample) continue;
    const f = familyOf(families, sample[1]);
    if (!f) continue;
    f.series++;
    for (const m of (sample[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) f.labels.add(m[1]);
  }
  return families;
}

/** The family a series name belongs to: itself, or a histogram's/summary's `_bucket`, `_sum`, `_count`. */
function familyOf(families: Map<string, Family>, series: string): Family | undefined {
  const own = families.get(series);
  if (own) return own;
  const m = /^(.+)_(bucket|sum|count)$/.exec(series);
  const base = m ? families.get(m[1]) : undefined;
  return base && (base.type === 'histogram' || base.type === 'summary') && (m![2] !== 'bucket' || base.type === 'histogram') ? base : undefined;
}

/**
 * What the rules and the dashboard read that `exposition` does not export: a metric
 * without a family, or a label (target labels aside) on none of its family's series.
 * `declaredLabels` (metric → label names) stands in for a family that has no series yet
 * (a labelled counter never incremented).
 */
export function missingFrom(exposition: string, declaredLabels: ReadonlyMap<string, readonly string[]> = new Map()): string[] {
  const families = familiesOf(exposition);
  const problems: string[] = [];
  const labelsOf = (metric: string): ReadonlySet<string> | undefined => {
    const f = familyOf(families, metric);
    if (!f) return undefined;
    const labels = new Set(f.labels);
    if (f.series === 0) for (const l of declaredLabels.get(f.name) ?? []) labels.add(l);
    if (f.type === 'histogram' && metric.endsWith('_bucket')) labels.add('le');
    return labels;
  };
  for (const { where, expr } of expressions()) {
    const reads = readsOf(expr);
    for (const s of reads.selectors) {
      const labels = labelsOf(s.metric);
      if (!labels) {
        problems.push(`${where}: ${s.metric} is not exported`);
        continue;
      }
      for (const l of s.matchers) if (!TARGET_LABELS.has(l) && !labels.has(l)) problems.push(`${where}: ${s.metric} has no label ${l}`);
    }
    for (const g of reads.groupings) {
      // A metric that is not exported is reported above, once.
      if (g.metrics.every((m) => !labelsOf(m))) continue;
      for (const l of g.labels) {
        if (TARGET_LABELS.has(l) || g.metrics.some((m) => labelsOf(m)?.has(l))) continue;
        problems.push(`${where}: groups by ${l}, a label of none of ${g.metrics.join(', ')}`);
      }
    }
  }
  return [...new Set(problems)];
}

/** Metric name → the label names it is declared with (prom-client keeps them on the metric). */
export function declaredLabels(registry: Registry): Map<string, string[]> {
  return new Map(registry.getMetricsAsArray().map((m) => [m.name, [...((m as { labelNames?: string[] }).labelNames ?? [])]]));
}
