/**
 * A smoke run of the benchmark (`npm run bench -- --smoke`): every scenario, a few
 * iterations, against the real stack, so the bench cannot rot. It asserts what the
 * figures must say whatever the machine (restarts equal workloads, the concurrency
 * limit holds, every workload ends on the newest version), never a timing target:
 * those live in the bench's own table.
 */
import path from 'node:path';
import { stackEnv } from './support/context';
import { runBench, SCENARIOS, type BenchReport } from './bench/run';
import { SMOKE } from './bench/scenarios';
import { DEFAULTS } from '../operator/src/config';

jest.setTimeout(900_000);

let report: BenchReport;
let table: string;

beforeAll(async () => {
  ({ report, table } = await runBench({ smoke: true, outDir: path.join(stackEnv().STACK_DIR, 'logs', 'bench-smoke') }));
});

test('every scenario reports every figure as a number, and the table shows them', () => {
  expect(Object.keys(report.scenarios).sort()).toEqual([...SCENARIOS]);
  for (const [id, s] of Object.entries(report.scenarios)) {
    expect({ id, figures: Object.keys(s.figures).length }).toEqual({ id, figures: expect.any(Number) });
    for (const [key, value] of Object.entries(s.figures)) expect({ figure: `${id}.${key}`, finite: Number.isFinite(value) }).toEqual({ figure: `${id}.${key}`, finite: true });
    expect(table).toContain(`${id}. ${s.title}`);
  }
  expect(report.run).toBe('smoke');
});

test('A: each change was seen on the pod template, and the operator measured its own latency', () => {
  const a = report.scenarios.A.figures;
  expect(a.p50Ms).toBeGreaterThan(0);
  expect(a.operatorP50Ms).toBeGreaterThan(0);
  expect(a['awsPerChange.SecretsManager.DescribeSecret']).toBe(1);
});

test('B: every Deployment was patched once, the requests in flight never exceeded the limit, over kept-alive connections', () => {
  const b = report.scenarios.B.figures;
  expect(b.patches).toBe(SMOKE.fanoutNamespaces * SMOKE.fanoutPerNamespace);
  expect(b.peakInFlight).toBeLessThanOrEqual(DEFAULTS.MAX_CONCURRENT_API_REQUESTS);
  // At most one connection per request in flight (and one for a Lease renewal), however many requests.
  expect(b.connections).toBeLessThanOrEqual(DEFAULTS.MAX_CONCURRENT_API_REQUESTS + 1);
  expect(b.apiRequests).toBeGreaterThan(b.connections);
});

test('C: every mapping was indexed and matched', () => {
  const c = report.scenarios.C.figures;
  expect(c.readySeconds).toBeGreaterThan(0);
  expect(c.matchMeanUs).toBeGreaterThan(0);
  expect(c.peakRssMiB).toBeGreaterThan(0);
});

test('D: one restart per affected workload, every one on its newest version', () => {
  const d = report.scenarios.D.figures;
  expect(d.restartsIssued).toBe(SMOKE.burstSecrets);
  expect(d.notOnNewest).toBe(0);
});

test('E: the polling arithmetic is what it says', () => {
  const e = report.scenarios.E.figures;
  expect(e['fleet.poll2min']).toBe(30 * 100 * 10);
  expect(e['fleet.refresh1h']).toBe(100);
  expect(e.callsPerChange).toBeGreaterThan(0);
  // Drift before ListSecrets: one DescribeSecret per secret per pass, a pass every interval.
  expect(e['drift.before.perIdleHour']).toBe(SMOKE.idleSecrets * (3600 / DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS));
});

test('F: under the ceiling never more than maxConcurrent rolling, with it off all at once; each side restarts every workload once, all end on the new version', () => {
  const f = report.scenarios.F.figures;
  const total = SMOKE.pacedNamespaces * SMOKE.pacedPerNamespace;
  expect(f['paced.peakRolling']).toBeGreaterThanOrEqual(1);
  expect(f['paced.peakRolling']).toBeLessThanOrEqual(SMOKE.pacedMaxConcurrent);
  // The same watch sees the storm the ceiling prevents: the figure can fail.
  expect(f['off.peakRolling']).toBeGreaterThan(SMOKE.pacedMaxConcurrent);
  for (const side of ['paced', 'off']) {
    expect({ side, newReplicaSets: f[`${side}.newReplicaSets`], restarts: f[`${side}.restarts`], notOnNewest: f[`${side}.notOnNewest`] }).toEqual({ side, newReplicaSets: total, restarts: total, notOnNewest: 0 });
  }
});
