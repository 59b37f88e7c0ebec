/**
 * Which of two versions of a secret is the newer one. Pure. Version ids are opaque
 * UUIDs, and every Secrets Manager read is eventually consistent (a ListSecrets answer up
 * to five minutes old, a DescribeSecret briefly old after a write), so a version read
 * back is newer than the one recorded only when the read itself shows it:
 *  - the read labels the recorded version AWSPREVIOUS: AWS moves that label, by itself,
 *    to the version AWSCURRENT was taken from, so AWSCURRENT moved off the recorded
 *    version before this read was taken (a rollback to an older version included: it
 *    is a newer change);
 *  - the read labels it AWSPENDING: the read was taken before the recorded version was
 *    promoted (a rotation's createSecret step), so it is older;
 *  - the read does not know it (AWS drops versions without labels, two moves later; or
 *    the read predates its creation): the read's LastChangedDate decides, against when
 *    the recorded version became current (its event's time, AWS's clock, whole seconds:
 *    a read changed within that same second is not taken as newer, unless the caller
 *    settles an event: `sameSecond`);
 *  - when no time is known on either side, the read wins: AWSCURRENT as Secrets Manager
 *    answers is the only authority left, and a read stale that way corrects itself at
 *    the next read, while refusing it would leave a lost change unapplied for good.
 */
import { AWSPENDING, AWSPREVIOUS } from './stages';

/** What a read of the secret says (DescribeSecret, or a ListSecrets entry). */
export interface VersionRead {
  readonly currentVersion?: string;
  /** Every labelled version with its labels (DescribeSecret's VersionIdsToStages). */
  readonly versions?: Readonly<Record<string, readonly string[]>>;
  /** The secret's LastChangedDate (ISO 8601). */
  readonly lastChanged?: string;
}

/** A version recorded as applied, and when it became current when known (ISO 8601). */
export interface RecordedVersion {
  readonly version: string;
  readonly since?: string;
}

/** An event's time has whole seconds: a read within the same second may predate it. */
const EVENT_TIME_GRANULARITY_MS = 1000;

/**
 * Whether `read`'s AWSCURRENT is a newer version than `recorded` (false when it is the same
 * one). `sameSecond` says what a read changed within the second `recorded.since` names is:
 * older for a record (drift never moves one on a doubt), newer for an event being settled
 * (settleChange): a burst of writes within one second then settles on the newest version
 * the read shows, so each workload restarts once, while a read from an earlier second
 * still loses to the event.
 */
export function readIsNewer(read: VersionRead, recorded: RecordedVersion, sameSecond: 'older' | 'newer' = 'older'): boolean {
  if (!read.currentVersion || read.currentVersion === recorded.version) return false;
  const labels = read.versions?.[recorded.version];
  if (labels?.includes(AWSPREVIOUS)) return true;
  if (labels?.includes(AWSPENDING)) return false;
  const changed = Date.parse(read.lastChanged ?? '');
  const since = Date.parse(recorded.since ?? '');
  if (Number.isNaN(changed) || Number.isNaN(since)) return true;
  return changed >= since + (sameSecond === 'older' ? EVENT_TIME_GRANULARITY_MS : 0);
}
