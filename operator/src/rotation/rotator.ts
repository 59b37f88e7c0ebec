/**
 * Executes rotations: interpret each message, settle the target version, find the
 * mappings and their workloads, plan, patch with bounded concurrency, then write
 * status and Events. Returns what should happen to each message: deleted only when
 * every restart it asked for is done; left for redelivery otherwise; malformed ones
 * go back to the queue at once so its redrive policy moves them to the dead-letter queue.
 * Each message is interpreted on its own: one that cannot be understood never fails
 * its neighbours. A batch given an AbortSignal stops between steps once it is aborted
 * (this replica stopped leading); the fence refuses its writes in any case.
 */
import { interpretMessage, type SecretChange } from '../events/interpret';
import { errorMessage, type Logger } from '../log';
import type { MappingIndex } from '../mappings/mappingIndex';
import { selectorToQuery, type Mapping, type WorkloadRecord, type WorkloadResult } from '../mappings/model';
import type { Metrics } from '../metrics';
import type { SecretDescriber } from '../secrets/describer';
import { canonicalSecretKey, resolvedSecretRef } from '../secrets/secretId';
import type { WorkloadClient } from '../workloads/adapters';
import { planRestarts, type Match, type ResolvedChange, type WorkloadAction } from './plan';
import { workloadId, type WorkloadState } from '../workloads/workload';
import type { Disposition, EventPort, InboundMessage, RotationStatusPort } from './ports';
import { summariseRotation } from './summary';

export interface RotatorOptions {
  readonly index: MappingIndex;
  readonly workloads: Pick<WorkloadClient, 'list' | 'restart'>;
  readonly describer?: SecretDescriber;
  readonly status: RotationStatusPort;
  readonly events: EventPort;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly region: string;
  readonly dryRun: boolean;
  readonly allowedAccountIds: readonly string[];
  readonly allowedRegions: readonly string[];
  readonly now?: () => Date;
}

interface Outcome {
  readonly result: WorkloadResult;
  readonly reason?: string;
}

/** When a cause's message entered the queue and when its event happened (ms; NaN when unknown). */
interface Timing {
  readonly sentAt: number;
  readonly eventAt: number;
}

export class Rotator {
  private readonly now: () => Date;

  /**
   * Every request goes through the ports, all at once: the ports bound how many are in
   * flight (main.ts gives them one shared Limiter).
   */
  constructor(private readonly o: RotatorOptions) {
    this.now = o.now ?? (() => new Date());
  }

  async handleBatch(messages: readonly InboundMessage[], signal?: AbortSignal): Promise<Map<string, Disposition>> {
    const dispositions = new Map<string, Disposition>();
    const changes: { messageId: string; change: SecretChange }[] = [];
    for (const m of messages) {
      this.o.metrics.messagesReceived.inc();
      try {
        const a = this.admit(m);
        if (a.change) changes.push({ messageId: m.id, change: a.change });
        else dispositions.set(m.id, a.disposition);
      } catch (err) {
        // interpretMessage never throws; this is the last line of defence for one message.
        this.o.metrics.messagesMalformed.inc({ code: 'Unexpected' });
        this.o.log.error('message could not be handled; left for the dead-letter queue', { messageId: m.id, error: errorMessage(err) });
        dispositions.set(m.id, 'dead-letter');
      }
    }
    signal?.throwIfAborted();
    const resolved = await this.resolveAll(changes);
    for (const u of resolved.unresolved) dispositions.set(u, 'retry');
    signal?.throwIfAborted();
    const sentAt = new Map(messages.filter((m) => m.sentAt !== undefined).map((m) => [m.id, m.sentAt!]));
    for (const [messageId, ok] of await this.rotate(resolved.changes, sentAt, signal)) dispositions.set(messageId, ok ? 'delete' : 'retry');
    return dispositions;
  }

  /** Interprets one message and applies the allow-list: the change to act on, or what to do with the message. */
  private admit(m: InboundMessage): { change: SecretChange; disposition?: undefined } | { change?: undefined; disposition: Disposition } {
    const meaning = interpretMessage(m.body);
    if (meaning.type === 'parse-error') {
      this.o.metrics.messagesMalformed.inc({ code: meaning.error.code });
      this.o.log.warn('malformed message left for the dead-letter queue', {
        messageId: m.id,
        eventId: meaning.error.eventId,
        code: meaning.error.code,
        error: meaning.error.message,
        bytes: Buffer.byteLength(m.body, 'utf8'),
        receiveCount: m.receiveCount,
      });
      return { disposition: 'dead-letter' };
    }
    if (meaning.type === 'not-a-change') {
      const n = meaning.notAChange;
      this.o.metrics.messagesIgnored.inc({ reason: n.reason });
      this.o.log.info('event does not change a secret; acknowledged', { messageId: m.id, eventId: n.eventId, secret: n.secretId, reason: n.reason, detail: n.message });
      return { disposition: 'delete' };
    }
    if (!this.allowed(meaning.change)) {
      const c = meaning.change;
      this.o.metrics.messagesIgnored.inc({ reason: 'NotAllowed' });
      this.o.log.warn('event from an account or region outside the allow-list; ignored', {
        messageId: m.id,
        eventId: c.eventId,
        secret: c.secret.raw,
        account: c.account ?? c.secret.account,
        region: c.region ?? c.secret.region,
      });
      return { disposition: 'delete' };
    }
    return { change: meaning.change };
  }

  /**
   * Rolls what `changes` call for; returns per message whether all its work is done.
   * `sentAt`: when each change's message entered the queue, for the latency metric.
   */
  async rotate(changes: readonly ResolvedChange[], sentAt: ReadonlyMap<string, number> = new Map(), signal?: AbortSignal): Promise<Map<string, boolean>> {
    const done = new Map<string, boolean>(changes.map((c) => [c.messageId, true]));
    const found = changes.map((change) => ({ change, mappings: this.lookup(change) }));
    // Every mapping's workloads are listed once per batch.
    const listings = new Map<string, Promise<WorkloadState[]>>();
    for (const { mappings } of found) {
      for (const m of mappings) if (!listings.has(m.key)) listings.set(m.key, this.listWorkloads(m));
    }
    await Promise.allSettled(listings.values());
    const matches: Match[] = [];
    for (const { change, mappings } of found) {
      for (const mapping of mappings) {
        try {
          matches.push({ change, mapping, workloads: await listings.get(mapping.key)! });
        } catch (err) {
          done.set(change.messageId, false);
          this.o.log.error('listing workloads failed; message left for redelivery', { messageId: change.messageId, eventId: change.change.eventId, secret: change.secretKey, mapping: mapping.key, error: errorMessage(err) });
        }
      }
    }
    signal?.throwIfAborted();

    const actions = planRestarts(matches);
    const timing = new Map<string, Timing>(changes.map((c) => [c.messageId, { sentAt: sentAt.get(c.messageId) ?? NaN, eventAt: Date.parse(c.change.eventTime ?? '') }]));
    const outcomes = new Map<string, Outcome>();
    await Promise.all(actions.map(async (a) => outcomes.set(workloadId(a.workload), await this.execute(a, timing))));
    for (const a of actions) {
      if (outcomes.get(workloadId(a.workload))?.result === 'Failed') for (const c of a.causes) done.set(c.messageId, false);
    }
    signal?.throwIfAborted();
    await this.report(matches, actions, outcomes);
    return done;
  }

  private lookup(change: ResolvedChange): readonly Mapping[] {
    const t0 = process.hrtime.bigint();
    const mappings = this.o.index.lookup(change.change.secret);
    this.o.metrics.matchSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    if (mappings.length === 0) {
      this.o.metrics.messagesIgnored.inc({ reason: 'NoMapping' });
      this.o.log.info('no mapping names this secret; acknowledged', { messageId: change.messageId, eventId: change.change.eventId, secret: change.secretKey, version: change.version });
    }
    return mappings;
  }

  private allowed(c: SecretChange): boolean {
    const accounts = this.o.allowedAccountIds;
    const regions = this.o.allowedRegions;
    const account = [c.account, c.secret.account];
    const region = [c.region, c.secret.region];
    // With an allow-list, an event must name an account (region) and every one it names must be listed.
    const within = (list: readonly string[], named: (string | undefined)[]) =>
      list.length === 0 || (named.some((v) => v !== undefined) && named.every((v) => v === undefined || list.includes(v)));
    return within(accounts, account) && within(regions, region);
  }

  /**
   * Settles each distinct secret once per batch with DescribeSecret: its exact ARN and
   * name (so ambiguous ids match precisely) and the AWSCURRENT version, which is what
   * restarted pods will read. Without an answer, the event's own version is used; an
   * event that names no version (RotationSucceeded) is then left for redelivery: a made-up
   * version would restart again when the same version's other event arrives.
   */
  private async resolveAll(changes: readonly { messageId: string; change: SecretChange }[]): Promise<{ changes: ResolvedChange[]; unresolved: string[] }> {
    const described = new Map<string, Promise<{ arn: string; name: string; currentVersion?: string } | undefined>>();
    const describe = (c: SecretChange) => {
      const inRegion = (c.secret.region ?? c.region ?? this.o.region) === this.o.region;
      if (!this.o.describer || !inRegion) return Promise.resolve(undefined);
      let p = described.get(c.secret.raw);
      if (!p) {
        p = this.o.describer.describe(c.secret.raw).catch((err) => {
          this.o.log.warn('DescribeSecret failed; using the event as it is', { eventId: c.eventId, secret: c.secret.raw, error: errorMessage(err) });
          return undefined;
        });
        described.set(c.secret.raw, p);
      }
      return p;
    };
    const settled = await Promise.all(
      changes.map(async ({ messageId, change }) => {
        const d = await describe(change);
        const secret = d ? resolvedSecretRef(d.arn, d.name) : change.secret;
        const version = d?.currentVersion ?? change.versionId;
        if (!version) {
          this.o.log.warn('the event names no version and Secrets Manager could not say which is current; message left for redelivery', { messageId, eventId: change.eventId, secret: change.secret.raw });
          return { messageId };
        }
        return { messageId, resolved: { messageId, change: { ...change, secret }, secretKey: canonicalSecretKey(secret), version } };
      }),
    );
    return {
      changes: settled.flatMap((s) => (s.resolved ? [s.resolved] : [])),
      unresolved: settled.filter((s) => !s.resolved).map((s) => s.messageId),
    };
  }

  private async listWorkloads(mapping: Mapping): Promise<WorkloadState[]> {
    const selector = selectorToQuery(mapping.selector);
    const lists = await Promise.all(mapping.workloadKinds.map((kind) => this.o.workloads.list(kind, mapping.namespace, selector)));
    return lists.flat();
  }

  private async execute(a: WorkloadAction, timing: ReadonlyMap<string, Timing>): Promise<Outcome> {
    const w = a.workload;
    const fields = {
      workload: workloadId(w),
      mapping: [...new Set(a.causes.map((c) => c.mappingKey))].join(','),
      eventId: [...new Set(a.causes.map((c) => c.eventId))].join(','),
      secret: Object.keys(a.versions).join(','),
      version: Object.values(a.versions).join(','),
    };
    if (a.decision === 'skip') {
      this.o.metrics.restarts.inc({ kind: w.kind, result: 'skipped' });
      this.o.log.info('workload skipped', { ...fields, reason: a.reason });
      return { result: 'Skipped', reason: a.reason };
    }
    if (this.o.dryRun) {
      this.o.metrics.restarts.inc({ kind: w.kind, result: 'dry_run' });
      this.o.log.info('dry run: would restart workload', fields);
      return { result: 'WouldRestart', reason: 'DryRun' };
    }
    let rollout;
    try {
      const r = await this.o.workloads.restart({ ...w, appliedVersions: a.applied, rollout: a.rollout, ...(a.resourceVersion ? { resourceVersion: a.resourceVersion } : {}) }, a.versions, this.now());
      if (!r.patched) {
        this.o.metrics.restarts.inc({ kind: w.kind, result: 'skipped' });
        this.o.log.info('workload skipped', { ...fields, reason: 'AlreadyAtVersion' });
        return { result: 'Skipped', reason: 'AlreadyAtVersion' };
      }
      rollout = r.rollout;
    } catch (err) {
      this.o.metrics.restarts.inc({ kind: w.kind, result: 'failed' });
      this.o.log.error('workload restart failed', { ...fields, error: errorMessage(err) });
      return { result: 'Failed', reason: errorMessage(err) };
    }
    const now = this.now().getTime();
    const since = (pick: (t: Timing) => number) => {
      const earliest = Math.min(...a.causes.map((c) => pick(timing.get(c.messageId) ?? { sentAt: NaN, eventAt: NaN })).filter((t) => !Number.isNaN(t)));
      return Number.isFinite(earliest) ? Math.max(0, (now - earliest) / 1000) : undefined;
    };
    const fromEvent = since((t) => t.eventAt);
    const fromQueue = since((t) => t.sentAt);
    if (fromEvent !== undefined) this.o.metrics.eventToRestartSeconds.observe(fromEvent);
    if (fromQueue !== undefined) this.o.metrics.queueToRestartSeconds.observe(fromQueue);
    if (rollout === 'Paused') {
      this.o.metrics.restarts.inc({ kind: w.kind, result: 'deferred' });
      this.o.log.info('paused workload stamped; it rolls when resumed', fields);
      return { result: 'Deferred', reason: 'Paused' };
    }
    if (rollout === 'OnDelete') {
      this.o.metrics.restarts.inc({ kind: w.kind, result: 'pending' });
      this.o.log.info('OnDelete workload stamped; each pod takes the new version when it is deleted', fields);
      return { result: 'Pending', reason: 'OnDelete' };
    }
    this.o.metrics.restarts.inc({ kind: w.kind, result: 'restarted' });
    this.o.log.info('workload restarted', fields);
    return { result: 'Restarted' };
  }

  /**
   * One status update and one Event per mapping the batch moved to a new version,
   * including one that selects no workload (its baseline still advances, or drift
   * would find it behind forever).
   */
  private async report(matches: readonly Match[], actions: readonly WorkloadAction[], outcomes: ReadonlyMap<string, Outcome>): Promise<void> {
    const byMapping = new Map<string, { mapping: Mapping; change: ResolvedChange }>();
    for (const m of matches) {
      const prev = byMapping.get(m.mapping.key);
      if (!prev || Date.parse(m.change.change.eventTime ?? '') >= Date.parse(prev.change.change.eventTime ?? '')) byMapping.set(m.mapping.key, m);
    }
    const completionTime = this.now().toISOString();
    await Promise.all(
      [...byMapping.values()].map(async ({ mapping, change }) => {
        const mine = actions.filter((a) => a.causes.some((c) => c.mappingKey === mapping.key));
        // Already recorded (a redelivery): nothing to say.
        if (mine.length === 0 && mapping.appliedVersion === change.version) return;
        const workloads: WorkloadRecord[] = mine.map((a) => {
          const o = outcomes.get(workloadId(a.workload))!;
          return { kind: a.workload.kind, name: a.workload.name, result: o.result, ...(o.reason ? { reason: o.reason } : {}) };
        });
        const s = summariseRotation({ secretKey: change.secretKey, version: change.version, eventId: change.change.eventId, eventTime: change.change.eventTime }, workloads, completionTime, this.o.dryRun);
        const log = { mapping: mapping.key, eventId: change.change.eventId, secret: change.secretKey, version: change.version };
        try {
          await this.o.status.recordRotation(mapping, s.record, s.succeeded, s.conditionReason, s.message, s.succeeded && !this.o.dryRun ? change.version : undefined);
        } catch (err) {
          this.o.log.warn('writing rotation status failed', { ...log, error: errorMessage(err) });
        }
        try {
          await this.o.events.record(mapping, s.succeeded ? 'Normal' : 'Warning', s.eventReason, s.message);
        } catch (err) {
          this.o.log.warn('recording the Event failed', { ...log, error: errorMessage(err) });
        }
        this.o.log.info('rotation handled', { ...log, result: s.eventReason, summary: s.record.summary, workloads: s.message });
      }),
    );
  }
}
