/**
 * Drift recovery: CloudTrail-delivered events are best effort and a queue can be
 * purged, so on an interval each mapped secret's AWSCURRENT version is compared with
 * what its mappings last applied. One pass lists once: ListSecrets pages (about one call
 * per 100 secrets, secrets/listing.ts) say which secrets agree with every record. A
 * listing may be five minutes old, so a listed version that differs is only a hint:
 * DescribeSecret (once per such secret and pass) confirms it, and a record moves only
 * to a version the read shows is newer (secrets/versionOrder.ts), never backwards. A
 * confirmed difference becomes an ordinary change, planned and executed like one from
 * SQS (already-current workloads skip), that
 * moves only the records it was found newer than (ResolvedChange.replaces).
 */
import type { Term } from '../leader/fence';
import { errorMessage, type Logger } from '../log';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping } from '../mappings/model';
import type { Metrics } from '../metrics';
import type { SecretDescriber, SecretDescription } from '../secrets/describer';
import type { SecretListing } from '../secrets/listing';
import { canonicalSecretKey, inOwnRegion, resolvedSecretRef } from '../secrets/secretId';
import { readIsNewer, type RecordedVersion, type VersionRead } from '../secrets/versionOrder';
import type { ResolvedChange } from './plan';

export interface DriftOptions {
  readonly index: MappingIndex;
  readonly describer: SecretDescriber;
  /** Without it, every secret is described. */
  readonly listing?: SecretListing;
  /** Must run on the same serial path as the SQS batches (main.ts: one RotationLane). */
  readonly rotate: (changes: readonly ResolvedChange[], signal?: AbortSignal) => Promise<Map<string, boolean>>;
  readonly recordBaseline: (mapping: Mapping, version: string) => Promise<boolean>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly region: string;
  readonly now?: () => Date;
}

/** How a record stands against a read of its secret. Pure. */
export type Standing = 'current' | 'unrecorded' | 'behind' | 'ahead';

/** `behind`: the read is newer; `ahead`: it differs but is not shown newer (a stale read, or one that cannot be ordered against it). */
export function standing(read: VersionRead, recorded: RecordedVersion | undefined): Standing {
  if (!recorded) return 'unrecorded';
  if (recorded.version === read.currentVersion) return 'current';
  return readIsNewer(read, recorded) ? 'behind' : 'ahead';
}

/** The mappings' standings against `read`. Pure. */
export function driftOf(mappings: readonly Mapping[], read: VersionRead): Record<Standing, Mapping[]> {
  const out: Record<Standing, Mapping[]> = { current: [], unrecorded: [], behind: [], ahead: [] };
  for (const m of mappings) out[standing(read, mappingRecord(m))].push(m);
  return out;
}

function mappingRecord(m: Mapping): RecordedVersion | undefined {
  return m.appliedVersion ? { version: m.appliedVersion, ...(m.appliedSince ? { since: m.appliedSince } : {}) } : undefined;
}

/**
 * Whether a listed version settles a secret without DescribeSecret: only when it is the
 * very version every record holds (anything else, a baseline to record included, is a
 * hint to confirm). Pure.
 */
export function listingAgrees(listed: VersionRead | undefined, records: readonly (RecordedVersion | undefined)[]): boolean {
  return listed?.currentVersion !== undefined && records.every((r) => r?.version === listed.currentVersion);
}

export async function checkDrift(o: DriftOptions, signal?: AbortSignal): Promise<void> {
  const bySecret = new Map<string, Mapping[]>();
  for (const m of o.index.all()) {
    if (!inOwnRegion(o.region, m.secret.region)) continue;
    const list = bySecret.get(m.secret.raw) ?? [];
    list.push(m);
    bySecret.set(m.secret.raw, list);
  }
  const listed = (await o.listing?.settle([...bySecret.values()].map((ms) => ms[0].secret), signal)) ?? new Map<string, SecretDescription>();
  for (const [secretId, candidates] of bySecret) {
    if (signal?.aborted) return;
    const hint = listed.get(secretId);
    if (hint && listingAgrees(hint, candidates.map(mappingRecord))) continue;
    let d: SecretDescription;
    try {
      d = await o.describer.describe(secretId, signal);
    } catch (err) {
      o.log.warn('drift check: DescribeSecret failed', { secret: secretId, error: errorMessage(err) });
      continue;
    }
    if (!d.currentVersion) continue;
    const secret = resolvedSecretRef(d.arn, d.name);
    const secretKey = canonicalSecretKey(secret);
    // Re-check against the exact identity AWS returned (ambiguous ARNs).
    const mappings = candidates.filter((m) => o.index.lookup(secret).some((x) => x.key === m.key));
    const { behind, unrecorded, ahead } = driftOf(mappings, d);
    for (const m of unrecorded) await o.recordBaseline(m, d.currentVersion);
    const replaces = new Set(behind.map((m) => m.appliedVersion!));
    const eventId = `drift:${d.name}:${d.currentVersion}`;
    if (ahead.length > 0) o.log.info('drift check: Secrets Manager answers a version not newer than the one recorded; the record is kept', { eventId, secret: d.arn, version: d.currentVersion, mapping: ahead.map((m) => m.key).join(',') });
    if (replaces.size === 0) continue;
    o.metrics.driftDetected.inc();
    o.log.warn('drift detected: secret is on a newer version than applied', { eventId, secret: d.arn, version: d.currentVersion, replaces: [...replaces].join(','), mapping: behind.map((m) => m.key).join(',') });
    await o.rotate(
      [
        {
          changeId: eventId,
          // The change's time is AWS's, when the read says the secret last changed: it is what the record is ordered by next time.
          change: { kind: 'DriftDetected', eventId, eventTime: d.lastChanged ?? (o.now?.() ?? new Date()).toISOString(), secret, versionId: d.currentVersion },
          secretKey,
          version: d.currentVersion,
          replaces: [...replaces].sort(),
        },
      ],
      signal,
    );
  }
}

/**
 * Runs drift passes for a term, one at a time: the next is scheduled when the last has
 * ended, so a slow pass (a Secrets Manager outage) delays the next instead of piling up.
 */
export class DriftScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private term?: Term;
  private passAbort?: AbortController;

  /** `pass` gets the term and a signal that aborts when the term ends or stop() is called. */
  constructor(
    private readonly intervalMs: number,
    private readonly pass: (term: Term, signal: AbortSignal) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Runs a first pass now, then one `intervalMs` after each pass ends, until stop() or the term ends. */
  start(term: Term): void {
    this.stop();
    this.term = term;
    this.schedule(0);
  }

  /** Schedules no more passes and cuts the running one short (at its next step); resolves when it has ended. */
  stop(): Promise<void> | undefined {
    this.term = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.passAbort?.abort(new Error('drift recovery stopped'));
    return this.running;
  }

  private schedule(ms: number): void {
    const term = this.term;
    if (!term || term.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (term.signal.aborted || this.term !== term) return;
      this.passAbort = new AbortController();
      this.running = this.pass(term, AbortSignal.any([term.signal, this.passAbort.signal]))
        .catch((err: unknown) => void this.log.error('drift check failed', { error: errorMessage(err) }))
        .finally(() => {
          this.running = undefined;
          if (this.term === term) this.schedule(this.intervalMs);
        });
    }, ms);
    this.timer.unref?.();
  }
}
