/**
 * Where each rollout lives, for the shell (rollouts.ts): a mapping's in its status.rollout,
 * under its spec.rollout; a discovered source's in an annotation on its object
 * (discovery/rolloutRecords.ts), under the chart's policy alone (a source has no spec of
 * ours). Everything else the shell does is the same for both.
 */
import { setCondition } from '../mappings/conditions';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping, SecretsRotationMapping } from '../mappings/model';
import type { NamespaceListings } from '../mappings/selected';
import type { StatusWriter } from '../mappings/statusWriter';
import type { SourceRecord, SourceRecords } from '../discovery/rolloutRecords';
import type { Decision, Requests, RolloutPolicy, RolloutRecord } from '../rollout/engine';
import type { WorkloadState } from '../workloads/workload';
import { haltedCondition, preferredCanaries, readRecord, requestsOf, resolvePolicy, rolloutPatch, type ChartPolicy } from './rolloutState';

/** One rollout's record, the policy and requests that govern it, and how it is listed and written. */
export interface Home {
  readonly mapping: Mapping;
  readonly record: RolloutRecord | undefined;
  /** The summary persisted beside the record. */
  readonly summary: string | undefined;
  /** The event that last moved it, for logs. */
  readonly eventId: string;
  readonly requests: Requests;
  /** Throws on a window the CRD should have refused. */
  policy(): RolloutPolicy;
  preferredCanaries(listed: readonly WorkloadState[]): string[];
  /** Its workloads; a mapping's through the pass's `listings` (a namespace's lists shared where many ask). */
  list(listings: NamespaceListings): Promise<WorkloadState[]>;
  /** Persists a decision (fenced); false when it was not written. */
  write(d: Decision, now: Date, eventId: string): Promise<boolean>;
}

export interface RolloutHomesOptions {
  /** The mappings as last seen or written (the watcher's cache): spec, annotations, status.rollout. */
  readonly mappings: { keys(): string[]; object(key: string): SecretsRotationMapping | undefined };
  readonly index: Pick<MappingIndex, 'get'>;
  /** Writes status.rollout (the watcher's StatusWriter: fenced, one write at a time per mapping). */
  readonly writer: Pick<StatusWriter, 'patchStatus'>;
  /** Discovered sources' records; absent when discovery is off. */
  readonly sources?: SourceRecords;
  readonly chart: ChartPolicy;
}

export class RolloutHomes {
  constructor(private readonly opts: RolloutHomesOptions) {}

  /** The home of `mapping`'s rollout as it is now; undefined when its object is gone. */
  async of(mapping: Mapping): Promise<Home | undefined> {
    if (mapping.origin) {
      const s = await this.opts.sources?.of(mapping.key);
      return s && this.sourceHome(s);
    }
    const obj = this.opts.mappings.object(mapping.key);
    return obj && this.mappingHome(mapping, obj);
  }

  /** Every home with a record; the mappings' from the cache, the sources' from discovery's listing. */
  async all(): Promise<Home[]> {
    const homes: Home[] = [];
    for (const key of this.opts.mappings.keys()) {
      const obj = this.opts.mappings.object(key);
      const mapping = this.opts.index.get(key);
      if (obj?.status?.rollout && mapping) homes.push(this.mappingHome(mapping, obj));
    }
    for (const s of (await this.opts.sources?.all()) ?? []) if (s.record) homes.push(this.sourceHome(s));
    return homes;
  }

  private mappingHome(mapping: Mapping, obj: SecretsRotationMapping): Home {
    const { chart, writer } = this.opts;
    const record = readRecord(obj.status?.rollout);
    return {
      mapping,
      record,
      summary: typeof obj.status?.rollout?.summary === 'string' ? obj.status.rollout.summary : undefined,
      eventId: obj.status?.lastRotation?.eventId ?? '',
      requests: requestsOf(obj.metadata.annotations),
      policy: () => resolvePolicy(obj.spec, chart),
      preferredCanaries: (listed) => preferredCanaries(obj.spec, listed),
      list: (listings) => listings.list(recordedKindsOnly(mapping, record)),
      write: (d, now) =>
        writer.patchStatus(mapping.key, (cur) => ({
          rollout: rolloutPatch(cur.rollout, d.record, d.summary),
          conditions: setCondition(cur.conditions, { ...haltedCondition(d), observedGeneration: mapping.generation }, now),
        })),
    };
  }

  private sourceHome(s: SourceRecord): Home {
    const sources = this.opts.sources!;
    return {
      mapping: s.mapping,
      record: readRecord(s.record),
      summary: typeof s.record?.summary === 'string' ? s.record.summary : undefined,
      eventId: typeof s.record?.eventId === 'string' ? s.record.eventId : '',
      requests: requestsOf(s.annotations),
      policy: () => resolvePolicy(undefined, this.opts.chart),
      // The chart's policy names no canary selector.
      preferredCanaries: () => [],
      list: () => sources.consumers(s.mapping),
      // The whole record each time (an annotation is one string); the event that moved it rides along, as lastRotation's does for a mapping.
      write: async (d, _now, eventId) => {
        await sources.write(s.mapping, { ...d.record, summary: d.summary, eventId });
        return true;
      },
    };
  }
}

/**
 * The mapping with only the workload kinds its rollout holds: a rollout's workloads are
 * fixed when it is admitted, so the loop need not list the others (a Deployment-only
 * rollout costs one list a pass, not three; docs/performance.md, burst D).
 */
export function recordedKindsOnly(mapping: Mapping, record: RolloutRecord | undefined): Mapping {
  if (!record) return mapping;
  const kinds = new Set(record.workloads.map((id) => id.slice(0, id.indexOf('/'))));
  return { ...mapping, workloadKinds: mapping.workloadKinds.filter((k) => kinds.has(k)) };
}
