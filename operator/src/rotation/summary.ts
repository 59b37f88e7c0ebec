/**
 * What a rotation tells about itself. Pure. Per batch: which changes are done, and per
 * mapping the status record and the Event. The status must stay within the API
 * server's limits whatever the number of workloads (a mapping may select a thousand),
 * so the record lists a bounded number of workloads, the most telling first (failures,
 * then those whose pods do not roll yet), with counts for all.
 */
import type { Mapping, RotationRecord, WorkloadRecord, WorkloadResult } from '../mappings/model';
import { moves, newerChange, type Match, type ResolvedChange, type WorkloadAction } from './plan';

/** Workloads listed in status.lastRotation.workloads at most. */
export const MAX_RECORDED_WORKLOADS = 100;
/** Longest reason kept per listed workload (an API error can be long). */
const MAX_REASON_CHARS = 128;
/** Longest condition (and Event) message written. */
export const MAX_MESSAGE_CHARS = 2048;

const ORDER: readonly WorkloadResult[] = ['Failed', 'Deferred', 'Pending', 'Restarted', 'WouldRestart', 'Skipped'];

export type EventReason = 'Rotated' | 'RotationFailed' | 'RotationDryRun' | 'RotationDeferred' | 'RotationIncomplete';

/** The `result` label of the rotations metric, per Event reason. */
export const ROTATION_RESULT: Readonly<Record<EventReason, 'rotated' | 'failed' | 'dry_run' | 'deferred' | 'incomplete'>> = {
  Rotated: 'rotated',
  RotationFailed: 'failed',
  RotationDryRun: 'dry_run',
  RotationDeferred: 'deferred',
  RotationIncomplete: 'incomplete',
};

/**
 * Why some of a mapping's workloads were not even considered in a batch (the change is
 * retried): `WaitingForExternalSecret`, a workload reads a Secret ESO has not synced yet;
 * `ListFailed`, its workloads could not be listed.
 */
export type IncompleteReason = 'WaitingForExternalSecret' | 'ListFailed';

export interface Incomplete {
  readonly reason: IncompleteReason;
  /** One clause for the message: which workloads, or the listing's error. */
  readonly detail: string;
}

export interface RotationSummary {
  readonly record: RotationRecord;
  readonly succeeded: boolean;
  /** One line for the condition, the Event and the log: counts, then the workloads worth naming. */
  readonly message: string;
  readonly eventReason: EventReason;
  readonly conditionReason: 'WorkloadsRestarted' | 'RolloutDeferred' | 'RestartFailed' | 'DryRun' | IncompleteReason;
}

export function summariseRotation(
  change: { secretKey: string; version: string; eventId: string; eventTime?: string },
  workloads: readonly WorkloadRecord[],
  completionTime: string,
  dryRun: boolean,
  /** Set when some workloads were not considered: never a success, whatever the others did. */
  incomplete?: Incomplete,
): RotationSummary {
  const sorted = [...workloads].sort((a, b) => ORDER.indexOf(a.result) - ORDER.indexOf(b.result) || `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  const summary: Partial<Record<WorkloadResult, number>> = {};
  for (const w of workloads) summary[w.result] = (summary[w.result] ?? 0) + 1;
  const count = (r: WorkloadResult) => summary[r] ?? 0;
  const failed = count('Failed') > 0;
  const succeeded = !failed && !incomplete;
  const deferred = count('Deferred') + count('Pending') > 0;
  const counts = ORDER.filter((r) => count(r) > 0).map((r) => `${count(r)} ${r}`);
  const head = `secret ${change.secretKey} version ${change.version}: ${counts.length > 0 ? counts.join(', ') : incomplete ? 'nothing rolled yet' : 'no workloads selected'}`;
  const tail = incomplete ? `; not complete, retried: ${incomplete.detail}` : '';
  const record: RotationRecord = {
    secretVersion: change.version,
    eventId: change.eventId,
    ...(change.eventTime ? { eventTime: change.eventTime } : {}),
    completionTime,
    ...(dryRun ? { dryRun: true } : {}),
    summary,
    workloadCount: workloads.length,
    workloads: sorted.slice(0, MAX_RECORDED_WORKLOADS).map((w) => ({ ...w, ...(w.reason ? { reason: truncate(w.reason, MAX_REASON_CHARS) } : {}) })),
  };
  return {
    record,
    succeeded,
    message: truncate(`${head}${sorted.length > 0 ? ` (${sorted.map(describe).join(', ')})` : ''}${tail}`, MAX_MESSAGE_CHARS),
    eventReason: failed ? 'RotationFailed' : incomplete ? 'RotationIncomplete' : dryRun ? 'RotationDryRun' : deferred ? 'RotationDeferred' : 'Rotated',
    conditionReason: failed ? 'RestartFailed' : incomplete ? incomplete.reason : dryRun ? 'DryRun' : deferred ? 'RolloutDeferred' : 'WorkloadsRestarted',
  };
}

function describe(w: WorkloadRecord): string {
  return `${w.kind}/${w.name} ${w.result}${w.reason ? ` (${w.reason})` : ''}`;
}

export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const note = ' … (truncated)';
  return s.slice(0, Math.max(0, max - note.length)) + note;
}

/** What executing one action came to. */
export interface Outcome {
  readonly result: WorkloadResult;
  readonly reason?: string;
}

export interface Executed {
  readonly action: WorkloadAction;
  readonly outcome: Outcome;
}

/** What to write for one mapping the batch moved to a new version. */
export interface MappingReport {
  readonly mapping: Mapping;
  /** The newest change the batch brought the mapping. */
  readonly change: ResolvedChange;
  readonly summary: RotationSummary;
  /** The version status records as applied: only when every workload took it, and not in a dry run. */
  readonly appliedVersion?: string;
}

export interface BatchSummary {
  /** Per change id: whether all its work is done (its message may be deleted). */
  readonly done: Map<string, boolean>;
  readonly reports: readonly MappingReport[];
}

/**
 * A change is done unless listing one of its mappings' workloads failed or a workload it
 * asked for failed. One report per mapping the batch moved to a new version, including
 * one that selects no workload (its baseline still advances, or drift would find it
 * behind forever); none for a redelivery the mapping already recorded. A mapping in
 * `incomplete` (workloads held back, or not listed) is reported as not succeeded, with
 * the reason, and records no version: the retried change must still find it behind.
 */
export function summariseBatch(batch: {
  readonly changes: readonly ResolvedChange[];
  readonly matches: readonly Match[];
  /** Change ids for which listing some mapping's workloads failed. */
  readonly unlisted: readonly string[];
  readonly executed: readonly Executed[];
  /** Mappings some of whose workloads the batch did not consider, with the change that asked. */
  readonly incomplete?: readonly (Incomplete & { readonly mapping: Mapping; readonly change: ResolvedChange })[];
  readonly completionTime: string;
  readonly dryRun: boolean;
}): BatchSummary {
  const done = new Map<string, boolean>(batch.changes.map((c) => [c.changeId, true]));
  for (const id of batch.unlisted) done.set(id, false);
  for (const { action, outcome } of batch.executed) if (outcome.result === 'Failed') for (const c of action.causes) done.set(c.changeId, false);

  const newest = new Map<string, { mapping: Mapping; change: ResolvedChange }>();
  for (const m of [...batch.matches, ...(batch.incomplete ?? [])]) newest.set(m.mapping.key, { mapping: m.mapping, change: newerChange(m.change, newest.get(m.mapping.key)?.change) });
  const incomplete = new Map((batch.incomplete ?? []).map((i) => [i.mapping.key, i]));
  const reports: MappingReport[] = [];
  for (const { mapping, change } of newest.values()) {
    const mine = batch.executed.filter(({ action }) => action.causes.some((c) => c.mappingKey === mapping.key));
    if (mine.length === 0 && !moves(mapping, change)) continue;
    const workloads: WorkloadRecord[] = mine.map(({ action, outcome }) => ({
      kind: action.workload.kind,
      name: action.workload.name,
      result: outcome.result,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    }));
    const summary = summariseRotation(
      { secretKey: change.secretKey, version: change.version, eventId: change.change.eventId, eventTime: change.change.eventTime },
      workloads,
      batch.completionTime,
      batch.dryRun,
      incomplete.get(mapping.key),
    );
    reports.push({ mapping, change, summary, ...(summary.succeeded && !batch.dryRun ? { appliedVersion: change.version } : {}) });
  }
  return { done, reports };
}
