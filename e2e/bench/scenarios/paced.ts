/**
 * F: one secret → many Deployments whose pods take a few seconds to become ready (kwok's
 * pod-ready stage, delayed by the srm.test/ready-delay annotation: scripts/stack/kwok.yaml),
 * rolled twice in the same run: once under the chart-wide ceiling (ROLLOUT_MAX_CONCURRENT)
 * and once with it off, as every workload restarted at once before the rollout engine.
 * Each side: the peak of workloads rolling at once (from a watch of the Deployments, by
 * their kind's own rollout-complete rule), new ReplicaSets per second (a watch of them),
 * API requests per second (the API server's apiserver_request_total, every client; the
 * operator's own through its counting proxy), time to all healthy.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../../../operator/src/config';
import type { Secret } from '../../support/aws';
import { rand, value } from '../../support/scenario';
import { waitFor } from '../../support/wait';
import { GROUP, PLURAL, VERSION } from '../../../operator/src/mappings/model';
import { ApiServerRequests, BenchOperator, M, VersionWatch, fakeNode, forEachSaying, say, sendBatch, waitDeploymentsHealthy, waitSynced, type Bench } from '../harness';
import { RollingTally, peakPerSecond, peakRate } from '../rolling';
import { changed, inScope, mapping, seconds, type Scope } from './fixtures';
import type { Figure, ScenarioResult, Sizes } from './result';

/** The setting the chart's `rollouts.maxConcurrent` maps to (config.ts). */
const CEILING: keyof typeof DEFAULTS = 'ROLLOUT_MAX_CONCURRENT';
/**
 * "Off": the operator has no switch for it, so a ceiling no fleet reaches (the chart's
 * `rollouts.maxConcurrent: 1000000`) lets every workload through at once, as before the
 * rollout engine.
 */
export const CEILING_OFF = 1_000_000;
/** The pod annotation kwok's pod-ready stage reads its delay from (scripts/stack/kwok.yaml). */
export const READY_DELAY_ANNOTATION = 'srm.test/ready-delay';

interface Side {
  readonly key: 'paced' | 'off';
  readonly maxConcurrent: number;
  readonly title: string;
}

interface SideFigures {
  readonly acknowledgedSeconds: number;
  readonly allStampedSeconds: number;
  readonly allHealthySeconds: number;
  readonly peakRolling: number;
  readonly newReplicaSets: number;
  readonly peakNewReplicaSetsPerSecond: number;
  readonly apiRequestsPerSecond: number;
  readonly peakApiRequestsPerSecond: number;
  readonly peakApiWritesPerSecond: number;
  readonly operatorRequestsPerSecond: number;
  readonly restarts: number;
  readonly notOnNewest: number;
}

export async function paced(b: Bench, z: Sizes): Promise<ScenarioResult> {
  const total = z.pacedNamespaces * z.pacedPerNamespace;
  const label = `paced-${rand(4)}`;
  const sides: Side[] = [
    { key: 'paced', maxConcurrent: z.pacedMaxConcurrent, title: `maxConcurrent ${z.pacedMaxConcurrent}` },
    { key: 'off', maxConcurrent: CEILING_OFF, title: 'ceiling off' },
  ];
  // Room for every pod twice over (old and new during a rollout): the stack's own node holds 110.
  const node = await fakeNode(b, `bench-f-${rand(4)}`, 2 * total + 10);
  try {
    return await inScope(b, { id: 'f', namespaces: z.pacedNamespaces }, async ({ s, queue, namespaces: nss, t0 }) => {
      let secret = await b.ctx.aws.createSecret(`bench/paced-${rand(6)}`);
      const work = nss.flatMap((ns) => Array.from({ length: z.pacedPerNamespace }, (_, i) => ({ ns, name: `w${i}` })));
      const templateAnnotations = { [READY_DELAY_ANNOTATION]: `${z.pacedReadyDelaySeconds}s` };
      await forEachSaying('Deployments', work, 10, (w) => b.ctx.kube.createWorkload('Deployment', w.ns, w.name, { app: label }, { replicas: 1, templateAnnotations }));
      await forEachSaying('mappings', nss, 10, (ns) => mapping(b, ns, 'paced', secret.name, { app: label }));
      await waitDeploymentsHealthy(b, `app=${label}`, total);
      const t1 = performance.now();
      const figures = new Map<Side['key'], SideFigures>();
      for (const side of sides) {
        say(`F: one change → ${total} Deployments, ${side.title}`);
        const r = await rollOnce(s, { side, queueUrl: queue.url, secret, label, total, namespaces: nss, z });
        figures.set(side.key, r.figures);
        secret = r.rotated;
      }
      const t2 = performance.now();
      return {
        id: 'F',
        title: `Paced fan-out: one secret → ${total} Deployments in ${z.pacedNamespaces} namespaces, pods ready after ${z.pacedReadyDelaySeconds} s; maxConcurrent ${z.pacedMaxConcurrent} vs the ceiling off`,
        setupSeconds: seconds(t0, t1),
        measuredSeconds: seconds(t1, t2),
        figures: sideBySide(sides, figures, total, z.pacedMaxConcurrent),
        notes: [
          `"ceiling off": ${CEILING}=${CEILING_OFF} (the chart's rollouts.maxConcurrent; there is no off switch, a ceiling above the fleet is one), so every workload is stamped at once as before the rollout engine`,
          'rolling: stamped with the new version and not yet healthy by the Deployment\'s own rule (observedGeneration, updated = replicas = available), seen by a watch; the same rule the operator counts its slots by',
          'API requests: apiserver_request_total read every second (every client: controllers, scheduler, kwok, the operator), rate over send → all healthy; the operator\'s own through its counting proxy',
          `each side starts its own operator with default settings but ${CEILING}; the fleet is healthy before each change`,
        ],
      };
    });
  } finally {
    await node.remove();
  }
}

async function rollOnce(
  s: Scope,
  o: { side: Side; queueUrl: string; secret: Secret; label: string; total: number; namespaces: readonly string[]; z: Sizes },
): Promise<{ figures: SideFigures; rotated: Secret }> {
  const b = s.b;
  const { side, total, z } = o;
  const op = s.own(await BenchOperator.start(b, `f-${side.key}`, o.queueUrl, { env: { ...z.operatorEnv, [CEILING]: String(side.maxConcurrent) } }));
  try {
    await op.waitLeading();
    await waitSynced(b, o.namespaces, o.namespaces.length);
    const rotated = await b.ctx.aws.putSecretValue(o.secret, value());
    const tally = new RollingTally(rotated.version, total);
    const deployments = s.own(await VersionWatch.start(b, '/apis/apps/v1/deployments', `app=${o.label}`, (key, obj, at) => tally.observe(key, obj, at)));
    const replicaSets = s.own(await VersionWatch.start(b, '/apis/apps/v1/replicasets', `app=${o.label}`));
    const api = s.own(await new ApiServerRequests(b.kc).start());
    const deleted0 = await op.metric(`${M}messages_deleted_total`);
    const restarted0 = await op.metric(`${M}restarts_total`, { result: 'restarted' });
    op.kube.reset();
    const sent = performance.now();
    await sendBatch(b, o.queueUrl, [changed(b, rotated)]);
    const acknowledged = await waitFor('message deleted', async () => (await op.metric(`${M}messages_deleted_total`)) > deleted0 && performance.now(), { timeoutMs: 120_000, intervalMs: 50 });
    // Each wave takes the pods' ready delay and the controllers' round trips: a generous deadline per wave.
    const waves = Math.ceil(total / Math.min(side.maxConcurrent, total));
    const allHealthy = await deployments.until(`${total} Deployments healthy on ${rotated.version}`, () => tally.allHealthyAt, 120_000 + waves * (z.pacedReadyDelaySeconds + 30) * 1000);
    await api.stop();
    const kube = op.kube.snapshot();
    const newReplicaSets = [...replicaSets.seen.values()].map((versions) => versions.get(rotated.version)).filter((t): t is number => t !== undefined);
    // The record says so too: every mapping's rollout complete (the loop writes it after the watch saw it).
    await waitFor('every mapping\'s rollout Complete', async () => (await rolloutPhases(b, o.namespaces)).every((p) => p === 'Complete') || undefined, { timeoutMs: 60_000, intervalMs: 500 });
    const notOnNewest = [...deployments.seen.values()].filter((versions) => !versions.has(rotated.version)).length;
    const window = seconds(sent, allHealthy);
    const apiTotal = api.all[api.all.length - 1].total - api.all[0].total;
    const figures: SideFigures = {
      acknowledgedSeconds: seconds(sent, acknowledged),
      allStampedSeconds: seconds(sent, tally.lastStampedAt ?? NaN),
      allHealthySeconds: window,
      peakRolling: tally.peakRolling,
      newReplicaSets: newReplicaSets.length,
      peakNewReplicaSetsPerSecond: peakPerSecond(newReplicaSets, sent),
      apiRequestsPerSecond: apiTotal / seconds(api.all[0].at, api.all[api.all.length - 1].at),
      peakApiRequestsPerSecond: peakRate(api.all),
      peakApiWritesPerSecond: peakRate(api.writes),
      operatorRequestsPerSecond: kube.total / window,
      restarts: (await op.metric(`${M}restarts_total`, { result: 'restarted' })) - restarted0,
      notOnNewest,
    };
    deployments.stop();
    replicaSets.stop();
    return { figures, rotated };
  } finally {
    await op.stop();
  }
}

async function rolloutPhases(b: Bench, namespaces: readonly string[]): Promise<(string | undefined)[]> {
  const phases: (string | undefined)[] = [];
  for (const ns of namespaces) {
    const list = (await b.custom.listNamespacedCustomObject(GROUP, VERSION, ns, PLURAL)).body as { items: { status?: { rollout?: { phase?: string } } }[] };
    phases.push(...list.items.map((m) => m.status?.rollout?.phase));
  }
  return phases;
}

/** Each figure for both sides, one row after the other; the targets on the paced side (the ceiling off shows what they guard against). */
function sideBySide(sides: readonly Side[], figures: ReadonlyMap<Side['key'], SideFigures>, total: number, maxConcurrent: number): Figure[] {
  const rows: { key: keyof SideFigures; label: string; unit: string; target?: (side: Side) => Figure['target'] }[] = [
    { key: 'peakRolling', label: 'peak workloads rolling at once (stamped, not yet healthy)', unit: 'workloads', target: (side) => (side.key === 'paced' ? { op: '<=', value: maxConcurrent } : undefined) },
    { key: 'peakNewReplicaSetsPerSecond', label: 'peak new ReplicaSets in one second', unit: 'ReplicaSets/s' },
    { key: 'peakApiRequestsPerSecond', label: 'peak API requests per second (API server, every client)', unit: 'requests/s' },
    { key: 'peakApiWritesPerSecond', label: '  of which writes (POST, PUT, PATCH, DELETE)', unit: 'requests/s' },
    { key: 'apiRequestsPerSecond', label: 'API requests per second, mean over send → all healthy', unit: 'requests/s' },
    { key: 'operatorRequestsPerSecond', label: 'the operator\'s own API requests per second, mean', unit: 'requests/s' },
    { key: 'acknowledgedSeconds', label: 'send → message deleted (the rollout recorded)', unit: 's' },
    { key: 'allStampedSeconds', label: 'send → the last workload stamped', unit: 's' },
    { key: 'allHealthySeconds', label: `send → all ${total} healthy on the new version`, unit: 's' },
    { key: 'newReplicaSets', label: 'new ReplicaSets (one per workload: each restarted once)', unit: 'ReplicaSets', target: () => ({ op: '=', value: total }) },
    { key: 'restarts', label: 'restarts the operator counted', unit: 'restarts', target: () => ({ op: '=', value: total }) },
    { key: 'notOnNewest', label: 'workloads not on the new version', unit: 'workloads', target: () => ({ op: '=', value: 0 }) },
  ];
  return rows.flatMap((row) =>
    sides.map((side) => {
      const target = row.target?.(side);
      return { key: `${side.key}.${row.key}`, label: `[${side.title}] ${row.label}`, value: figures.get(side.key)![row.key], unit: row.unit, ...(target ? { target } : {}) };
    }),
  );
}
