/**
 * Rollouts, the shell (docs/rollouts.md). A change the rotation has settled becomes a
 * record in its mapping's status.rollout before anything is stamped (`gateActions`, from
 * the rotator): the workloads the engine lets through now are stamped by the rotation as
 * before, the others are reported Deferred and the message may be acknowledged, since the
 * record now holds the intent. A level-triggered loop (`tick`: leader only, on the rotation
 * lane, fenced like every write) then advances each record from what the workloads say now:
 * persist the engine's next record, then stamp what it names, through the same execute path.
 * A crash or hand-off anywhere resumes from the last persisted record; the pod template's
 * versions stay the idempotency key. A discovered source's rollout is the same, under the
 * chart's policy, its record in an annotation on the source (rolloutHomes.ts says where each
 * lives). Pure parts: rollout/engine.ts, rolloutState.ts.
 */
import { backoffMs } from '../core/backoff';
import { errorMessage, type Logger } from '../core/log';
import { mappingEventTarget } from '../mappings/events';
import type { Mapping } from '../mappings/model';
import type { EventPort } from '../mappings/ports';
import type { Metrics } from '../core/metrics';
import { admitChange, decide, type Decision, type RolloutRecord } from '../rollout/engine';
import type { WorkloadClient } from '../workloads/adapters';
import type { ListPods } from '../workloads/pods';
import { workloadId, type WorkloadState } from '../workloads/workload';
import { executeAction } from './execute';
import { withPodHealth } from './podHealth';
import { newerChange, type Match, type ResolvedChange, type WorkloadAction } from './plan';
import { RolloutHomes, type Home, type RolloutHomesOptions } from './rolloutHomes';
import { active, carries, observeAll, rolling, rolloutId } from './rolloutState';
import type { RotationNotifier } from './notifier';
import type { Outcome } from './summary';

export interface RolloutsOptions extends RolloutHomesOptions {
  readonly workloads: Pick<WorkloadClient, 'list' | 'restart'>;
  readonly events: EventPort;
  readonly metrics: Metrics;
  readonly log: Logger;
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
  private readonly homes: RolloutHomes;

  constructor(private readonly opts: RolloutsOptions) {
    this.now = opts.now ?? (() => new Date());
    this.homes = new RolloutHomes(opts);
  }

  /**
   * A settled change reaching `ids` of the mapping's (or discovered source's) workloads
   * (those not at its version): joins or starts its rollout, persists its first step, and says which may be
   * stamped now. A change the record already carries (a redelivery, drift) starts nothing new.
   */
  async admit(mapping: Mapping, change: ResolvedChange, listed: readonly WorkloadState[], ids: readonly string[]): Promise<Verdict> {
    const versions = { [change.secretKey]: change.version };
    try {
      const [home, elsewhere] = await Promise.all([this.homes.of(mapping), this.rollingElsewhere(mapping.key)]);
      if (!home) return { error: `the ${mapping.origin ? mapping.origin.object.kind : 'mapping'} is gone` };
      const current = home.record;
      if (carries(current, versions) && current.phase === 'Abandoned') return { stamp: new Set(), waiting: 'rollout Abandoned: nothing more is restarted for this version' };
      const policy = home.policy();
      // The rollout of these versions already holds these workloads: nothing to admit.
      const known = carries(current, versions) && active(current) && ids.every((id) => current.workloads.includes(id));
      const record = known ? current : admitChange(current, { versions, workloads: ids, preferredCanaries: home.preferredCanaries(listed) }, policy, this.now());
      // A new rollout is not the previous one moving on: what changed is said of it afresh.
      const d = await this.step(home, record, listed, record === current || record.since === current?.since ? current : undefined, change.change.eventId, elsewhere);
      // Short: it is the reason of each held workload in status.lastRotation (up to 100 entries), which stays well under its cap.
      return { stamp: new Set(d.stamp), waiting: `held by the rollout (${d.summary}${d.record.reason ? `, ${d.record.reason}` : ''})` };
    } catch (err) {
      this.opts.log.warn('rollout not recorded; the change is retried', { mapping: mapping.key, eventId: change.change.eventId, secret: change.secretKey, version: change.version, error: errorMessage(err) });
      return { error: `rollout not recorded: ${errorMessage(err)}` };
    }
  }

  /**
   * One pass of the loop: every rollout in progress, mappings' and discovered sources', one
   * at a time. The records are read once per pass; the cluster-wide ceiling counts the others' rolling workloads as
   * their last step left them.
   */
  async tick(signal?: AbortSignal): Promise<void> {
    const inProgress = (await this.homes.all()).filter((h): h is Home & { record: RolloutRecord } => active(h.record));
    // Where each rollout stands after this pass, for the gauges.
    const records = new Map(inProgress.map((h) => [h.mapping.key, h.record]));
    let rollingAll = inProgress.reduce((n, h) => n + rolling(h.record), 0);
    for (const home of inProgress) {
      signal?.throwIfAborted();
      const { mapping, record } = home;
      try {
        const listed = this.opts.pods ? await withPodHealth(await home.list(), record, this.opts.pods, this.opts.log, mapping.key) : await home.list();
        signal?.throwIfAborted();
        const d = await this.step(home, record, listed, record, home.eventId, rollingAll - rolling(record));
        rollingAll += rolling(d.record) - rolling(record);
        records.set(mapping.key, d.record);
        await this.stamp(home, d, listed, inProgress);
      } catch (err) {
        if (signal?.aborted) throw err;
        this.opts.log.warn('rollout step failed; the next pass retries it', { mapping: mapping.key, secret: mapping.secret.raw, error: errorMessage(err) });
      }
    }
    this.gauges([...records.values()]);
  }

  /** decide, then persist what it returns (only when something changed), then tell: Events, metrics, log. Throws when the record is not written. */
  private async step(
    home: Home,
    record: RolloutRecord,
    listed: readonly WorkloadState[],
    previous: RolloutRecord | undefined,
    eventId: string,
    /** Workloads of the other rollouts rolling now, against the chart's ceiling. */
    rollingElsewhere: number,
  ): Promise<Decision> {
    const { events, metrics, log, chart } = this.opts;
    const { mapping } = home;
    const now = this.now();
    const d = decide(record, home.policy(), { workloads: observeAll(listed, record.versions), rollingElsewhere, clusterMaxConcurrent: chart.maxConcurrent }, now, home.requests);
    if (d.stamp.length > 0 || d.events.length > 0 || home.summary !== d.summary || !sameRecord(previous, d.record)) {
      if (!(await home.write(d, now, eventId))) throw new Error(`the rollout record of ${mapping.key} could not be written`);
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
  private async stamp({ mapping, eventId }: Home, d: Decision, listed: readonly WorkloadState[], others: readonly Home[]): Promise<void> {
    const byId = new Map(listed.map((w) => [rolloutId(w), w]));
    const [secretKey = '', version = ''] = Object.entries(d.record.versions)[0] ?? [];
    const now = this.now().getTime();
    await Promise.all(
      d.stamp.map(async (id) => {
        const w = byId.get(id);
        const key = `${mapping.key}/${id}`;
        const refused = this.refused.get(key);
        if (!w || (refused && now < refused.retryAt)) return;
        // The restart reads every secret's current value: it carries the versions other rollouts still wait to bring it too.
        const versions = { ...Rollouts.pendingElsewhere(others, mapping, id), ...d.record.versions };
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
   * The versions the namespace's other rollouts have yet to stamp on workload `id` (pending
   * there): settling across secrets. Two secrets changed together, each through its own
   * mapping, restart a workload once: the first rollout's stamp records both, and the second
   * finds the workload already at its version (engine: stamped, no restart).
   */
  private static pendingElsewhere(homes: readonly Home[], mapping: Mapping, id: string): Record<string, string> {
    const versions: Record<string, string> = {};
    for (const { mapping: other, record } of homes) {
      if (other.key === mapping.key || other.namespace !== mapping.namespace || !active(record)) continue;
      const i = record.workloads.indexOf(id);
      if (i >= 0 && record.states[i] === 'p') Object.assign(versions, record.versions);
    }
    return versions;
  }

  /** The other rollouts' rolling workloads, mappings' and sources' (a batch's gate: once per rollout it admits). */
  private async rollingElsewhere(key: string): Promise<number> {
    return (await this.homes.all()).reduce((n, h) => n + (h.mapping.key === key ? 0 : rolling(h.record)), 0);
  }

  private gauges(records: readonly RolloutRecord[]): void {
    const counts = { rolling: 0, waiting: 0, halted: 0 };
    let halted = 0;
    for (const r of records) {
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

  /**
   * This replica no longer leads: its gauges say nothing (the new leader's do), so no alert
   * fires twice, and what it wrote on sources is read back from them (the next leader may write).
   */
  stopped(): void {
    this.opts.sources?.forget();
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
 * (the change is retried). A discovered source is gated as a mapping is. Answers, by
 * workloadId, the outcome of each workload not to be stamped now.
 */
export async function gateActions(actions: readonly WorkloadAction[], matches: readonly Match[], rollouts: Pick<Rollouts, 'admit'>): Promise<Map<string, Outcome>> {
  const byMapping = new Map<string, { mapping: Mapping; change: ResolvedChange; listed: readonly WorkloadState[] }>();
  for (const m of matches) {
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
