/**
 * The rotation, top-down, for changes the queue interpreted and admitted (sqs/intake.ts):
 * look up (lookup.ts) → resolve (DescribeSecret once per secret, batch.ts, while the named
 * mappings' workloads are listed; settle.ts) → list (matches.ts) → plan (plan.ts) →
 * gate (rollouts.ts: each mapping's rollout is recorded, and says what is stamped now) →
 * execute (execute.ts) → summarise (summary.ts) → write (report.ts). Each step lives in
 * its own module; this file only runs them in order, and answers what became of each
 * change: done only when every restart it asked for is done. A batch given an
 * AbortSignal stops between steps once it is aborted (this replica stopped leading); the
 * fence refuses its writes in any case.
 */
import type { Logger } from '../core/log';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping } from '../mappings/model';
import type { Metrics } from '../core/metrics';
import type { SecretDescriber } from '../secrets/describer';
import type { WorkloadClient } from '../workloads/adapters';
import { workloadId } from '../workloads/workload';
import { BatchReads } from './batch';
import { executePlan } from './execute';
import { lookUp, noneNamed } from './lookup';
import { listMatches } from './matches';
import { planRestarts, type ResolvedChange } from './plan';
import type { DiscoveryPort, EventPort, RotationStatusPort } from '../mappings/ports';
import type { AdmittedChange, ChangeOutcome } from './ports';
import type { RotationNotifier } from './notifier';
import { writeReports } from './report';
import { gateActions, type Rollouts } from './rollouts';
import { settleChange } from './settle';
import { summariseBatch, type Outcome } from './summary';

export interface RotatorOptions {
  readonly index: MappingIndex;
  readonly workloads: Pick<WorkloadClient, 'list' | 'restart'>;
  readonly describer?: SecretDescriber;
  /** ExternalSecrets and SecretProviderClasses found by discovery; absent when it is off. */
  readonly discovery?: DiscoveryPort;
  readonly status: RotationStatusPort;
  readonly events: EventPort;
  /** Told of each mapping's rotation after its status and Event are written (notify/webhook.ts). */
  readonly notifier?: RotationNotifier;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly region: string;
  readonly dryRun: boolean;
  /** Each mapping's rollout (rollouts.ts): records the change and paces its restarts. Absent: every restart at once. */
  readonly rollouts?: Pick<Rollouts, 'admitAll'>;
  readonly now?: () => Date;
}

export class Rotator {
  private readonly now: () => Date;

  /**
   * Every request goes through the ports, all at once: the ports bound how many are in
   * flight (main.ts gives them one shared Limiter).
   */
  constructor(private readonly opts: RotatorOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** What one batch reads once (batch.ts). */
  private batchReads(): BatchReads {
    const { workloads, describer, discovery, region, log } = this.opts;
    return new BatchReads({ workloads, region, log, ...(describer ? { describer } : {}), ...(discovery ? { discovery } : {}) });
  }

  /** The changes as the events name them: each is looked up, settled, rolled; an outcome per change. */
  async handle(admitted: readonly AdmittedChange[], signal?: AbortSignal): Promise<Map<string, ChangeOutcome>> {
    const reads = this.batchReads();
    const named = admitted.map((a) => lookUp(a, this.opts));
    reads.listEarly(named.flatMap((n) => n.mapped));
    const settled = await Promise.all(admitted.map(async (a, i) => ({ admitted: a, change: settleChange(a, await reads.describe(a.change)), found: await named[i].all })));
    const outcomes = new Map<string, ChangeOutcome>();
    for (const s of settled) if (!s.change) outcomes.set(s.admitted.changeId, this.unsettled(s.admitted, s.found));
    signal?.throwIfAborted();
    const found = settled.flatMap((s) => (s.change ? [{ change: s.change, mappings: s.found && this.opts.index.narrow(s.found, s.change.change.secret) }] : []));
    for (const [id, ok] of await this.roll(found, reads, signal)) outcomes.set(id, ok ? 'done' : 'unfinished');
    return outcomes;
  }

  /** Changes settled already (drift recovery): per change id whether all its work is done. */
  async rotate(changes: readonly ResolvedChange[], signal?: AbortSignal): Promise<Map<string, boolean>> {
    const found = await Promise.all(changes.map(async (change) => ({ change, mappings: await lookUp(change, this.opts).all })));
    return this.roll(found, this.batchReads(), signal);
  }

  /** list → plan → gate (rollouts.ts) → execute → summarise → write, for settled changes and the mappings that name them. */
  private async roll(found: readonly { change: ResolvedChange; mappings?: readonly Mapping[] }[], reads: BatchReads, signal?: AbortSignal): Promise<Map<string, boolean>> {
    for (const f of found) if (f.mappings?.length === 0) noneNamed(f.change, this.opts);
    const changes = found.map((f) => f.change);
    const { matches, unlisted, incomplete } = await listMatches(
      found.flatMap((f) => (f.mappings ? [{ change: f.change, mappings: f.mappings }] : [])),
      reads,
      this.opts.log,
      signal,
    );
    unlisted.push(...found.filter((f) => !f.mappings).map((f) => f.change.changeId));
    signal?.throwIfAborted();
    const actions = planRestarts(matches);
    // The rollouts record the intent first; what they hold is Deferred now and stamped by their loop.
    const held = this.opts.rollouts && !this.opts.dryRun ? await gateActions(actions, matches, this.opts.rollouts) : new Map<string, Outcome>();
    signal?.throwIfAborted();
    const stampNow = actions.filter((a) => !held.has(workloadId(a.workload)));
    const executed = [
      ...(await executePlan(stampNow, changes, { ...this.opts, now: this.now })),
      ...actions.flatMap((action) => {
        const outcome = held.get(workloadId(action.workload));
        return outcome ? [{ action, outcome }] : [];
      }),
    ];
    signal?.throwIfAborted();
    const { done, reports } = summariseBatch({ changes, matches, unlisted, executed, incomplete, completionTime: this.now().toISOString(), dryRun: this.opts.dryRun });
    await writeReports(reports, this.opts);
    return done;
  }

  /**
   * A change whose version could not be settled (no answer from DescribeSecret, none in
   * the event) is unfinished, unless nothing names its secret: then no version is needed
   * (Secrets Manager not knowing a secret nobody maps, e.g. one deleted since, must not
   * keep its message going round until the DLQ).
   */
  private unsettled(a: AdmittedChange, found: readonly Mapping[] | undefined): ChangeOutcome {
    if (found?.length === 0) {
      noneNamed(a, this.opts);
      return 'done';
    }
    this.opts.log.warn('the event names no version and Secrets Manager could not say which is current; message left for redelivery', { messageId: a.changeId, eventId: a.change.eventId, secret: a.change.secret.raw });
    return 'unfinished';
  }
}
