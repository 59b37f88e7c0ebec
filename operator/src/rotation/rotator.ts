/**
 * Executes rotations as one short I/O sequence over pure steps, for changes the queue
 * (sqs/intake.ts) interpreted and admitted: resolve (DescribeSecret, while the workloads
 * are listed) → plan → execute (patch, bounded by the ports' limiter) → summarise →
 * write status and Events. Returns what became of each change: done only when every
 * restart it asked for is done. A batch given an AbortSignal stops between steps once it
 * is aborted (this replica stopped leading); the fence refuses its writes in any case.
 */
import { errorMessage, type Logger } from '../log';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping } from '../mappings/model';
import type { Metrics } from '../metrics';
import type { SecretDescriber } from '../secrets/describer';
import type { WorkloadClient } from '../workloads/adapters';
import { BatchReads } from './batch';
import { executePlan } from './execute';
import { listMatches } from './matches';
import { planRestarts, settleChange, type ResolvedChange } from './plan';
import type { DiscoveryPort, EventPort, RotationStatusPort } from '../mappings/ports';
import type { AdmittedChange, ChangeOutcome } from './ports';
import type { RotationNotifier } from './notifier';
import { writeReports } from './report';
import { summariseBatch } from './summary';

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

  async handle(admitted: readonly AdmittedChange[], signal?: AbortSignal): Promise<Map<string, ChangeOutcome>> {
    const outcomes = new Map<string, ChangeOutcome>();
    const reads = this.batchReads();
    reads.listEarly(admitted.flatMap((a) => this.opts.index.lookup(a.change.secret)));
    const { resolved, unresolved } = await this.resolve(admitted, reads);
    for (const a of unresolved) outcomes.set(a.changeId, await this.unresolvedOutcome(a));
    signal?.throwIfAborted();
    for (const [id, ok] of await this.rotate(resolved, signal, reads)) outcomes.set(id, ok ? 'done' : 'unfinished');
    return outcomes;
  }

  /**
   * Rolls what `changes` call for; returns per change id whether all its work is done.
   * `reads`: what the batch has read already (workload listings under way).
   */
  async rotate(changes: readonly ResolvedChange[], signal?: AbortSignal, reads = this.batchReads()): Promise<Map<string, boolean>> {
    const looked = await Promise.all(changes.map(async (change) => ({ change, ...(await this.lookup(change)) })));
    const { matches, unlisted, incomplete } = await listMatches(
      looked.filter((l) => l.mappings !== undefined).map((l) => ({ change: l.change, mappings: l.mappings! })),
      reads,
      this.opts.log,
      signal,
    );
    unlisted.push(...looked.filter((l) => l.mappings === undefined).map((l) => l.change.changeId));
    signal?.throwIfAborted();
    const actions = planRestarts(matches);
    const executed = await executePlan(actions, changes, { ...this.opts, now: this.now });
    signal?.throwIfAborted();
    const { done, reports } = summariseBatch({ changes, matches, unlisted, executed, incomplete, completionTime: this.now().toISOString(), dryRun: this.opts.dryRun });
    await writeReports(reports, this.opts);
    return done;
  }

  /**
   * Settles each distinct secret once per batch with DescribeSecret (settleChange says
   * how); a secret outside our own region is taken as the event names it. Without an
   * answer and without a version in the event, the change is unresolved (see
   * unresolvedOutcome).
   */
  private async resolve(admitted: readonly AdmittedChange[], reads: BatchReads): Promise<{ resolved: ResolvedChange[]; unresolved: AdmittedChange[] }> {
    const settled = await Promise.all(admitted.map(async (a) => ({ admitted: a, resolved: settleChange(a, await reads.describe(a.change)) })));
    return {
      resolved: settled.flatMap((s) => (s.resolved ? [s.resolved] : [])),
      unresolved: settled.filter((s) => !s.resolved).map((s) => s.admitted),
    };
  }

  /**
   * A change whose version could not be settled is unfinished, unless nothing names its
   * secret: then no version is needed (Secrets Manager not knowing a secret nobody maps,
   * e.g. one deleted since, must not keep its message going round until the DLQ).
   */
  private async unresolvedOutcome(a: AdmittedChange): Promise<ChangeOutcome> {
    const { log } = this.opts;
    const c = a.change;
    const fields = { messageId: a.changeId, eventId: c.eventId, secret: c.secret.raw };
    const named = await this.lookup({ changeId: a.changeId, change: c, secretKey: c.secret.raw });
    if (named.mappings?.length === 0) return 'done';
    log.warn('the event names no version and Secrets Manager could not say which is current; message left for redelivery', fields);
    return 'unfinished';
  }

  /**
   * The mappings naming the change's secret, then the sources discovery found (mappings
   * first: a workload both reach is reported under its mapping). Undefined when discovery
   * could not list them: the change is retried rather than taken as naming nothing.
   */
  private async lookup(change: Pick<ResolvedChange, 'changeId' | 'change' | 'secretKey'> & { readonly version?: string }): Promise<{ mappings?: readonly Mapping[] }> {
    const { index, discovery, metrics, log } = this.opts;
    const t0 = process.hrtime.bigint();
    const mappings = index.lookup(change.change.secret);
    metrics.matchSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    let discovered: readonly Mapping[] = [];
    if (discovery) {
      try {
        discovered = await discovery.lookup(change.change.secret);
      } catch (err) {
        log.error('listing discovered ExternalSecrets / SecretProviderClasses failed; message left for redelivery', { messageId: change.changeId, eventId: change.change.eventId, secret: change.secretKey, error: errorMessage(err) });
        return {};
      }
    }
    if (mappings.length + discovered.length === 0) {
      metrics.messagesIgnored.inc({ reason: 'NoMapping' });
      log.info(discovery ? 'no mapping, ExternalSecret or SecretProviderClass names this secret; acknowledged' : 'no mapping names this secret; acknowledged', { messageId: change.changeId, eventId: change.change.eventId, secret: change.secretKey, version: change.version });
    }
    return { mappings: [...mappings, ...discovered] };
  }
}
