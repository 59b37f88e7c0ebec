/** What the scenarios share: their fixtures, their clocks, and the prologue and teardown around each. */
import { performance } from 'node:perf_hooks';
import type { Secret } from '../../support/aws';
import { labelUpdatedBody, rand } from '../../support/scenario';
import { Fixture } from '../../support/fixture';
import { BENCH_LABEL, BenchOperator, NAMESPACES_GONE_WITHIN_MS, VersionWatch, createQueue, deleteQueue, forEachSaying, sayingProgress, type Bench, type Queue } from '../harness';

/** A Deployment with no replicas: the API server and its controllers see a real rollout, no pod runs. */
export const deployment = (b: Bench, ns: string, name: string, labels: Record<string, string>) => b.ctx.kube.createWorkload('Deployment', ns, name, labels, { replicas: 0 });
export const mapping = (b: Bench, ns: string, name: string, secretId: string, matchLabels: Record<string, string>) => b.ctx.kube.createMapping(ns, name, { secretId, selector: { matchLabels } });
/** The body EventBridge delivers when AWSCURRENT moves to `v` (at `movedAt`, if not now). */
export const changed = (b: Bench, v: Secret, movedAt?: Date) => labelUpdatedBody(b.ctx, v, undefined, movedAt).body;

export const ms = (a: number, b: number) => b - a;
export const seconds = (a: number, b: number) => (b - a) / 1000;
export const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/**
 * A scenario's fixture, on the one fixture base: its namespaces (labelled BENCH_LABEL,
 * waited for until gone at teardown), its queue, and the operator behind the counting
 * proxies and the watches it owns (`own`), all undone by `teardown` however it ends.
 */
export class Scope extends Fixture {
  operator?: BenchOperator;
  watch?: VersionWatch;
  queue?: Queue;

  constructor(readonly b: Bench) {
    super(b.ctx, { namespacesGoneWithinMs: NAMESPACES_GONE_WITHIN_MS, progress: sayingProgress() });
  }
}

async function namespaces(s: Scope, prefix: string, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await forEachSaying('namespaces', names, 10, (ns) => s.labelledNamespace(ns, { [BENCH_LABEL]: 'true' }));
  return names;
}

/** What a scenario's own part is handed: its scope, its queue and namespaces, and when its setup began. */
export interface Prologue {
  readonly s: Scope;
  readonly queue: Queue;
  readonly namespaces: string[];
  readonly t0: number;
}

/**
 * The prologue every scenario repeats: a scope, the setup clock started, a queue and
 * namespaces named `bench-<id>-…`; then the scenario's own part, and the teardown
 * however it ends. `t0` when the setup began before (D starts its own SQS first).
 */
export async function inScope<T>(b: Bench, o: { id: string; namespaces: number; t0?: number }, part: (p: Prologue) => Promise<T>): Promise<T> {
  const s = new Scope(b);
  const t0 = o.t0 ?? performance.now();
  try {
    const queue = (s.queue = await createQueue(b, `bench-${o.id}-${rand()}`));
    s.own({ stop: () => deleteQueue(b, queue) });
    const nss = await namespaces(s, `bench-${o.id}-${rand(4)}`, o.namespaces);
    return await part({ s, queue, namespaces: nss, t0 });
  } finally {
    await s.teardown();
  }
}
