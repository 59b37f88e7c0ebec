/**
 * When is the leader's work stuck? Every call has a deadline, so a batch that makes no
 * progress (no API request ends) for several deadlines means a bug or a call outside
 * them: then this replica should give up leadership rather than hold the lease while
 * nothing moves. Pure.
 */

/** A batch is stuck after this many request deadlines without any request ending. */
export const STALL_REQUEST_DEADLINES = 6;

export function stallOf({ now, busyMs, lastProgressAt, stallMs }: { now: number; busyMs: number; lastProgressAt: number; stallMs: number }): string | undefined {
  const quietMs = now - lastProgressAt;
  if (busyMs < stallMs || quietMs < stallMs) return undefined;
  return `work stalled: the batch in hand made no progress for ${Math.round(Math.min(busyMs, quietMs) / 1000)} s`;
}
