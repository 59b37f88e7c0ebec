/**
 * The rollout engine (docs/rollouts.md), pure: a change becomes a durable record, and
 * `decide` advances it one step from what the cluster says now. The shell (rotation/rollouts.ts)
 * persists the record it returns in the mapping's status, then stamps the workloads it
 * names; after a crash it calls `decide` again with the last persisted record. Whether a
 * workload's pod template already carries the version (the idempotency key) is an
 * observation, so a stamp lost in a crash is sent again and a stamp whose record was
 * lost is not sent twice.
 */
import { GROUP } from '../core/names';
import { windowVerdict, type CompiledWindow } from './windows';

/** One-shot requests a person makes on the mapping; the value is any token, a new one makes a new request. */
export const RESUME_ANNOTATION = `${GROUP}/rollout-resume`;
export const ABANDON_ANNOTATION = `${GROUP}/rollout-abandon`;
export const OVERRIDE_ANNOTATION = `${GROUP}/rollout-override`;

export const PHASES = ['Settling', 'Deferred', 'Canary', 'Rolling', 'Halted', 'Complete', 'Abandoned'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * One character per workload keeps a record of 1,000 workloads small:
 * p pending · s stamped, not yet healthy (holds a slot) · h healthy · f failed ·
 * d deferred (stamped, but paused or OnDelete: it rolls later and holds no slot) ·
 * g gone (no longer selected or deleted).
 */
export type WorkloadState = 'p' | 's' | 'h' | 'f' | 'd' | 'g';

/** The durable intent: what status.rollout holds (the shell adds phase/summary beside it). */
export interface RolloutRecord {
  /** Secret key → the version this rollout brings: several after settling. */
  readonly versions: Readonly<Record<string, string>>;
  readonly phase: Phase;
  /** CamelCase, for Deferred and Halted. */
  readonly reason?: string;
  readonly message?: string;
  /** When the first change arrived, epoch seconds; settleSeconds and stampedAt count from it. */
  readonly since: number;
  /** Workload ids ("Kind/name") in wave order: the canaries first. */
  readonly workloads: readonly string[];
  /** How many of `workloads`, from the start, are canaries. */
  readonly canaries: number;
  /** One WorkloadState per workload. */
  readonly states: string;
  /** 1 + the seconds after `since` each workload was stamped (0: not stamped), so a stamp at `since` is 1. */
  readonly stampedAt: readonly number[];
  /** The last token of each request acted on, so an annotation left in place acts once. */
  readonly handled: { readonly resume?: string; readonly abandon?: string; readonly override?: string };
  /** An override was asked for this rollout: windows and settling no longer hold it. */
  readonly override?: boolean;
  /** Deferred by a window: when it opens, epoch seconds. */
  readonly nextOpen?: number;
}

/** The policy in force: a mapping's spec.rollout over the chart's rollouts.*, resolved by the shell. */
export interface RolloutPolicy {
  /** Most of this rollout's workloads rolling at once. */
  readonly maxConcurrent: number;
  readonly canary?: { readonly count: number } | { readonly percent: number };
  /** Absent: each workload's own progressDeadlineSeconds (its observation), else DEFAULT_HEALTH_TIMEOUT_SECONDS. */
  readonly healthTimeoutSeconds?: number;
  readonly settleSeconds: number;
  readonly windows: readonly CompiledWindow[];
  readonly suspend: boolean;
}

/** Kubernetes' own default progressDeadlineSeconds. */
export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 600;

export type Health = 'healthy' | 'progressing' | { readonly failed: string };

/** What the cluster says of one workload now (its kind's health rule lives in workloads/). */
export interface Observation {
  readonly health: Health;
  /** Its pod template already carries every version of this rollout. */
  readonly hasVersion: boolean;
  /** Paused, or OnDelete: stamping it does not roll it now, so it holds no slot. */
  readonly deferred?: boolean;
  readonly progressDeadlineSeconds?: number;
  /**
   * When its template was stamped with these versions, epoch seconds (the restartedAt
   * annotation): the health deadline counts from it, since after a crash the record's own
   * time may be that of an earlier stamp that was lost.
   */
  readonly stampedAt?: number;
}

export interface Observations {
  /** By workload id; a workload absent here is gone. */
  readonly workloads: ReadonlyMap<string, Observation>;
  /** Workloads of other rollouts rolling now, against the cluster-wide ceiling. */
  readonly rollingElsewhere?: number;
  /** The cluster-wide ceiling (the chart's rollouts.maxConcurrent). */
  readonly clusterMaxConcurrent?: number;
}

/** The annotations' current values (undefined: not set). */
export interface Requests {
  readonly resume?: string;
  readonly abandon?: string;
  readonly override?: string;
}

export interface RolloutEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface Decision {
  readonly record: RolloutRecord;
  /** Stamp these now, after persisting `record`. */
  readonly stamp: readonly string[];
  readonly events: readonly RolloutEvent[];
  /** RolloutHalted: True while halted, False once it moves on. */
  readonly halted: boolean;
  /** For kubectl get: "Rolling 3/40", "Halted", "Deferred". */
  readonly summary: string;
}

export interface Change {
  readonly versions: Readonly<Record<string, string>>;
  /** Workload ids the change reaches. */
  readonly workloads: readonly string[];
  /** Those the canary selector names (taken as canaries first). */
  readonly preferredCanaries?: readonly string[];
}

/** How many canaries `policy` asks of `total` workloads: a percentage rounds up, at least one. */
export function canaryCount(policy: Pick<RolloutPolicy, 'canary'>, total: number): number {
  if (!policy.canary || total === 0) return 0;
  const n = 'count' in policy.canary ? policy.canary.count : Math.ceil((policy.canary.percent * total) / 100);
  return Math.min(total, Math.max(1, n));
}

/**
 * The order workloads roll in: canaries (those preferred first, then by id), then the rest
 * by id. The preview command shows the same order in waves (`waves`).
 */
export function rolloutOrder(change: Change, policy: Pick<RolloutPolicy, 'canary'>): { order: string[]; canaries: number } {
  const all = [...new Set(change.workloads)].sort();
  const preferred = new Set(change.preferredCanaries ?? []);
  const byPreference = [...all.filter((w) => preferred.has(w)), ...all.filter((w) => !preferred.has(w))];
  const canaries = canaryCount(policy, all.length);
  const chosen = byPreference.slice(0, canaries);
  const chosenSet = new Set(chosen);
  return { order: [...chosen, ...all.filter((w) => !chosenSet.has(w))], canaries };
}

/** Waves of at most maxConcurrent: the canaries' waves, then the rest's. */
export function waves(order: readonly string[], canaries: number, maxConcurrent: number): string[][] {
  const chunk = (xs: readonly string[]) => Array.from({ length: Math.ceil(xs.length / maxConcurrent) }, (_, i) => xs.slice(i * maxConcurrent, (i + 1) * maxConcurrent));
  return [...chunk(order.slice(0, canaries)), ...chunk(order.slice(canaries))];
}

const seconds = (now: Date) => Math.floor(now.getTime() / 1000);

/**
 * A change arriving. Joins `current` while it settles; otherwise (no rollout, or one
 * done, halted or in progress for older versions) a new rollout starts, with the
 * previous rollout's canaries first: a failed canary is a canary again. A new version of a
 * secret replaces its old one; the unfinished rollout's other secrets and workloads carry over.
 */
export function admitChange(current: RolloutRecord | undefined, change: Change, policy: RolloutPolicy, now: Date): RolloutRecord {
  const t = seconds(now);
  if (current && current.phase === 'Settling' && t < current.since + policy.settleSeconds) {
    const known = new Set(current.workloads);
    const added = [...new Set(change.workloads)].filter((w) => !known.has(w)).sort();
    return {
      ...current,
      versions: { ...current.versions, ...change.versions },
      workloads: [...current.workloads, ...added],
      states: current.states + 'p'.repeat(added.length),
      stampedAt: [...current.stampedAt, ...added.map(() => 0)],
    };
  }
  const previousCanaries = current ? current.workloads.slice(0, current.canaries) : [];
  // An unfinished rollout's other secrets still have to reach its workloads: they carry over.
  const unfinished = current && !TERMINAL.has(current.phase) ? current : undefined;
  const workloads = [...(unfinished?.workloads ?? []), ...change.workloads];
  const { order, canaries } = rolloutOrder({ ...change, workloads, preferredCanaries: [...previousCanaries, ...(change.preferredCanaries ?? [])] }, policy);
  return {
    versions: { ...unfinished?.versions, ...change.versions },
    phase: policy.settleSeconds > 0 ? 'Settling' : 'Canary',
    since: t,
    workloads: order,
    canaries,
    states: 'p'.repeat(order.length),
    stampedAt: order.map(() => 0),
    handled: current?.handled ?? {},
  };
}

const TERMINAL: ReadonlySet<Phase> = new Set(['Complete', 'Abandoned']);
const DONE: ReadonlySet<string> = new Set(['h', 'd', 'g', 'f']);

/** One step of the rollout: the record to persist, what to stamp after, what to report. */
export function decide(record: RolloutRecord, policy: RolloutPolicy, observations: Observations, now: Date, requests: Requests = {}): Decision {
  const t = seconds(now);
  const events: RolloutEvent[] = [];
  let phase = record.phase;
  let reason = record.reason;
  let message = record.message;
  let override = record.override ?? false;
  const handled = { ...record.handled };
  const fresh = (k: keyof Requests) => requests[k] !== undefined && requests[k] !== record.handled[k];

  if (fresh('abandon') && !TERMINAL.has(phase)) {
    phase = 'Abandoned';
    reason = 'Abandoned';
    message = `abandoned on request (${ABANDON_ANNOTATION}): nothing more is restarted`;
    events.push({ type: 'Normal', reason: 'RolloutAbandoned', message });
  }
  if (requests.abandon !== undefined) handled.abandon = requests.abandon;
  if (fresh('override') && !TERMINAL.has(phase)) {
    override = true;
    events.push({ type: 'Warning', reason: 'RolloutOverride', message: `override requested (${OVERRIDE_ANNOTATION}): restarting now, whatever the windows and settling say` });
  }
  if (requests.override !== undefined) handled.override = requests.override;
  if (fresh('resume') && phase === 'Halted') {
    phase = 'Rolling';
    reason = undefined;
    message = undefined;
    events.push({ type: 'Normal', reason: 'RolloutResumed', message: `resumed on request (${RESUME_ANNOTATION}): the rest roll, the failed canaries stay as they are` });
  }
  if (requests.resume !== undefined) handled.resume = requests.resume;

  const states = [...record.states] as WorkloadState[];
  const stampedAt = [...record.stampedAt];
  const restamp: number[] = [];
  if (!TERMINAL.has(phase)) {
    record.workloads.forEach((id, i) => {
      const o = observations.workloads.get(id);
      const s = states[i];
      if (!o) {
        if (s !== 'h' && s !== 'f') states[i] = 'g';
        return;
      }
      if (s === 'p' && o.hasVersion) {
        // Stamped before the record saying so was persisted: it counts as stamped now.
        states[i] = 's';
        stampedAt[i] = 1 + t - record.since;
      }
      if (states[i] !== 's' && states[i] !== 'd') return;
      if (!o.hasVersion) {
        restamp.push(i);
        return;
      }
      if (states[i] === 'd') return;
      if (o.deferred) states[i] = 'd';
      else if (o.health === 'healthy') states[i] = 'h';
      else if (typeof o.health === 'object') {
        states[i] = 'f';
        failure(i, o.health.failed);
      } else {
        const deadline = policy.healthTimeoutSeconds ?? o.progressDeadlineSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS;
        if (t - (o.stampedAt ?? record.since + stampedAt[i] - 1) >= deadline) {
          states[i] = 'f';
          failure(i, `not healthy ${deadline}s after its restart (still progressing)`);
        }
      }
    });
  }

  function failure(i: number, seen: string): void {
    const id = record.workloads[i];
    if (i < record.canaries && phase !== 'Halted') {
      phase = 'Halted';
      reason = 'CanaryUnhealthy';
      message = `canary ${id} is not healthy on versions ${versionList(record.versions)}: ${seen}; nothing more is restarted until a newer version, or ${RESUME_ANNOTATION} or ${ABANDON_ANNOTATION}`;
      events.push({ type: 'Warning', reason: 'CanaryUnhealthy', message });
    } else {
      events.push({ type: 'Warning', reason: 'WorkloadUnhealthy', message: `${id} is not healthy on versions ${versionList(record.versions)}: ${seen}` });
    }
  }

  const stamp: string[] = [];
  let nextOpen: number | undefined;
  if (!TERMINAL.has(phase) && phase !== 'Halted') {
    const gate = holds(policy, record, t, override);
    if (gate) {
      phase = gate.phase;
      reason = gate.reason;
      message = gate.message;
      nextOpen = gate.nextOpen;
    } else {
      const canariesLeft = states.slice(0, record.canaries).some((s) => s === 'p' || s === 's');
      phase = canariesLeft ? 'Canary' : 'Rolling';
      reason = undefined;
      message = undefined;
      for (const i of restamp) {
        // Its deadline counts from the stamp that reaches it, not from the one that was lost.
        stampedAt[i] = 1 + t - record.since;
        stamp.push(record.workloads[i]);
      }
      const rolling = states.filter((s) => s === 's').length;
      const cluster = observations.clusterMaxConcurrent === undefined ? Infinity : observations.clusterMaxConcurrent - (observations.rollingElsewhere ?? 0);
      let free = Math.max(0, Math.min(policy.maxConcurrent, cluster) - rolling);
      const upTo = canariesLeft ? record.canaries : states.length;
      for (let i = 0; i < upTo && free > 0; i++) {
        if (states[i] !== 'p') continue;
        const o = observations.workloads.get(record.workloads[i]);
        states[i] = o?.deferred ? 'd' : 's';
        stampedAt[i] = 1 + t - record.since;
        stamp.push(record.workloads[i]);
        if (!o?.deferred) free--;
      }
      // Complete only once nothing is left to send: a stamp of this step may yet be lost.
      if (stamp.length === 0 && states.every((s) => DONE.has(s))) {
        phase = 'Complete';
        events.push({ type: 'Normal', reason: 'RolloutComplete', message: `every workload runs versions ${versionList(record.versions)} (${count(states, 'h')} healthy, ${count(states, 'd')} deferred, ${count(states, 'f')} failed, ${count(states, 'g')} gone)` });
      }
    }
  }

  const next: RolloutRecord = {
    versions: record.versions,
    phase,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    since: record.since,
    workloads: record.workloads,
    canaries: record.canaries,
    states: states.join(''),
    stampedAt,
    handled,
    ...(override ? { override } : {}),
    ...(nextOpen !== undefined ? { nextOpen } : {}),
  };
  return { record: next, stamp, events, halted: phase === 'Halted', summary: summarise(next) };
}

/** What keeps a rollout from stamping now, besides a halt: settling, suspend, a window. */
function holds(policy: RolloutPolicy, record: RolloutRecord, t: number, override: boolean): { phase: Phase; reason?: string; message?: string; nextOpen?: number } | undefined {
  if (!override && t < record.since + policy.settleSeconds) return { phase: 'Settling' };
  if (policy.suspend) return { phase: 'Deferred', reason: 'Suspended', message: 'spec.suspend is true: the change is recorded, nothing is restarted' };
  if (override) return undefined;
  const verdict = windowVerdict(policy.windows, new Date(t * 1000));
  if (verdict.open) return undefined;
  return {
    phase: 'Deferred',
    reason: 'OutsideWindow',
    ...(verdict.nextOpen ? { nextOpen: seconds(verdict.nextOpen) } : {}),
    message: verdict.nextOpen ? `outside the restart windows: the next opens at ${verdict.nextOpen.toISOString()}` : 'outside the restart windows: none opens within a year',
  };
}

function count(states: readonly string[], s: WorkloadState): number {
  return states.filter((x) => x === s).length;
}

function versionList(versions: Readonly<Record<string, string>>): string {
  return Object.entries(versions).map(([k, v]) => `${k}@${v}`).join(', ');
}

/** The kubectl get column: "Rolling 3/40" (done of all), "Halted", "Deferred". */
export function summarise(record: RolloutRecord): string {
  const done = [...record.states].filter((s) => DONE.has(s)).length;
  const total = record.states.length;
  return record.phase === 'Canary' || record.phase === 'Rolling' || record.phase === 'Complete' ? `${record.phase} ${done}/${total}` : record.phase;
}
