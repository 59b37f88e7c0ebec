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
import { workloadId, type Rollout, type WorkloadRef, type WorkloadState } from '../workloads/workload';

/** A change whose target version has been settled by the shell. */
export interface ResolvedChange {
  /** The SQS message (or drift check) this change came from. */
  readonly messageId: string;
  readonly change: SecretChange;
  /** Canonical secret key (see canonicalSecretKey); keys the version annotation. */
  readonly secretKey: string;
  /** The version the workloads should end on: AWSCURRENT when resolvable. */
  readonly version: string;
}

export interface Match {
  readonly change: ResolvedChange;
  readonly mapping: Mapping;
  /** Workloads in the mapping's namespace that its selector and kinds select. */
  readonly workloads: readonly WorkloadState[];
}

export type SkipReason = 'AlreadyAtVersion';

export interface Cause {
  readonly mappingKey: string;
  readonly messageId: string;
  readonly eventId: string;
  readonly secretKey: string;
  readonly version: string;
}

export interface WorkloadAction {
  readonly workload: WorkloadRef;
  readonly decision: 'restart' | 'skip';
  readonly reason?: SkipReason;
  /** secret key → version the restart records (only keys whose version moves). */
  readonly versions: Readonly<Record<string, string>>;
  /** What the pod template records now; a restart keeps it beside the new versions. */
  readonly applied: Readonly<Record<string, string>>;
  readonly rollout: Rollout;
  readonly resourceVersion?: string;
  readonly causes: readonly Cause[];
}

export function planRestarts(matches: readonly Match[]): WorkloadAction[] {
  const groups = new Map<string, { state: WorkloadState; causes: Cause[]; winners: Map<string, ResolvedChange> }>();
  for (const m of matches) {
    // The mapping already recorded this version (at creation or by an earlier rotation).
    if (m.mapping.appliedVersion === m.change.version) continue;
    for (const w of m.workloads) {
      // A mapping only ever touches its own namespace, whatever the lister returned.
      if (w.namespace !== m.mapping.namespace || !m.mapping.workloadKinds.includes(w.kind)) continue;
      const id = workloadId(w);
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { state: w, causes: [], winners: new Map() }));
      const c = m.change;
      g.causes.push({ mappingKey: m.mapping.key, messageId: c.messageId, eventId: c.change.eventId, secretKey: c.secretKey, version: c.version });
      const current = g.winners.get(c.secretKey);
      if (!current || !isOlder(c, current)) g.winners.set(c.secretKey, c);
    }
  }
  return [...groups.keys()].sort().map((id) => decide(groups.get(id)!));
}

function decide(g: { state: WorkloadState; causes: Cause[]; winners: Map<string, ResolvedChange> }): WorkloadAction {
  const versions: Record<string, string> = {};
  for (const [key, c] of [...g.winners].sort(([a], [b]) => a.localeCompare(b))) {
    if (g.state.appliedVersions[key] !== c.version) versions[key] = c.version;
  }
  const workload: WorkloadRef = { kind: g.state.kind, namespace: g.state.namespace, name: g.state.name };
  const common = {
    workload,
    versions,
    applied: g.state.appliedVersions,
    rollout: g.state.rollout,
    ...(g.state.resourceVersion ? { resourceVersion: g.state.resourceVersion } : {}),
    causes: g.causes,
  };
  if (Object.keys(versions).length === 0) return { ...common, decision: 'skip', reason: 'AlreadyAtVersion' };
  return { ...common, decision: 'restart' };
}

/** Later event wins; equal or unknown times keep batch order (later message wins). */
function isOlder(candidate: ResolvedChange, current: ResolvedChange): boolean {
  const a = Date.parse(candidate.change.eventTime ?? '');
  const b = Date.parse(current.change.eventTime ?? '');
  return !Number.isNaN(a) && !Number.isNaN(b) && a < b;
}
