/** How long a restart took to follow the changes that caused it. Pure. */
import type { ResolvedChange, WorkloadAction } from './plan';

export interface RestartLatency {
  /** Seconds since the earliest causing event happened (its eventTime). */
  readonly fromEvent?: number;
  /** Seconds since the earliest causing message entered the queue (SQS SentTimestamp). */
  readonly fromQueue?: number;
}

/** `changes`: the batch's changes; those the action's causes name count. `now`: ms since the epoch. */
export function restartLatency(action: Pick<WorkloadAction, 'causes'>, changes: readonly ResolvedChange[], now: number): RestartLatency {
  const causing = new Set(action.causes.map((c) => c.changeId));
  const mine = changes.filter((c) => causing.has(c.changeId));
  // A drift catch has no event: its time is when the secret last changed, minutes or
  // days before it was caught (drift_detected_total counts those).
  const fromEvent = secondsSinceEarliest(mine.filter((c) => c.change.kind !== 'DriftDetected').map((c) => Date.parse(c.change.eventTime ?? '')), now);
  const fromQueue = secondsSinceEarliest(mine.map((c) => c.sentAt ?? NaN), now);
  return { ...(fromEvent !== undefined ? { fromEvent } : {}), ...(fromQueue !== undefined ? { fromQueue } : {}) };
}

/** Never negative (clocks differ); undefined when no time is known. */
function secondsSinceEarliest(times: readonly number[], now: number): number | undefined {
  const earliest = Math.min(...times.filter((t) => !Number.isNaN(t)));
  return Number.isFinite(earliest) ? Math.max(0, (now - earliest) / 1000) : undefined;
}
