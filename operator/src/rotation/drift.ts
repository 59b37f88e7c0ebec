/**
 * Drift recovery: CloudTrail-delivered events are best effort and a queue can be
 * purged, so on an interval each mapped secret's AWSCURRENT version is compared with
 * what its mappings, and the consumers of the ExternalSecrets and SecretProviderClasses
 * discovery found, last applied. One pass lists once: ListSecrets pages (about one call
 * per 100 secrets, secrets/listing.ts) say which secrets agree with every record. A
 * listing may be five minutes old, so a listed version that differs is only a hint:
 * DescribeSecret (once per such secret and pass) confirms it, and a record moves only
 * to a version the read shows is newer (secrets/versionOrder.ts), never backwards. A
 * confirmed difference becomes an ordinary change, planned and executed like one from
 * SQS (already-current workloads skip, an ExternalSecret's consumers wait for ESO), that
 * moves only the records it was found newer than (ResolvedChange.replaces).
 */
import { consumes } from '../discovery/model';
import type { Term } from '../leader/fence';
import { errorMessage, type Logger } from '../core/log';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping } from '../mappings/model';
import type { Metrics } from '../core/metrics';
import type { SecretDescriber, SecretDescription } from '../secrets/describer';
import type { SecretListing } from '../secrets/listing';
import { canonicalSecretKey, inOwnRegion, resolvedSecretRef, secretRefsMatch } from '../secrets/secretId';
import { readIsNewer, type RecordedVersion, type VersionRead } from '../secrets/versionOrder';
import type { WorkloadClient } from '../workloads/adapters';
import type { WorkloadKind, WorkloadState } from '../workloads/workload';
import type { ResolvedChange } from './plan';

export interface DriftOptions {
  readonly index: MappingIndex;
  readonly describer: SecretDescriber;
  /** Without it, every secret is described. */
  readonly listing?: SecretListing;
  /** Must run on the same serial path as the SQS batches (main.ts: one RotationLane). */
  readonly rotate: (changes: readonly ResolvedChange[], signal?: AbortSignal) => Promise<Map<string, boolean>>;
  readonly recordBaseline: (mapping: Mapping, version: string) => Promise<boolean>;
  /** What discovery found; absent when it is off. */
  readonly discovered?: DiscoveredDrift;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly region: string;
  readonly now?: () => Date;
}

/**
 * Discovered sources have no status: what their consumers last applied is what the
 * operator stamped on each consumer's pod template (SECRET_VERSIONS_ANNOTATION, the
 * restart's idempotency key), as of RESTARTED_AT_ANNOTATION (docs/discovery.md).
 */
export interface DiscoveredDrift {
  /** Every secret each source names, as mappings (discovery/model.ts sourcesAsMappings). Throws when they cannot be listed. */
  sources(): Promise<readonly Mapping[]>;
  readonly workloads: Pick<WorkloadClient, 'list'>;
  /**
   * A source none of whose consumers a restart stamped yet has no record on the cluster:
   * the first DescribeSecret a pass makes for it is its baseline, kept here for the
   * process's life (one store across passes and terms), so that a later lost event still
   * rolls its consumers. Keyed by baselineKey(). A new process starts without: a change
   * made before its first pass, with its event lost, is not recovered (docs/discovery.md).
   */
  readonly baselines: Map<string, RecordedVersion>;
}

/** Where a source's baseline for one secret is kept in DiscoveredDrift.baselines. */
export const baselineKey = (source: Pick<Mapping, 'key'>, secretKey: string): string => `${source.key}|${secretKey}`;

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

/** What a consumer's pod template records for `secretKey`; undefined when no restart stamped it. */
export function consumerRecord(w: WorkloadState, secretKey: string): RecordedVersion | undefined {
  const version = w.appliedVersions[secretKey];
  return version ? { version, ...(w.restartedAt ? { since: w.restartedAt } : {}) } : undefined;
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
  let discovered: readonly Mapping[] = [];
  try {
    discovered = (await o.discovered?.sources()) ?? [];
  } catch (err) {
    o.log.warn('drift check: listing discovered ExternalSecrets / SecretProviderClasses failed; this pass covers mappings only', { error: errorMessage(err) });
  }
  const bySecret = new Map<string, Mapping[]>();
  for (const m of [...o.index.all(), ...discovered]) {
    if (!inOwnRegion(o.region, m.secret.region)) continue;
    const list = bySecret.get(m.secret.raw) ?? [];
    list.push(m);
    bySecret.set(m.secret.raw, list);
  }
  const listed = (await o.listing?.settle([...bySecret.values()].map((ms) => ms[0].secret), signal)) ?? new Map<string, SecretDescription>();
  const consumers = new ConsumerRecords(o.discovered?.workloads, o.discovered?.baselines, o.log);
  for (const [secretId, candidates] of bySecret) {
    if (signal?.aborted) return;
    const hint = listed.get(secretId);
    if (hint && listingAgrees(hint, await recordsOf(candidates, keyOf(hint), consumers))) continue;
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
    const named = o.index.lookup(secret);
    const mappings = candidates.filter((m) => !m.origin && named.some((x) => x.key === m.key));
    const sources = candidates.filter((m) => m.origin && secretRefsMatch(m.secret, secret));
    const { behind, unrecorded, ahead } = driftOf(mappings, d);
    for (const m of unrecorded) await o.recordBaseline(m, d.currentVersion);
    const replaces = new Set(behind.map((m) => m.appliedVersion!));
    const kept = ahead.map((m) => m.key);
    for (const source of sources) {
      for (const r of await consumers.orBaseline(source, secretKey)) {
        const st = standing(d, r);
        if (st === 'behind') replaces.add(r!.version);
        else if (st === 'ahead') kept.push(source.key);
        else if (st === 'unrecorded') o.discovered?.baselines.set(baselineKey(source, secretKey), { version: d.currentVersion, ...(d.lastChanged ? { since: d.lastChanged } : {}) });
      }
    }
    const eventId = `drift:${d.name}:${d.currentVersion}`;
    if (kept.length > 0) o.log.info('drift check: Secrets Manager answers a version not newer than the one recorded; the record is kept', { eventId, secret: d.arn, version: d.currentVersion, mapping: [...new Set(kept)].join(',') });
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

const keyOf = (d: SecretDescription) => canonicalSecretKey(resolvedSecretRef(d.arn, d.name));

/** Every record the candidates hold for `secretKey`: each mapping's, and each stamped consumer's of each source. */
async function recordsOf(candidates: readonly Mapping[], secretKey: string, consumers: ConsumerRecords): Promise<(RecordedVersion | undefined)[]> {
  const out: (RecordedVersion | undefined)[] = [];
  for (const m of candidates) out.push(...(m.origin ? await consumers.orBaseline(m, secretKey) : [mappingRecord(m)]));
  return out;
}

/**
 * One pass's reads of the consumers' records: each kind of each namespace listed once
 * however many sources ask. A source whose consumers cannot be listed is skipped for the
 * pass (logged once): it records nothing, so it neither asks for a read nor moves.
 */
class ConsumerRecords {
  private readonly listings = new Map<string, Promise<WorkloadState[]>>();
  private readonly records = new Map<string, Promise<RecordedVersion[]>>();

  constructor(
    private readonly workloads: Pick<WorkloadClient, 'list'> | undefined,
    private readonly baselines: ReadonlyMap<string, RecordedVersion> | undefined,
    private readonly log: Logger,
  ) {}

  /** What the stamped consumers of `source` record; none stamped: its baseline, undefined (unrecorded) until a pass described the secret. */
  async orBaseline(source: Mapping, secretKey: string): Promise<(RecordedVersion | undefined)[]> {
    const stamped = await this.of(source, secretKey);
    return stamped.length > 0 ? stamped : [this.baselines?.get(baselineKey(source, secretKey))];
  }

  /** What the consumers of `source` that a restart stamped record for `secretKey`. */
  of(source: Mapping, secretKey: string): Promise<RecordedVersion[]> {
    const key = `${source.key}|${secretKey}`;
    let p = this.records.get(key);
    if (!p) {
      p = Promise.all(source.workloadKinds.map((kind) => this.list(kind, source.namespace))).then(
        (all) => all.flat().flatMap((w) => (consumes(w.references, source.origin!) ? (consumerRecord(w, secretKey) ?? []) : [])),
        (err: unknown) => {
          this.log.warn('drift check: listing the consumers of a discovered source failed; it is skipped this pass', { secret: secretKey, mapping: source.key, error: errorMessage(err) });
          return [];
        },
      );
      this.records.set(key, p);
    }
    return p;
  }

  private list(kind: WorkloadKind, namespace: string): Promise<WorkloadState[]> {
    const key = `${kind}/${namespace}`;
    let p = this.listings.get(key);
    if (!p) {
      p = this.workloads ? this.workloads.list(kind, namespace, '') : Promise.resolve([]);
      this.listings.set(key, p);
    }
    return p;
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
    /** What a pass is, for the log (the rollout loop runs on this scheduler too). */
    private readonly what = 'drift check',
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
    this.passAbort?.abort(new Error(`${this.what} stopped`));
    return this.running;
  }

  private schedule(ms: number): void {
    const term = this.term;
    if (!term || term.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (term.signal.aborted || this.term !== term) return;
      this.passAbort = new AbortController();
      const signal = AbortSignal.any([term.signal, this.passAbort.signal]);
      this.running = this.pass(term, signal)
        // A pass cut short because leadership ended or the replica stops is no failure: said at info.
        .catch((err: unknown) => void (signal.aborted && err === signal.reason ? this.log.info(`${this.what} cut short`, { reason: errorMessage(err) }) : this.log.error(`${this.what} failed`, { error: errorMessage(err) })))
        .finally(() => {
          this.running = undefined;
          if (this.term === term) this.schedule(this.intervalMs);
        });
    }, ms);
    this.timer.unref?.();
  }
}
