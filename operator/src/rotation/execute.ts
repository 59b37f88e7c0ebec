/**
 * Execute: each planned action becomes a result. A restart is the workload client's
 * PATCH (through the fence, the limiter and the request deadline); a skip, a dry run or
 * a failed PATCH is a result too, never an exception. Each result is counted and logged
 * with the workload, mappings, event ids, secrets and versions it concerns.
 */
import { errorMessage, type Logger } from '../core/log';
import type { Metrics } from '../core/metrics';
import type { WorkloadClient } from '../workloads/adapters';
import { workloadId } from '../workloads/workload';
import { restartLatency } from './latency';
import type { ResolvedChange, WorkloadAction } from './plan';
import type { Executed, Outcome } from './summary';

export interface ExecuteOptions {
  readonly workloads: Pick<WorkloadClient, 'restart'>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly dryRun: boolean;
  readonly now: () => Date;
}

/** Every action of a plan at once: the workload client's limiter bounds the requests in flight. */
export function executePlan(actions: readonly WorkloadAction[], changes: readonly ResolvedChange[], opts: ExecuteOptions): Promise<Executed[]> {
  return Promise.all(actions.map(async (action) => ({ action, outcome: await executeAction(action, changes, opts) })));
}

export async function executeAction(a: WorkloadAction, changes: readonly ResolvedChange[], opts: ExecuteOptions): Promise<Outcome> {
const { metrics, log } = opts;
  const w = a.workload;
  const fields = {
    workload: workloadId(w),
    mapping: [...new Set(a.causes.map((c) => c.mappingKey))].join(','),
    eventId: [...new Set(a.causes.map((c) => c.eventId))].join(','),
    secret: Object.keys(a.versions).join(','),
    version: Object.values(a.versions).join(','),
  };
  if (a.decision === 'skip') {
    metrics.restarts.inc({ kind: w.kind, result: 'skipped' });
    log.info('workload skipped', { ...fields, reason: a.reason });
    return { result: 'Skipped', reason: a.reason };
  }
  if (opts.dryRun) {
    metrics.restarts.inc({ kind: w.kind, result: 'dry_run' });
    log.info('dry run: would restart workload', fields);
    return { result: 'WouldRestart', reason: 'DryRun' };
  }
  let rollout;
  try {
    const r = await opts.workloads.restart(w, a.versions, opts.now());
    if (!r.patched) {
      metrics.restarts.inc({ kind: w.kind, result: 'skipped' });
      log.info('workload skipped', { ...fields, reason: 'AlreadyAtVersion' });
      return { result: 'Skipped', reason: 'AlreadyAtVersion' };
    }
    rollout = r.rollout;
  } catch (err) {
    metrics.restarts.inc({ kind: w.kind, result: 'failed' });
    log.error('workload restart failed', { ...fields, error: errorMessage(err) });
    return { result: 'Failed', reason: errorMessage(err) };
  }
  const latency = restartLatency(a, changes, opts.now().getTime());
  if (latency.fromEvent !== undefined) metrics.eventToRestartSeconds.observe(latency.fromEvent);
  if (latency.fromQueue !== undefined) metrics.queueToRestartSeconds.observe(latency.fromQueue);
  if (rollout === 'Paused') {
    metrics.restarts.inc({ kind: w.kind, result: 'deferred' });
    log.info('paused workload stamped; it rolls when resumed', fields);
    return { result: 'Deferred', reason: 'Paused' };
  }
  if (rollout === 'OnDelete') {
    metrics.restarts.inc({ kind: w.kind, result: 'pending' });
    log.info('OnDelete workload stamped; each pod takes the new version when it is deleted', fields);
    return { result: 'Pending', reason: 'OnDelete' };
  }
  metrics.restarts.inc({ kind: w.kind, result: 'restarted' });
  log.info('workload restarted', fields);
  return { result: 'Restarted' };
}
