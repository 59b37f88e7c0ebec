/**
 * The latest SecretsRotationMapping seen per key, status included, and the index kept
 * level-triggered from it: the result of `apply` depends only on the object, not on the
 * event history. No I/O: the watcher feeds it events and lists, the status writer what
 * it wrote.
 */
import type { Logger } from '../core/log';
import { mergePatch } from '../core/json';
import { GROUP } from '../core/names';
import type { WorkloadKind } from '../workloads/workload';
import type { MappingIndex } from './mappingIndex';
import { appliedVersionOf, formatFieldErrors, mappingKey, normaliseMapping, type FieldError, type Mapping, type SecretsRotationMapping, type SecretsRotationMappingStatus, type SecretsRotationMappingStatusPatch } from './model';

/**
 * `spec`: the mapping is new, gone, or its spec changed (a relist counts every object
 * as new). `status`: only its status (or metadata) changed, e.g. by our own write.
 */
export type ChangedPart = 'spec' | 'status';

export type MappingEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export class MappingCache {
  private readonly objects = new Map<string, SecretsRotationMapping>();
  private readonly invalid = new Map<string, readonly FieldError[]>();

  constructor(
    private readonly index: MappingIndex,
    private readonly log: Logger,
    /** The workload kinds the operator serves (normaliseMapping's `served`). */
    private readonly kinds?: readonly WorkloadKind[],
  ) {}

  object(key: string): SecretsRotationMapping | undefined {
    return this.objects.get(key);
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  invalidErrors(key: string): readonly FieldError[] | undefined {
    return this.invalid.get(key);
  }

  /** Takes in one object as the API server reported it; undefined when it is older than what is held. */
  apply(type: MappingEventType, obj: SecretsRotationMapping): { key: string; part: ChangedPart } | undefined {
    const key = mappingKey(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    if (type === 'DELETED') {
      this.objects.delete(key);
      this.invalid.delete(key);
      this.index.remove(key);
      return { key, part: 'spec' };
    }
    const previous = this.objects.get(key);
    // A replay after reconnect may carry an older resourceVersion than a status we just wrote.
    if (previous && olderThan(obj, previous)) return undefined;
    const part: ChangedPart = previous && previous.metadata.uid === obj.metadata.uid && previous.metadata.generation === obj.metadata.generation ? 'status' : 'spec';
    this.objects.set(key, slim(obj));
    const n = normaliseMapping(obj, this.kinds);
    if (n.ok) {
      this.invalid.delete(key);
      this.index.upsert(indexEntry(n.mapping, obj.status));
    } else {
      this.index.remove(key);
      if (!this.invalid.has(key)) this.log.warn('mapping is invalid', { mapping: key, error: formatFieldErrors(n.errors) });
      this.invalid.set(key, n.errors);
    }
    return { key, part };
  }

  /**
   * Takes in a status merge patch the API server accepted. The index sees a version we
   * just recorded at once, not when the watch brings it back: the next rotation on the
   * serial path (drift after an event) then skips it. Merged as the API server merges it
   * (status.rollout's nested fields too): a null removes the field.
   */
  wrote(key: string, patch: SecretsRotationMappingStatusPatch, resourceVersion: string | undefined): void {
    const latest = this.objects.get(key);
    if (!latest) return;
    const status = mergePatch(latest.status ?? {}, patch) as SecretsRotationMappingStatus;
    const written = { ...latest, status, metadata: { ...latest.metadata, resourceVersion } };
    this.objects.set(key, written);
    const indexed = this.index.get(key);
    if (indexed && 'appliedVersion' in patch) this.index.upsert(indexEntry(indexed, written.status));
  }
}

/** The mapping as the index holds it: with the version its status records for its own secret. */
function indexEntry(mapping: Mapping, status: SecretsRotationMappingStatus | undefined): Mapping {
  const { appliedVersion: _old, appliedSince: _oldSince, ...rest } = mapping;
  const appliedVersion = appliedVersionOf(status, mapping.secret.raw);
  const since = status?.lastRotation?.secretVersion === appliedVersion ? status?.lastRotation?.eventTime : undefined;
  return appliedVersion ? { ...rest, appliedVersion, ...(since ? { appliedSince: since } : {}) } : rest;
}

/**
 * What is kept of each object: identity, spec, status and our own annotations (a
 * person's requests to a rollout: resume, abandon, override). managedFields and the
 * other annotations (a kubectl last-applied copy of the whole spec) would double the
 * memory of ten thousand mappings and are never read.
 */
function slim(obj: SecretsRotationMapping): SecretsRotationMapping {
  const { name, namespace, uid, generation, resourceVersion } = obj.metadata;
  const ours = Object.entries(obj.metadata.annotations ?? {}).filter(([k]) => k.startsWith(`${GROUP}/`));
  const metadata = { name, namespace, uid, generation, resourceVersion, ...(ours.length > 0 ? { annotations: Object.fromEntries(ours) } : {}) };
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata, spec: obj.spec, ...(obj.status ? { status: obj.status } : {}) };
}

function olderThan(a: SecretsRotationMapping, b: SecretsRotationMapping): boolean {
  const ra = Number(a.metadata.resourceVersion);
  const rb = Number(b.metadata.resourceVersion);
  return a.metadata.uid === b.metadata.uid && Number.isFinite(ra) && Number.isFinite(rb) && ra < rb;
}
