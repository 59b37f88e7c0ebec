/** Runs the scenarios and renders their figures: the table for people, the JSON document for tracking. */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { deleteNamespacesUntilGone } from '../support/fixture';
import { BENCH_LABEL, NAMESPACES_GONE_WITHIN_MS, bench, say, sayingProgress, type Bench } from './harness';
import { FULL, SMOKE, burst, cost, fanout, latency, met, paced, scale, type ScenarioResult, type Sizes } from './scenarios';
import { fmt, table } from './stats';

export const SCENARIOS = ['A', 'B', 'C', 'D', 'E', 'F'] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly smoke?: boolean;
  readonly only?: readonly ScenarioId[];
  readonly cpuProf?: boolean;
  readonly outDir: string;
}

export interface BenchReport {
  readonly date: string;
  readonly run: 'full' | 'smoke';
  readonly machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  readonly scenarios: Record<string, {
    title: string;
    setupSeconds: number;
    measuredSeconds: number;
    figures: Record<string, number>;
    targets: Record<string, { op: string; value: number; met: boolean }>;
    notes: string[];
  }>;
}

export async function runBench(o: BenchOptions): Promise<{ report: BenchReport; table: string }> {
  const sizes: Sizes = o.smoke ? SMOKE : FULL;
  const b = bench(o.outDir);
  await b.ctx.kube.installCrd();
  await removeLeftovers(b);
  const want = new Set(o.only?.length ? o.only : SCENARIOS);
  const results: ScenarioResult[] = [];
  // C last: its ten thousand objects are still being deleted when the run ends.
  for (const id of ['A', 'B', 'D', 'E', 'F', 'C'] as const) {
    if (!want.has(id)) continue;
    const t = performance.now();
    say(`scenario ${id}: setting up`);
    const r =
      id === 'A' ? await latency(b, sizes)
      : id === 'B' ? await fanout(b, sizes)
      : id === 'C' ? await scale(b, sizes, { cpuProf: o.cpuProf })
      : id === 'D' ? await burst(b, sizes, { cpuProf: o.cpuProf })
      : id === 'F' ? await paced(b, sizes)
      : await cost(b, sizes, results.find((x) => x.id === 'A'));
    say(`scenario ${id}: done in ${((performance.now() - t) / 1000).toFixed(0)} s (setup ${r.setupSeconds.toFixed(0)} s, measured ${r.measuredSeconds.toFixed(0)} s)`);
    results.push(r);
  }
  results.sort((x, y) => x.id.localeCompare(y.id));
  const report: BenchReport = {
    date: new Date().toISOString(),
    run: o.smoke ? 'smoke' : 'full',
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    scenarios: Object.fromEntries(
      results.map((r) => [
        r.id,
        {
          title: r.title,
          setupSeconds: round(r.setupSeconds),
          measuredSeconds: round(r.measuredSeconds),
          figures: Object.fromEntries(r.figures.map((f) => [f.key, round(f.value)])),
          targets: Object.fromEntries(r.figures.filter((f) => f.target).map((f) => [f.key, { op: f.target!.op, value: f.target!.value, met: met(f)! }])),
          notes: r.notes,
        },
      ]),
    ),
  };
  return { report, table: renderTable(report, labelsOf(results)) };
}

/** Namespaces an interrupted run left behind would be watched too: remove them first. */
async function removeLeftovers(b: Bench): Promise<void> {
  const left = (await b.ctx.kube.core.listNamespace(undefined, undefined, undefined, undefined, `${BENCH_LABEL}=true`)).body.items.map((n) => n.metadata!.name!);
  if (left.length === 0) return;
  say(`removing ${left.length} namespace(s) an earlier run left behind`);
  await deleteNamespacesUntilGone(b.ctx, left, NAMESPACES_GONE_WITHIN_MS, sayingProgress());
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : v;
}

/** The human table: one block per scenario, each figure with its unit and target. */
export function renderTable(report: BenchReport, labels: ReadonlyMap<string, string>): string {
  const m = report.machine;
  const out = [`secrets-rotation-operator benchmarks (${report.run} run, ${report.date}) — ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}`];
  for (const [id, s] of Object.entries(report.scenarios)) {
    out.push('', `${id}. ${s.title}   [setup ${fmt(s.setupSeconds)} s, measured ${fmt(s.measuredSeconds)} s]`);
    const rows: string[][] = [['figure', 'value', 'target', '']];
    for (const [key, value] of Object.entries(s.figures)) {
      const t = s.targets[key];
      rows.push([labels.get(`${id}.${key}`) ?? key, `${fmt(value)} ${labels.get(`${id}.${key}#unit`) ?? ''}`.trim(), t ? `${t.op} ${fmt(t.value)}` : '', t ? (t.met ? 'met' : 'MISSED') : '']);
    }
    out.push(table(rows));
    for (const n of s.notes) out.push(`  note: ${n}`);
  }
  return out.join('\n');
}

export function labelsOf(results: Iterable<ScenarioResult>): Map<string, string> {
  const labels = new Map<string, string>();
  for (const r of results) {
    for (const f of r.figures) {
      labels.set(`${r.id}.${f.key}`, f.label);
      labels.set(`${r.id}.${f.key}#unit`, f.unit);
    }
  }
  return labels;
}
