/**
 * The paced rollout the issue-25 faults share (docs/rollouts.md): one secret, one mapping,
 * WORKLOADS Deployments paced WAVE at a time by the chart's rollouts.maxConcurrent. Each
 * Deployment has minReadySeconds, so a wave is healthy several seconds after its stamp
 * (kwok's pods are Ready in a second) and the rollout lasts several waves: the window in
 * which a fault lands "mid-rollout" is a state the test waits for, not a moment it guesses.
 */
import type { Secret } from '../../support/aws';
import { waitFor } from '../../support/wait';
import { patchedMoreThanOnce, type FaultFile } from './fixture';
import type { Ledger } from './ledger';

export const WORKLOADS = 30;
/** The chart's rollouts.maxConcurrent for these files: six waves of five. */
export const WAVE = 5;
/** Seconds a new pod must be Ready before its Deployment counts it available (healthy). */
const MIN_READY_SECONDS = 3;
export const PACED_VALUES: readonly string[] = ['--set', `rollouts.maxConcurrent=${WAVE}`];
const MAPPING = 'm';

/** What the tests read of status.rollout. */
export interface RolloutView {
  readonly versions?: Record<string, string>;
  readonly phase?: string;
  readonly summary?: string;
  /** One character per workload in wave order: p pending, s stamped, h healthy (engine.ts). */
  readonly states?: string;
}

export interface PacedFleet {
  readonly ns: string;
  readonly secret: Secret;
  readonly names: string[];
}

/** The namespace, secret, WORKLOADS Deployments (one pod each) and the mapping, tracked by the ledger; resolves once the pods run. */
export async function pacedFleet(f: FaultFile, ledger: Ledger, prefix: string): Promise<PacedFleet> {
  const ns = await f.namespace(prefix);
  const secret = await f.createSecret(prefix);
  const names = await f.deployments(ns, 'app', WORKLOADS, () => ({ app: prefix }), { minReadySeconds: MIN_READY_SECONDS });
  await f.mapping(ns, MAPPING, secret, { app: prefix });
  ledger.track(ns, names, [secret], true);
  await f.waitRunning(ns, names);
  return { ns, secret, names };
}

export async function rolloutOf(f: FaultFile, ns: string): Promise<RolloutView | undefined> {
  return (await f.ctx.kube.mapping(ns, MAPPING)).status?.rollout as RolloutView | undefined;
}

/** How many workloads the record says were stamped (rolling or done), and how many wait. */
export function stampedOf(r: RolloutView | undefined): { stamped: number; pending: number } {
  const states = r?.states ?? '';
  const pending = [...states].filter((s) => s === 'p').length;
  return { stamped: states.length - pending, pending };
}

/**
 * Waits until the change to `version` was acknowledged (the queue is empty) and its
 * rollout recorded, and `between(states)` holds for the record: the moment to inject the fault.
 */
export async function waitMidRollout(f: FaultFile, ns: string, version: string, what: string, between: (r: RolloutView) => boolean): Promise<RolloutView> {
  return waitFor(
    `the rollout of ${version} recorded, the message acknowledged, ${what}`,
    async () => {
      const r = await rolloutOf(f, ns);
      if (!r || !Object.values(r.versions ?? {}).includes(version) || (r.states ?? '').length !== WORKLOADS || !between(r)) return undefined;
      return (await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL)).total === 0 ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** After the ledger balanced: each Deployment patched once (metadata.generation), and the rollout says Complete N/N. */
export async function rolloutFinished(f: FaultFile, fleet: PacedFleet): Promise<string[]> {
  const want = `Complete ${WORKLOADS}/${WORKLOADS}`;
  // The last wave's health reaches the record at the loop's next pass after it is available.
  const summary = await waitFor('status.rollout says complete', async () => ((await rolloutOf(f, fleet.ns))?.summary === want ? want : undefined), { timeoutMs: 60_000, intervalMs: 500 }).catch(
    async () => (await rolloutOf(f, fleet.ns))?.summary,
  );
  return [...(summary === want ? [] : [`status.rollout.summary is ${JSON.stringify(summary)}, expected "${want}"`]), ...(await patchedMoreThanOnce(f.ctx, fleet.ns, fleet.names))];
}
