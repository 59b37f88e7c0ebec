/**
 * Where a discovered source's rollout is recorded (docs/rollouts.md): an annotation on the
 * ExternalSecret or SecretProviderClass itself (SOURCE_ROLLOUT_ANNOTATION), holding the JSON
 * a mapping keeps in status.rollout. It lives in the API server, so a restart or a new
 * leader reads it back; it goes with its source when the source is deleted; it is bounded
 * like the status. Records are read from discovery's listing (sources.ts), which may be a
 * moment old: what this replica wrote since is read first, until it stops leading
 * (`forget`), since the next leader may write after it. A record read a moment late is
 * safe all the same: the engine takes a workload whose template already carries the
 * versions as stamped. Writes go through the fenced client (main.ts): the leader's only.
 */
import type * as k8s from '@kubernetes/client-node';
import { isRecord } from '../core/json';
import { SOURCE_ROLLOUT_ANNOTATION } from '../core/names';
import type { Mapping } from '../mappings/model';
import { FIELD_MANAGER, MERGE_PATCH } from '../kube/patch';
import type { WorkloadClient } from '../workloads/adapters';
import type { WorkloadKind, WorkloadState } from '../workloads/workload';
import { consumes, pluralOf, sourcesAsMappings, type DiscoveredSource } from './model';
import type { DiscoveredSources } from './sources';

/** A source as its rollout sees it. */
export interface SourceRecord {
  /** The source as a mapping (its first secret): what the rotation plans, lists and reports. */
  readonly mapping: Mapping;
  /** The record's JSON, undefined when there is none or it is not a JSON object. */
  readonly record: Readonly<Record<string, unknown>> | undefined;
  /** Its annotations under the operator's group (a person's resume / abandon / override requests). */
  readonly annotations: Readonly<Record<string, string>>;
}

export interface SourceRecordsOptions {
  readonly sources: Pick<DiscoveredSources, 'snapshot'>;
  /** Fenced (the patch is a write), with deadlines and the shared limiter (main.ts). */
  readonly api: Pick<k8s.CustomObjectsApi, 'patchNamespacedCustomObject'>;
  readonly workloads: Pick<WorkloadClient, 'list'>;
  readonly kinds: readonly WorkloadKind[];
}

export class SourceRecords {
  /** Source key → what this replica last wrote there, for the object of that uid. */
  private readonly written = new Map<string, { uid: string; record: Readonly<Record<string, unknown>> }>();

  constructor(private readonly opts: SourceRecordsOptions) {}

  /** Every source that names an AWS secret, with its record. */
  async all(): Promise<SourceRecord[]> {
    const found = await this.opts.sources.snapshot();
    const present = new Set(found.map((s) => s.key));
    for (const key of [...this.written.keys()]) if (!present.has(key)) this.written.delete(key);
    return found.flatMap((s) => this.recordOf(s) ?? []);
  }

  /** The source of `key` with its record; undefined when it is gone. */
  async of(key: string): Promise<SourceRecord | undefined> {
    const s = (await this.opts.sources.snapshot()).find((x) => x.key === key);
    return s && this.recordOf(s);
  }

  /** Writes the record on the source's object (only there: a source deleted or replaced since refuses it). */
  async write(mapping: Mapping, record: Readonly<Record<string, unknown>>): Promise<void> {
    const object = mapping.origin!.object;
    const [group, version] = object.apiVersion.split('/');
    const metadata = { ...(object.uid ? { uid: object.uid } : {}), annotations: { [SOURCE_ROLLOUT_ANNOTATION]: JSON.stringify(record) } };
    await this.opts.api.patchNamespacedCustomObject(group, version, object.namespace, pluralOf(object), object.name, { metadata }, undefined, FIELD_MANAGER, undefined, MERGE_PATCH);
    this.written.set(mapping.key, { uid: object.uid ?? '', record });
  }

  /** The workloads of the source's namespace whose pod template consumes it. */
  async consumers(mapping: Mapping): Promise<WorkloadState[]> {
    const origin = mapping.origin!;
    const all = await Promise.all(mapping.workloadKinds.map((kind) => this.opts.workloads.list(kind, mapping.namespace, '')));
    return all.flat().filter((w) => consumes(w.references, origin));
  }

  /** This replica stopped leading: what it wrote may be overwritten by the next leader. */
  forget(): void {
    this.written.clear();
  }

  private recordOf(s: DiscoveredSource): SourceRecord | undefined {
    const [mapping] = sourcesAsMappings([s], this.opts.kinds);
    if (!mapping) return undefined;
    const mine = this.written.get(s.key);
    const record = mine && mine.uid === (s.origin.object.uid ?? '') ? mine.record : parse(s.annotations?.[SOURCE_ROLLOUT_ANNOTATION]);
    return { mapping, record, annotations: s.annotations ?? {} };
  }
}

function parse(json: string | undefined): Readonly<Record<string, unknown>> | undefined {
  if (json === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(json);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
