/**
 * Rollouts, the shell (docs/rollouts.md). A change the rotation has settled becomes a
 * record in its mapping's status.rollout before anything is stamped (`gateActions`, from
 * the rotator): the workloads the engine lets through now are stamped by the rotation as
 * before, the others are reported Deferred and the message may be acknowledged, since the
 * record now holds the intent. A level-triggered loop (`tick`: leader only, on the rotation
 * lane, fenced like every write) then advances each record from what the workloads say now:
 * persist the engine's next record, then stamp what it names, through the same execute path.
 * A crash or hand-off anywhere resumes from the last persisted record; the pod template's
 * versions stay the idempotency key. Discovered sources have no status: they roll at once,
 * as before (docs/rollouts-wiring-status.md). Pure parts: rollout/engine.ts, rolloutState.ts.
 */
import { backoffMs } from '../core/backoff';
import { errorMessage, type Logger } from '../core/log';
import { setCondition } from '../mappings/conditions';
import { mappingEventTarget } from '../mappings/events';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping, SecretsRotationMapping } from '../mappings/model';
import type { EventPort } from '../mappings/ports';
import { listSelectedWorkloads } from '../mappings/selected';
import type { StatusWriter } from '../mappings/statusWriter';
import type { Metrics } from '../core/metrics';
import { admitChange, decide, type Decision, type RolloutRecord } from '../rollout/engine';
import type { WorkloadClient } from '../workloads/adapters';
import type { ListPods } from '../workloads/pods';
import { workloadId, type WorkloadState } from '../workloads/workload';
import { executeAction } from './execute';
import { withPodHealth } from './podHealth';
import { newerChange, type Match, type ResolvedChange, type WorkloadAction } from './plan';
import { active, carries, haltedCondition, observeAll, preferredCanaries, readRecord, requestsOf, resolvePolicy, rolling, rolloutId, rolloutPatch, type ChartPolicy } from './rolloutState';
import type { RotationNotifier } from './notifier';
import type { Outcome } from './summary';

export interface RolloutsOptions {
  /** The mappings as last seen or written (the watcher's cache): spec, annotations, status.rollout. */
  readonly mappings: { keys(): string[]; object(key: string): SecretsRotationMapping | undefined };
  readonly index: Pick<MappingIndex, 'get'>;
  /** Writes status.rollout (the watcher's StatusWriter: fenced, one write at a time per mapping). */
  readonly writer: Pick<StatusWriter, 'patchStatus'>;
  readonly workloads: Pick<WorkloadClient, 'list' | 'restart'>;
  readonly events: EventPort;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly chart: ChartPolicy;
  /** Reads a rolling workload's pods for a crash loop (podHealth.ts); absent (rollouts.detectCrashLoop off): only the health deadline. */
  readonly pods?: ListPods;
  /** Told when a rollout halts (notify/webhook.ts). */
  readonly notifier?: Pick<RotationNotifier, 'rolloutHalted'>;
  readonly now?: () => Date;
}

/** What a rollout lets the rotation do now: stamp these (record ids), report the rest as waiting; or nothing, the record not written. */
export type Verdict = { readonly stamp: ReadonlySet<string>; readonly waiting: string } | { readonly error: string };

/** A stamp the API server refused is tried again after this backoff (core/backoff.ts), not at every pass. */
const RESTAMP_BASE_MS = 2_000;
const RESTAMP_CAP_MS = 60_000;

export class Rollouts {
  private readonly now: () => Date;
  /** Per mapping and workload: refused stamps in a row, and when the next may be sent. In memory: a new leader tries at once. */
  private readonly refused = new Map<string, { failures: number; retryAt: number }>();

  constructor(private readonly opts: RolloutsOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * A settled change reaching `ids` of the mapping's workloads (those not at its version):
   * joins or starts the mapping's rollout, persists its first step, and says which may be
   * stamped now. A change the record already carries (a redelivery, drift) starts nothing new.
   */
  async admit(mapping: Mapping, change: ResolvedChange, listed: readonly WorkloadState[], ids: readonly string[]): Promise<Verdict> {
    const obj = this.opts.mappings.object(mapping.key);
    if (!obj) return { error: 'the mapping is gone' };
    const versions = { [change.secretKey]: change.version };
    const current = readRecord(obj.status?.rollout);
    try {
      if (carries(current, versions) && current.phase === 'Abandoned') return { stamp: new Set(), waiting: 'rollout Abandoned: nothing more is restarted for this version' };
      const policy = resolvePolicy(obj.spec, this.opts.chart);
      // The rollout of these versions already holds these workloads: nothing to admit.
      const known = carries(current, versions) && active(current) && ids.every((id) => current.workloads.includes(id));
      const record = known ? current : admitChange(current, { versions, workloads: ids, preferredCanaries: preferredCanaries(obj.spec, listed) }, policy, this.now());
      // A new rollout is not the previous one moving on: what changed is said of it afresh.
      const d = await this.step(mapping, obj, record, listed, record === current || record.since === current?.since ? current : undefined, change.change.eventId, this.rollingElsewhere(mapping.key));
      // Short: it is the reason of each held workload in status.lastRotation (up to 100 entries), which stays well under its cap.
      return { stamp: new Set(d.stamp), waiting: `held by the rollout (${d.summary}${d.record.reason ? `, ${d.record.reason}` : ''})` };
    } catch (err) {
      this.opts.log.warn('rollout not recorded; the change is retried', { mapping: mapping.key, eventId: change.change.eventId, secret: change.secretKey, version: change.version, error: errorMessage(err) });
      return { error: `rollout not recorded: ${errorMessage(err)}` };
    }
  }

  /**
   * One pass of the loop: every rollout in progress, one mapping at a time. The records are
   * read once per pass; the cluster-wide ceiling counts the others' rolling workloads as
   * their last step left them.
   */
  async tick(signal?: AbortSignal): Promise<void> {
    const inProgress = new Map<string, RolloutRecord>();
    for (const key of this.opts.mappings.keys()) {
      const record = readRecord(this.opts.mappings.object(key)?.status?.rollout);
      if (active(record)) inProgress.set(key, record);
    }
    let rollingAll = [...inProgress.values()].reduce((n, r) => n + rolling(r), 0);
    for (const [key, record] of inProgress) {
      signal?.throwIfAborted();
      const obj = this.opts.mappings.object(key);
      const mapping = this.opts.index.get(key);
      if (!obj || !mapping) continue;
      try {
        const selected = await listSelectedWorkloads(this.opts.workloads, mapping);
        const listed = this.opts.pods ? await withPodHealth(selected, record, this.opts.pods, this.opts.log, key) : selected;
        signal?.throwIfAborted();
        const d = await this.step(mapping, obj, record, listed, record, obj.status?.lastRotation?.eventId ?? '', rollingAll - rolling(record));
        rollingAll += rolling(d.record) - rolling(record);
        await this.stamp(mapping, obj, d, listed);
      } catch (err) {
        if (signal?.aborted) throw err;
        this.opts.log.warn('rollout step failed; the next pass retries it', { mapping: key, secret: mapping.secret.raw, error: errorMessage(err) });
      }
    }
    this.gauges();
  }

  /** decide, then persist what it returns (only when something changed), then tell: Events, metrics, log. Throws when the record is not written. */
  private async step(
    mapping: Mapping,
    obj: SecretsRotationMapping,
    record: RolloutRecord,
    listed: readonly WorkloadState[],
    previous: RolloutRecord | undefined,
    eventId: string,
    /** Workloads of the other mappings' rollouts rolling now, against the chart's ceiling. */
    rollingElsewhere: number,
  ): Promise<Decision> {
    const { writer, events, metrics, log, chart } = this.opts;
    const now = this.now();
    const policy = resolvePolicy(obj.spec, chart);
    const d = decide(
      record,
      policy,
      { workloads: observeAll(listed, record.versions), rollingElsewhere, clusterMaxConcurrent: chart.maxConcurrent },
      now,
      requestsOf(obj.metadata.annotations),
    );
    if (d.stamp.length > 0 || d.events.length > 0 || obj.status?.rollout?.summary !== d.summary || !sameRecord(previous, d.record)) {
      const ok = await writer.patchStatus(mapping.key, (cur) => ({
        rollout: rolloutPatch(cur.rollout, d.record, d.summary),
        conditions: setCondition(cur.conditions, { ...haltedCondition(d), observedGeneration: mapping.generation }, now),
      }));
      if (!ok) throw new Error(`status.rollout of ${mapping.key} could not be written`);
    }
    const fields = { mapping: mapping.key, eventId, secret: Object.keys(d.record.versions).join(','), version: Object.values(d.record.versions).join(',') };
    if (d.halted && previous?.phase !== 'Halted') {
      metrics.rolloutsHalted.inc();
      this.opts.notifier?.rolloutHalted?.({ mapping, versions: d.record.versions, eventId: fields.eventId, message: d.record.message ?? d.summary, at: now.toISOString(), workloadCount: d.record.workloads.length });
    }
    if (d.record.phase === 'Complete' && previous?.phase !== 'Complete') metrics.rolloutCompleteSeconds.observe(Math.max(0, now.getTime() / 1000 - d.record.since));
    for (const e of d.events) {
      log.info('rollout event', { ...fields, reason: e.reason, message: e.message });
      try {
        await events.record(mappingEventTarget(mapping), e.type, e.reason, e.message);
      } catch (err) {
        log.warn('recording the Event failed', { ...fields, reason: e.reason, error: errorMessage(err) });
      }
    }
    if (previous?.phase !== d.record.phase) log.info('rollout phase', { ...fields, phase: d.record.phase, summary: d.summary, ...(d.record.reason ? { reason: d.record.reason } : {}) });
    return d;
  }

  /** The loop's stamps, after their record is persisted: each through the rotation's execute path (fenced, limited, logged). */
  private async stamp(mapping: Mapping, obj: SecretsRotationMapping, d: Decision, listed: readonly WorkloadState[]): Promise<void> {
    const byId = new Map(listed.map((w) => [rolloutId(w), w]));
    const [secretKey = '', version = ''] = Object.entries(d.record.versions)[0] ?? [];
    const eventId = obj.status?.lastRotation?.eventId ?? '';
    const now = this.now().getTime();
    await Promise.all(
      d.stamp.map(async (id) => {
        const w = byId.get(id);
        const key = `${mapping.key}/${id}`;
        const refused = this.refused.get(key);
        if (!w || (refused && now < refused.retryAt)) return;
        // The restart reads every secret's current value: it carries the versions other rollouts still wait to bring it too.
        const versions = { ...this.pendingElsewhere(mapping, id), ...d.record.versions };
        const action: WorkloadAction = { workload: w, decision: 'restart', versions, causes: [{ mappingKey: mapping.key, changeId: `rollout:${mapping.key}`, eventId, secretKey, version }] };
        const outcome = await executeAction(action, [], { workloads: this.opts.workloads, metrics: this.opts.metrics, log: this.opts.log, dryRun: false, now: this.now });
        // The record says stamped: the engine sends it again at every pass until the template carries the version.
        if (outcome.result !== 'Failed') this.refused.delete(key);
        else {
          const failures = (refused?.failures ?? 0) + 1;
          this.refused.set(key, { failures, retryAt: now + backoffMs(failures, RESTAMP_BASE_MS, RESTAMP_CAP_MS) });
        }
      }),
    );
  }

  /**
   * The versions the other rollouts of the namespace have yet to stamp on workload `id`
   * (pending there): settling across secrets. Two secrets changed together, each through
   * its own mapping, restart a workload once: the first rollout's stamp records both, and
   * the second finds the workload already at its version (engine: stamped, no restart).
   */
  private pendingElsewhere(mapping: Mapping, id: string): Record<string, string> {
    const versions: Record<string, string> = {};
    for (const k of this.opts.mappings.keys()) {
      if (k === mapping.key || !k.startsWith(`${mapping.namespace}/`)) continue;
      const r = readRecord(this.opts.mappings.object(k)?.status?.rollout);
      const i = active(r) ? r.workloads.indexOf(id) : -1;
      if (r && i >= 0 && r.states[i] === 'p') Object.assign(versions, r.versions);
    }
    return versions;
  }

  /** The other mappings' rolling workloads, from the cache (a batch's gate: once per mapping it admits). */
  private rollingElsewhere(key: string): number {
    let n = 0;
    for (const k of this.opts.mappings.keys()) if (k !== key) n += rolling(readRecord(this.opts.mappings.object(k)?.status?.rollout));
    return n;
  }

  private gauges(): void {
    const counts = { rolling: 0, waiting: 0, halted: 0 };
    let halted = 0;
    for (const k of this.opts.mappings.keys()) {
      const r = readRecord(this.opts.mappings.object(k)?.status?.rollout);
      if (!active(r)) continue;
      if (r.phase === 'Halted') halted++;
      for (const s of r.states) {
        if (s === 's') counts.rolling++;
        else if (s === 'p') counts[r.phase === 'Halted' ? 'halted' : 'waiting']++;
      }
    }
    for (const [state, n] of Object.entries(counts)) this.opts.metrics.rolloutWorkloads.set({ state }, n);
    this.opts.metrics.rolloutsHaltedNow.set(halted);
  }

  /** This replica no longer leads: its gauges say nothing (the new leader's do), so no alert fires twice. */
  clearGauges(): void {
    for (const state of ['rolling', 'waiting', 'halted']) this.opts.metrics.rolloutWorkloads.set({ state }, 0);
    this.opts.metrics.rolloutsHaltedNow.set(0);
  }
}

function sameRecord(a: RolloutRecord | undefined, b: RolloutRecord): boolean {
  if (!a) return false;
  return (
    a.phase === b.phase &&
    a.states === b.states &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.nextOpen === b.nextOpen &&
    a.override === b.override &&
    a.since === b.since &&
    a.canaries === b.canaries &&
    JSON.stringify(a.workloads) === JSON.stringify(b.workloads) &&
    JSON.stringify(a.stampedAt) === JSON.stringify(b.stampedAt) &&
    JSON.stringify(a.versions) === JSON.stringify(b.versions) &&
    JSON.stringify(a.handled) === JSON.stringify(b.handled)
  );
}

/**
 * Before a batch's restarts: each mapping's rollout admits its newest change of the batch
 * and says which of its workloads may be stamped now. A workload several mappings reach is
 * stamped only when each of them lets it through; one a rollout holds is reported Deferred
 * (the rollout's loop stamps it later), and one whose rollout could not be recorded Failed
 * (the change is retried). Discovered sources are not gated. Answers, by workloadId, the
 * outcome of each workload not to be stamped now.
 */
export async function gateActions(actions: readonly WorkloadAction[], matches: readonly Match[], rollouts: Pick<Rollouts, 'admit'>): Promise<Map<string, Outcome>> {
  const byMapping = new Map<string, { mapping: Mapping; change: ResolvedChange; listed: readonly WorkloadState[] }>();
  for (const m of matches) {
    if (m.mapping.origin) continue;
    const cur = byMapping.get(m.mapping.key);
    byMapping.set(m.mapping.key, { mapping: m.mapping, change: newerChange(m.change, cur?.change), listed: m.workloads });
  }
  const held = new Map<string, Outcome>();
  // One mapping at a time: each rollout's first step counts the slots the previous ones took.
  for (const [key, g] of byMapping) {
    const reached = actions.filter((a) => a.decision === 'restart' && a.causes.some((c) => c.mappingKey === key)).map((a) => a.workload);
    if (reached.length === 0) continue;
    const v = await rollouts.admit(g.mapping, g.change, g.listed, reached.map(rolloutId));
    for (const w of reached) {
      const id = workloadId(w);
      if ('error' in v) held.set(id, { result: 'Failed', reason: v.error });
      else if (!v.stamp.has(rolloutId(w)) && held.get(id)?.result !== 'Failed') held.set(id, { result: 'Deferred', reason: v.waiting });
    }
  }
  return held;
}
