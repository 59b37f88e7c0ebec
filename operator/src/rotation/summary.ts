/**
 * What a rotation tells about itself, per mapping. Pure. The status must stay within
 * the API server's limits whatever the number of workloads (a mapping may select a
 * thousand), so the record lists a bounded number of workloads, the most telling
 * first (failures, then those whose pods do not roll yet), with counts for all.
 */
import type { RotationRecord, WorkloadRecord, WorkloadResult } from '../mappings/model';

/** Workloads listed in status.lastRotation.workloads at most. */
export const MAX_RECORDED_WORKLOADS = 100;
/** Longest reason kept per listed workload (an API error can be long). */
const MAX_REASON_CHARS = 128;
/** Longest condition (and Event) message written. */
export const MAX_MESSAGE_CHARS = 2048;

const ORDER: readonly WorkloadResult[] = ['Failed', 'Deferred', 'Pending', 'Restarted', 'WouldRestart', 'Skipped'];

export type EventReason = 'Rotated' | 'RotationFailed' | 'RotationDryRun' | 'RotationDeferred';

export interface RotationSummary {
  readonly record: RotationRecord;
  readonly succeeded: boolean;
  /** One line for the condition, the Event and the log: counts, then the workloads worth naming. */
  readonly message: string;
  readonly eventReason: EventReason;
  readonly conditionReason: 'WorkloadsRestarted' | 'RolloutDeferred' | 'RestartFailed' | 'DryRun';
}

export function summariseRotation(
  change: { secretKey: string; version: string; eventId: string; eventTime?: string },
  workloads: readonly WorkloadRecord[],
  completionTime: string,
  dryRun: boolean,
): RotationSummary {
  const sorted = [...workloads].sort((a, b) => ORDER.indexOf(a.result) - ORDER.indexOf(b.result) || `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  const summary: Partial<Record<WorkloadResult, number>> = {};
  for (const w of workloads) summary[w.result] = (summary[w.result] ?? 0) + 1;
  const count = (r: WorkloadResult) => summary[r] ?? 0;
  const succeeded = count('Failed') === 0;
  const deferred = count('Deferred') + count('Pending') > 0;
  const counts = ORDER.filter((r) => count(r) > 0).map((r) => `${count(r)} ${r}`);
  const head = `secret ${change.secretKey} version ${change.version}: ${counts.length > 0 ? counts.join(', ') : 'no workloads selected'}`;
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
    message: truncate(`${head}${sorted.length > 0 ? ` (${sorted.map(describe).join(', ')})` : ''}`, MAX_MESSAGE_CHARS),
    eventReason: !succeeded ? 'RotationFailed' : dryRun ? 'RotationDryRun' : deferred ? 'RotationDeferred' : 'Rotated',
    conditionReason: !succeeded ? 'RestartFailed' : dryRun ? 'DryRun' : deferred ? 'RolloutDeferred' : 'WorkloadsRestarted',
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
