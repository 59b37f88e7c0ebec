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
import { NamespaceListings } from '../mappings/selected';
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

/** One mapping's newest change of a batch, its listed workloads, and the ids of those the change reaches. */
export interface Admission {
  readonly mapping: Mapping;
  readonly change: ResolvedChange;
  readonly listed: readonly WorkloadState[];
  readonly ids: readonly string[];
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
   * A batch's settled changes, each reaching `ids` of a mapping's (or discovered source's)
   * workloads (those not at its version): each joins or starts its rollout, and says which
   * may be stamped now. The homes are read at once; the engine then decides one rollout
   * at a time, each counting the slots the previous ones took against the chart's ceiling
   * (pure, no request in between); then every first step is persisted at once. A change a
   * record already carries (a redelivery, drift) starts nothing new. One verdict per mapping key.
   */
  async admitAll(admissions: readonly Admission[]): Promise<Map<string, Verdict>> {
    const verdicts = new Map<string, Verdict>();
    const refuse = (a: Admission, err: unknown) => {
      this.opts.log.warn('rollout not recorded; the change is retried', { mapping: a.mapping.key, eventId: a.change.change.eventId, secret: a.change.secretKey, version: a.change.version, error: errorMessage(err) });
      verdicts.set(a.mapping.key, { error: `rollout not recorded: ${errorMessage(err)}` });
    };
    if (admissions.length === 0) return verdicts;
    let rollingAll: number;
    try {
      rollingAll = (await this.homes.all()).reduce((n, h) => n + rolling(h.record), 0);
    } catch (err) {
      for (const a of admissions) refuse(a, err);
      return verdicts;
    }
    const homes = await Promise.all(admissions.map((a) => this.homes.of(a.mapping).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
    const now = this.now();
    const decided: { a: Admission; home: Home; d: Decision; previous: RolloutRecord | undefined }[] = [];
    admissions.forEach((a, i) => {
      const home = homes[i];
      if (home instanceof Error) return refuse(a, home);
      if (!home) return verdicts.set(a.mapping.key, { error: `the ${a.mapping.origin ? a.mapping.origin.object.kind : 'mapping'} is gone` });
      const versions = { [a.change.secretKey]: a.change.version };
      const current = home.record;
      if (carries(current, versions) && current.phase === 'Abandoned') return verdicts.set(a.mapping.key, { stamp: new Set(), waiting: 'rollout Abandoned: nothing more is restarted for this version' });
      try {
        const policy = home.policy();
        // The rollout of these versions already holds these workloads: nothing to admit.
        const known = carries(current, versions) && active(current) && a.ids.every((id) => current.workloads.includes(id));
        const record = known ? current : admitChange(current, { versions, workloads: a.ids, preferredCanaries: home.preferredCanaries(a.listed) }, policy, now);
        const d = this.decide(home, record, a.listed, rollingAll - rolling(current), now);
        rollingAll += rolling(d.record) - rolling(current);
        // A new rollout is not the previous one moving on: what changed is said of it afresh.
        decided.push({ a, home, d, previous: record === current || record.since === current?.since ? current : undefined });
      } catch (err) {
        refuse(a, err);
      }
    });
    await Promise.all(
      decided.map(async ({ a, home, d, previous }) => {
        try {
          await this.commit(home, d, previous, a.change.change.eventId, now);
          // Short: it is the reason of each held workload in status.lastRotation (up to 100 entries), which stays well under its cap.
          verdicts.set(a.mapping.key, { stamp: new Set(d.stamp), waiting: `held by the rollout (${d.summary}${d.record.reason ? `, ${d.record.reason}` : ''})` });
        } catch (err) {
          refuse(a, err);
        }
      }),
    );
    return verdicts;
  }

  /**
   * One pass of the loop: every rollout in progress, mappings' and discovered sources'.
   * The records are read once per pass and every rollout's workloads listed at once; then
   * each rollout steps in turn, the cluster-wide ceiling counting the others' rolling
   * workloads as their last step left them. A listing a step before it made stale is
   * harmless: a stamp carries the resourceVersion it was listed at, and a workload that
   * moved since is read again and left alone when it already has the versions.
   */
  async tick(signal?: AbortSignal): Promise<void> {
    const inProgress = (await this.homes.all()).filter((h): h is Home & { record: RolloutRecord } => active(h.record));
    // Where each rollout stands after this pass, for the gauges.
    const records = new Map(inProgress.map((h) => [h.mapping.key, h.record]));
    let rollingAll = inProgress.reduce((n, h) => n + rolling(h.record), 0);
    const shared = new NamespaceListings(this.opts.workloads).expect(inProgress.filter((h) => !h.mapping.origin).map((h) => h.mapping));
    const listings = inProgress.map(async ({ mapping, record, list }) => (this.opts.pods ? withPodHealth(await list(shared), record, this.opts.pods, this.opts.log, mapping.key) : list(shared)));
    for (const l of listings) l.catch(() => undefined);
    for (const [i, home] of inProgress.entries()) {
      signal?.throwIfAborted();
      const { mapping, record } = home;
      try {
        const listed = await listings[i];
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

  /** decide, then persist what it returns, then tell (commit). Throws when the record is not written. */
  private async step(
    home: Home,
    record: RolloutRecord,
    listed: readonly WorkloadState[],
    previous: RolloutRecord | undefined,
    eventId: string,
    /** Workloads of the other rollouts rolling now, against the chart's ceiling. */
    rollingElsewhere: number,
  ): Promise<Decision> {
    const now = this.now();
    const d = this.decide(home, record, listed, rollingElsewhere, now);
    await this.commit(home, d, previous, eventId, now);
    return d;
  }

  /** The engine's next step for `record` (pure). */
  private decide(home: Home, record: RolloutRecord, listed: readonly WorkloadState[], rollingElsewhere: number, now: Date): Decision {
    return decide(record, home.policy(), { workloads: observeAll(listed, record.versions), rollingElsewhere, clusterMaxConcurrent: this.opts.chart.maxConcurrent }, now, home.requests);
  }

  /** Persists a decision (only when something changed), then tells: Events, metrics, log. Throws when the record is not written. */
  private async commit(home: Home, d: Decision, previous: RolloutRecord | undefined, eventId: string, now: Date): Promise<void> {
    const { events, metrics, log } = this.opts;
    const { mapping } = home;
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
export async function gateActions(actions: readonly WorkloadAction[], matches: readonly Match[], rollouts: Pick<Rollouts, 'admitAll'>): Promise<Map<string, Outcome>> {
  const byMapping = new Map<string, { mapping: Mapping; change: ResolvedChange; listed: readonly WorkloadState[] }>();
  for (const m of matches) {
    const cur = byMapping.get(m.mapping.key);
    byMapping.set(m.mapping.key, { mapping: m.mapping, change: newerChange(m.change, cur?.change), listed: m.workloads });
  }
  const admissions: Admission[] = [];
  const reachedBy = new Map<string, WorkloadState[]>();
  for (const [key, g] of byMapping) {
    const reached = actions.filter((a) => a.decision === 'restart' && a.causes.some((c) => c.mappingKey === key)).map((a) => a.workload);
    if (reached.length === 0) continue;
    reachedBy.set(key, reached);
    admissions.push({ ...g, ids: reached.map(rolloutId) });
  }
  const verdicts = await rollouts.admitAll(admissions);
  const held = new Map<string, Outcome>();
  for (const [key, reached] of reachedBy) {
    const v = verdicts.get(key) ?? { error: 'rollout not recorded' };
    for (const w of reached) {
      const id = workloadId(w);
      if ('error' in v) held.set(id, { result: 'Failed', reason: v.error });
      else if (!v.stamp.has(rolloutId(w)) && held.get(id)?.result !== 'Failed') held.set(id, { result: 'Deferred', reason: v.waiting });
    }
  }
  return held;
}
