/**
 * Restart planning. Pure: given the changes of one batch, the mappings each one
 * matched and the current state of their workloads, decide per workload whether
 * to roll it. A workload appears once in a plan however many changes, messages or
 * mappings point at it (coalescing), and is skipped when its pod template already
 * records the version (idempotency). A paused Deployment or an OnDelete workload is
 * stamped all the same: its pods take the new version when it is resumed, or when
 * they are deleted (the result says so; we never delete pods).
 */
import type { SecretChange } from '../events/interpret';
import type { Mapping } from '../mappings/model';
import { workloadId, type WorkloadState } from '../workloads/workload';

/** A change whose target version has been settled by the shell. */
export interface ResolvedChange {
  /**
   * Names the change within one rotation; what is done is reported per change id. The
   * SQS message id for a change from a message (one message, one change), the event id
   * for a drift check's.
   */
  readonly changeId: string;
  readonly change: SecretChange;
  /** Canonical secret key (see canonicalSecretKey); keys the version annotation. */
  readonly secretKey: string;
  /** The version the workloads should end on: AWSCURRENT when resolvable. */
  readonly version: string;
  /** When its message entered the queue (ms since the epoch), for the queue-to-restart latency. */
  readonly sentAt?: number;
  /**
   * Set by drift recovery (drift.ts): the recorded versions this change was confirmed newer
   * than. It moves a mapping or a workload only from one of them: one recording any other
   * version (a newer one an event brought since, or one drift could not order) is left
   * alone, and a mapping recording none is left to its baseline.
   */
  readonly replaces?: readonly string[];
}

export interface Match {
  readonly change: ResolvedChange;
  readonly mapping: Mapping;
  /** Workloads in the mapping's namespace that its selector and kinds select. */
  readonly workloads: readonly WorkloadState[];
}

export type SkipReason = 'AlreadyAtVersion' | 'AtNewerVersion';

export interface Cause {
  readonly mappingKey: string;
  readonly changeId: string;
  readonly eventId: string;
  readonly secretKey: string;
  readonly version: string;
}

export interface WorkloadAction {
  /**
   * The workload as listed: a restart keeps what its pod template records beside the new
   * versions, and is refused if it changed since its resourceVersion.
   */
  readonly workload: WorkloadState;
  readonly decision: 'restart' | 'skip';
  readonly reason?: SkipReason;
  /** secret key → version the restart records (only keys whose version moves). */
  readonly versions: Readonly<Record<string, string>>;
  readonly causes: readonly Cause[];
}

export function planRestarts(matches: readonly Match[]): WorkloadAction[] {
  // A mapping ends on its newest change of the batch (the one its status records): when
  // that one finds it at its version already, an older change of the batch must not roll
  // its workloads back (a burst whose events settle on different versions).
  const newest = new Map<string, ResolvedChange>();
  for (const m of matches) newest.set(m.mapping.key, newerChange(m.change, newest.get(m.mapping.key)));
  const groups = new Map<string, { state: WorkloadState; causes: Cause[]; winners: Map<string, ResolvedChange> }>();
  for (const m of matches) {
    const last = newest.get(m.mapping.key)!;
    if (!moves(m.mapping, last) || !moves(m.mapping, m.change)) continue;
    for (const w of m.workloads) {
      // A mapping only ever touches its own namespace, whatever the lister returned.
      if (w.namespace !== m.mapping.namespace || !m.mapping.workloadKinds.includes(w.kind)) continue;
      const id = workloadId(w);
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { state: w, causes: [], winners: new Map() }));
      const c = m.change;
      g.causes.push({ mappingKey: m.mapping.key, changeId: c.changeId, eventId: c.change.eventId, secretKey: c.secretKey, version: c.version });
      g.winners.set(c.secretKey, newerChange(last, g.winners.get(c.secretKey)));
    }
  }
  return [...groups.keys()].sort().map((id) => decide(groups.get(id)!));
}

/**
 * Whether `change` may move `mapping`: not when it already records the change's version
 * (at creation or by an earlier rotation), nor, for a drift change, when it records a
 * version the change does not replace. A discovered source records nothing: its
 * consumers' own annotations decide (decide()).
 */
export function moves(mapping: Pick<Mapping, 'appliedVersion' | 'origin'>, change: Pick<ResolvedChange, 'version' | 'replaces'>): boolean {
  if (mapping.appliedVersion === change.version) return false;
  if (!change.replaces || mapping.origin) return true;
  return mapping.appliedVersion !== undefined && change.replaces.includes(mapping.appliedVersion);
}

function decide(g: { state: WorkloadState; causes: Cause[]; winners: Map<string, ResolvedChange> }): WorkloadAction {
  const versions: Record<string, string> = {};
  let newer = false;
  for (const [key, c] of [...g.winners].sort(([a], [b]) => a.localeCompare(b))) {
    const applied = g.state.appliedVersions[key];
    if (applied === c.version) continue;
    if (applied !== undefined && c.replaces && !c.replaces.includes(applied)) newer = true;
    else versions[key] = c.version;
  }
  const common = { workload: g.state, versions, causes: g.causes };
  if (Object.keys(versions).length === 0) return { ...common, decision: 'skip', reason: newer ? 'AtNewerVersion' : 'AlreadyAtVersion' };
  return { ...common, decision: 'restart' };
}

/**
 * The newest of two changes, the one a workload (or a mapping's status) ends on: the
 * later event wins; equal or unknown times keep batch order (`candidate`, the later one, wins).
 */
export function newerChange(candidate: ResolvedChange, current: ResolvedChange | undefined): ResolvedChange {
  if (!current) return candidate;
  const a = Date.parse(candidate.change.eventTime ?? '');
  const b = Date.parse(current.change.eventTime ?? '');
  return !Number.isNaN(a) && !Number.isNaN(b) && a < b ? current : candidate;
}
