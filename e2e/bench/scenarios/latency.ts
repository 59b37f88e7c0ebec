/**
 * A and C: sequential changes, from SendMessage to a watch seeing the new template.
 * A measures them alone; C (scale.ts) measures them again among many mappings.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../../../operator/src/config';
import type { Secret } from '../../support/aws';
import { rand, value } from '../../support/scenario';
import { waitFor } from '../../support/wait';
import { BenchOperator, M, VersionWatch, queueDepth, say, sendBatch, waitSynced, type Bench } from '../harness';
import { distribution, histogramDelta, histogramQuantile, type Histogram } from '../stats';
import { changed, deployment, inScope, mapping, ms, seconds, sleep, type Scope } from './fixtures';
import type { Figure, ScenarioResult, Sizes } from './result';

export interface LatencyTarget {
  readonly namespace: string;
  readonly deployment: string;
  readonly secret: Secret;
}

export interface LatencyFigures {
  readonly observedMs: number[];
  readonly operator: Histogram;
  readonly awsCalls: Record<string, number>;
  readonly kubeRequests: number;
  readonly kubeByKind: Record<string, number>;
  readonly match: Histogram;
  /** Per change: SQS send → the receive that hands it to the operator returns, ms. */
  readonly receivedMs: number[];
  /** Milliseconds spent in each kind of request over the run (from the proxies). */
  readonly timeByKind: Record<string, number>;
  /** New connections the operator opened: to the API server, to AWS. */
  readonly kubeConnections: number;
  readonly awsConnections: number;
}

export async function measureLatency(s: Scope, t: LatencyTarget, changes: number): Promise<LatencyFigures> {
  const b = s.b;
  const op = s.operator!;
  const key = `${t.namespace}/${t.deployment}`;
  s.watch = s.own(await VersionWatch.start(b, `/apis/apps/v1/namespaces/${t.namespace}/deployments`));
  const before = await op.histogram(`${M}queue_to_restart_seconds`);
  const matchBefore = await op.histogram(`${M}match_seconds`);
  op.aws.reset();
  op.kube.reset();
  const observed: number[] = [];
  const received: number[] = [];
  for (let i = 0; i < changes; i++) {
    const v = await b.ctx.aws.putSecretValue(t.secret, value()); // never read back
    const body = changed(b, v);
    const t0 = performance.now();
    await sendBatch(b, s.queue!.url, [body]);
    const t1 = await s.watch.until(`${key} at version ${v.version}`, () => s.watch!.when(key, v.version), 30_000);
    observed.push(ms(t0, t1));
    const delivered = op.aws.deliveries.find((d) => d >= t0);
    if (delivered !== undefined) received.push(ms(t0, delivered));
    await waitFor('message deleted', async () => (await queueDepth(b, s.queue!.url)) === 0 || undefined, { timeoutMs: 30_000, intervalMs: 10 });
    // Arrival pacing, not synchronisation: a change within the coalescing window of the
    // last batch is a burst by design and waits for the window to close.
    await sleep(DEFAULTS.SQS_COALESCE_WINDOW_MS + 100);
    if ((i + 1) % 25 === 0) say(`  ${i + 1}/${changes} changes, last ${observed[i].toFixed(0)} ms`);
  }
  const operator = histogramDelta(await op.histogram(`${M}queue_to_restart_seconds`), before);
  const match = histogramDelta(await op.histogram(`${M}match_seconds`), matchBefore);
  s.watch.stop();
  s.watch = undefined;
  const k = op.kube.snapshot();
  const timeByKind = { ...op.aws.timeByKind(), ...op.kube.timeByKind() };
  return { observedMs: observed, operator, awsCalls: op.aws.snapshot(), kubeRequests: k.total, kubeByKind: k.byKind, match, receivedMs: received, timeByKind, kubeConnections: k.connections, awsConnections: op.aws.newConnections };
}

/**
 * Where one change's time goes, as the proxies saw it: the wait for the receive that
 * delivers it, then the mean time per change in each kind of call the rotation makes
 * (status writes and Events come after the patch, so they are not in the latency).
 */
function breakdownFigures(prefix: string, l: LatencyFigures, changes: number): Figure[] {
  const per = (kind: string) => (l.timeByKind[kind] ?? 0) / changes;
  const rows: [string, string, number][] = [
    ['receiveMs', 'send → receive returns it, p50', distribution(l.receivedMs).p50],
    ['describeMs', 'DescribeSecret, mean per change', per('SecretsManager.DescribeSecret')],
    ['listMs', 'list Deployments, mean per change', per('GET deployments')],
    ['patchMs', 'PATCH Deployment, mean per change', per('PATCH deployments')],
    ['statusMs', 'status write, mean per change (after the patch)', per('PATCH secretsrotationmappings/status')],
  ];
  return [
    ...rows.map(([key, label, value]) => ({ key: `${prefix}breakdown.${key}`, label: `  ${label}`, value, unit: 'ms' })),
    { key: `${prefix}kubeConnections`, label: 'new connections to the API server over the run', value: l.kubeConnections, unit: 'connections' },
    { key: `${prefix}awsConnections`, label: 'new connections to AWS over the run', value: l.awsConnections, unit: 'connections' },
  ];
}

export async function latencyTarget(s: Scope, namespace: string, name: string): Promise<LatencyTarget> {
  const secret = await s.b.ctx.aws.createSecret(`bench/${name}-${rand(6)}`);
  await deployment(s.b, namespace, name, { app: name });
  await mapping(s.b, namespace, name, secret.name, { app: name });
  return { namespace, deployment: name, secret };
}

export function latencyFigures(prefix: string, l: LatencyFigures, targetP99Ms?: number): Figure[] {
  const d = distribution(l.observedMs);
  const q = (x: number) => histogramQuantile(l.operator, x) * 1000;
  return [
    { key: `${prefix}p50Ms`, label: 'SQS send → template seen, p50', value: d.p50, unit: 'ms' },
    { key: `${prefix}p95Ms`, label: 'SQS send → template seen, p95', value: d.p95, unit: 'ms' },
    { key: `${prefix}p99Ms`, label: 'SQS send → template seen, p99', value: d.p99, unit: 'ms', ...(targetP99Ms ? { target: { op: '<=' as const, value: targetP99Ms } } : {}) },
    { key: `${prefix}maxMs`, label: 'SQS send → template seen, max', value: d.max, unit: 'ms' },
    { key: `${prefix}operatorP50Ms`, label: 'operator histogram (queue → patch), p50', value: q(0.5), unit: 'ms' },
    { key: `${prefix}operatorP95Ms`, label: 'operator histogram (queue → patch), p95', value: q(0.95), unit: 'ms' },
    { key: `${prefix}operatorP99Ms`, label: 'operator histogram (queue → patch), p99', value: q(0.99), unit: 'ms' },
  ];
}

export async function latency(b: Bench, z: Sizes): Promise<ScenarioResult> {
  return inScope(b, { id: 'a', namespaces: 1 }, async ({ s, queue, namespaces: [ns], t0 }) => {
    const target = await latencyTarget(s, ns, 'latency');
    s.operator = s.own(await BenchOperator.start(b, 'a-latency', queue.url, { env: z.operatorEnv }));
    await s.operator.waitLeading();
    await waitSynced(b, [ns], 1);
    const t1 = performance.now();
    say(`A: ${z.latencyChanges} changes one after another`);
    const l = await measureLatency(s, target, z.latencyChanges);
    const t2 = performance.now();
    const aws = Object.values(l.awsCalls).reduce((a, c) => a + c, 0);
    return {
      id: 'A',
      title: `Latency: 1 mapping, 1 Deployment, ${z.latencyChanges} changes one after another`,
      setupSeconds: seconds(t0, t1),
      measuredSeconds: seconds(t1, t2),
      figures: [
        ...latencyFigures('', l, 50),
        ...breakdownFigures('', l, z.latencyChanges),
        { key: 'awsCallsPerChange', label: 'AWS calls per change', value: aws / z.latencyChanges, unit: 'calls' },
        ...Object.entries(l.awsCalls).map(([op, n]) => ({ key: `awsPerChange.${op}`, label: `  ${op} per change`, value: n / z.latencyChanges, unit: 'calls' })),
        { key: 'kubeRequestsPerChange', label: 'Kubernetes API requests per change', value: l.kubeRequests / z.latencyChanges, unit: 'requests' },
      ],
      notes: [
        `changes are paced ${DEFAULTS.SQS_COALESCE_WINDOW_MS + 100} ms apart after each is handled: closer ones are a burst and are coalesced by design`,
        `Kubernetes requests by kind over the run: ${JSON.stringify(l.kubeByKind)}`,
      ],
    };
  });
}
