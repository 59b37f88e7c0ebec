/**
 * Keeps each mapping's status true: Ready (spec valid and indexed), the secret it
 * names, how many workloads it selects, and the version baseline for drift recovery
 * (a new mapping records the secret's current version and restarts nothing).
 * Also the rotation record the rotator writes after each batch. Leader only.
 */
import type { Fence, Term } from '../leader/fence';
import { errorMessage, type Logger } from '../core/log';
import type { RotationStatusPort } from './ports';
import type { SecretDescriber } from '../secrets/describer';
import { inOwnRegion } from '../secrets/secretId';
import type { WorkloadKind } from '../workloads/workload';
import type { WorkloadCensus } from './census';
import { READY, ROTATION_SUCCEEDED, findCondition, setCondition } from './conditions';
import { appliedVersionOf, formatFieldErrors, normaliseMapping, type Mapping, type RotationRecord, type SecretsRotationMapping, type SecretsRotationMappingStatus, type SecretsRotationMappingStatusPatch } from './model';
import type { StatusWriter } from './statusWriter';
import type { MappingWatcher } from './watcher';

const RETRY_MS = 5_000;

export class StatusReconciler implements RotationStatusPort {
  private readonly queued = new Set<string>();
  /** Keys being reconciled now: a key is never reconciled twice at once. */
  private readonly inProgress = new Set<string>();
  private workers = 0;
  private active = false;
  private term?: Term;
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly opts: {
      /** The mappings as last seen. */
      watcher: Pick<MappingWatcher, 'keys' | 'object'>;
      /** Writes their status (the watcher's StatusWriter, statusWriter.ts). */
      writer: Pick<StatusWriter, 'patchStatus'>;
      /** Counts the workloads a mapping selects (mappings/census.ts). */
      census: Pick<WorkloadCensus, 'count'>;
      describer?: SecretDescriber;
      region: string;
      log: Logger;
      now?: () => Date;
      /**
       * Mappings reconciled at once (default 1). Each waits on the API server and AWS;
       * their requests are bounded by the clients' own limiter.
       */
      concurrency?: number;
      /** Told how many mappings wait for a status write, whenever that changes. */
      onBacklog?: (waiting: number) => void;
      /** Reconciles run as work of the term they were activated for. */
      fence?: Fence;
      /** The workload kinds the operator serves (mappings/model.ts normaliseMapping). */
      kinds?: readonly WorkloadKind[];
    },
  ) {}

  private reportBacklog(): void {
    this.opts.onBacklog?.(this.queued.size + this.inProgress.size);
  }

  private now(): Date {
    return this.opts.now ? this.opts.now() : new Date();
  }

  /** Starts writing status (this replica leads) and reconciles every mapping whose status is behind. */
  activate(term?: Term): void {
    this.active = true;
    this.term = term;
    for (const key of this.opts.watcher.keys()) this.enqueueIfBehind(key);
  }

  /** Reconciles the mapping only if its status does not reflect its spec yet. */
  enqueueIfBehind(key: string): void {
    if (!statusIsCurrent(this.opts.watcher.object(key))) this.enqueue(key);
  }

  deactivate(): void {
    this.active = false;
    this.term = undefined;
    this.queued.clear();
    this.reportBacklog();
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
  }

  enqueue(key: string): void {
    if (!this.active) return;
    this.queued.add(key);
    this.reportBacklog();
    const concurrency = Math.max(1, this.opts.concurrency ?? 1);
    while (this.workers < Math.min(concurrency, this.queued.size)) {
      this.workers++;
      const term = this.term;
      const work = term && this.opts.fence ? this.opts.fence.run(term, () => this.work()) : this.work();
      void work.finally(() => this.workers--);
    }
  }

  /** The next queued key not already being reconciled. */
  private take(): string | undefined {
    for (const key of this.queued) {
      if (this.inProgress.has(key)) continue;
      this.queued.delete(key);
      this.inProgress.add(key);
      return key;
    }
    return undefined;
  }

  private async work(): Promise<void> {
    for (let key = this.take(); key !== undefined && this.active; key = this.take()) {
      let ok = false;
      try {
        ok = await this.reconcile(key);
      } catch (err) {
        this.opts.log.warn('status reconcile failed', { mapping: key, error: errorMessage(err) });
      }
      this.inProgress.delete(key);
      this.reportBacklog();
      if (!ok) {
        const t = setTimeout(() => {
          this.retryTimers.delete(t);
          this.enqueue(key);
        }, RETRY_MS);
        t.unref();
        this.retryTimers.add(t);
      }
    }
  }

  /** Returns false when it should be retried. */
  async reconcile(key: string): Promise<boolean> {
    const obj = this.opts.watcher.object(key);
    if (!obj) return true;
    const generation = obj.metadata.generation;
    const n = normaliseMapping(obj, this.opts.kinds);
    const now = this.now();
    if (!n.ok) {
      return this.opts.writer.patchStatus(key, (cur) => {
        const conditions = setCondition(cur.conditions, { type: READY, status: 'False', reason: 'InvalidSpec', message: formatFieldErrors(n.errors), observedGeneration: generation }, now);
        return changed(cur, { observedGeneration: generation, conditions });
      });
    }
    const m = n.mapping;
    const matched = await this.opts.census.count(m);
    // A baseline recorded for another secret (spec.secretId changed) says nothing about this one.
    const applied = appliedVersionOf(obj.status, m.secret.raw);
    let baseline: string | undefined;
    if (!applied && this.opts.describer && inOwnRegion(this.opts.region, m.secret.region)) {
      try {
        baseline = (await this.opts.describer.describe(m.secret.raw)).currentVersion;
      } catch (err) {
        this.opts.log.warn('could not record the secret version for drift recovery', { mapping: key, secret: m.secret.raw, error: errorMessage(err) });
      }
    }
    const message = `secret ${m.secret.raw} selects ${matched} workload(s)`;
    return this.opts.writer.patchStatus(key, (cur) => {
      const conditions = setCondition(cur.conditions, { type: READY, status: 'True', reason: 'Indexed', message, observedGeneration: generation }, now);
      const current = appliedVersionOf(cur, m.secret.raw);
      return changed(cur, {
        observedGeneration: generation,
        secretId: m.secret.raw,
        matchedWorkloads: matched,
        conditions,
        // null removes another secret's version (merge patch) when none is known for this one yet.
        ...(current ? {} : baseline ? { appliedVersion: baseline } : cur.appliedVersion ? { appliedVersion: null } : {}),
      });
    });
  }

  async recordRotation(mapping: Mapping, record: RotationRecord, succeeded: boolean, reason: string, message: string, appliedVersion?: string): Promise<void> {
    const now = this.now();
    const ok = await this.opts.writer.patchStatus(mapping.key, (cur) => ({
      lastRotation: record,
      conditions: setCondition(cur.conditions, { type: ROTATION_SUCCEEDED, status: succeeded ? 'True' : 'False', reason, message, observedGeneration: mapping.generation }, now),
      ...(appliedVersion ? { appliedVersion, secretId: mapping.secret.raw } : {}),
    }));
    if (!ok) throw new Error(`status of ${mapping.key} could not be written`);
  }

  /**
   * The drift baseline: records the version without restarting anything. A mapping
   * waiting for its own reconcile is left to it, which records a baseline with the rest
   * of its status: on a first start drift and the reconciler would otherwise both write
   * every mapping, and race each other's writes.
   */
  async recordBaseline(mapping: Mapping, version: string): Promise<boolean> {
    if (this.queued.has(mapping.key) || this.inProgress.has(mapping.key)) return true;
    // Only where none is recorded, judged on the status as it is when written: drift saw
    // the mapping unrecorded when its pass began, and `version` is what the secret held when
    // its listing answered. Replacing a baseline recorded meanwhile with a newer version
    // would mark the workloads as running it without restarting them: the changes between
    // the two would be lost (bench D: 24 of 100 workloads left on an older version).
    return this.opts.writer.patchStatus(mapping.key, (cur) => (appliedVersionOf(cur, mapping.secret.raw) !== undefined ? undefined : { appliedVersion: version, secretId: mapping.secret.raw }));
  }
}

/** Only what differs from the current status; undefined when nothing does. */
function changed(cur: SecretsRotationMappingStatus, next: SecretsRotationMappingStatusPatch): SecretsRotationMappingStatusPatch | undefined {
  const diff = Object.fromEntries(Object.entries(next).filter(([k, v]) => JSON.stringify(cur[k as keyof SecretsRotationMappingStatus]) !== JSON.stringify(v)));
  if (Object.keys(diff).length === 0) return undefined;
  // Conditions are a list: a merge patch replaces it whole, so always send the full list.
  return diff;
}

/**
 * Whether the status already reflects the spec (observed generation, Ready decided, and
 * when Ready a baseline version), so reconciling would write nothing. Pure. Resyncs and
 * a new leader reconcile only mappings for which this is false: ten thousand current
 * mappings cost no requests.
 */
export function statusIsCurrent(obj: Pick<SecretsRotationMapping, 'metadata' | 'status'> | undefined): boolean {
  if (!obj) return true;
  const st = obj.status;
  const generation = obj.metadata.generation;
  const ready = findCondition(st?.conditions, READY);
  if (st?.observedGeneration !== generation || !ready || ready.observedGeneration !== generation) return false;
  return ready.status !== 'True' || Boolean(st?.appliedVersion);
}
