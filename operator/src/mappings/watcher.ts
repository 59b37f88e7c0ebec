/**
 * Watches SecretsRotationMappings through @dot-i/k8s-operator and keeps the index
 * level-triggered: every ADDED/MODIFIED normalises the object and upserts it, every
 * DELETED removes it, and a periodic full relist (also run after each watch
 * reconnect) repairs deletes a broken watch missed. Status is written beside it,
 * through the framework, one write at a time per mapping.
 */
import Operator, { ResourceEventType, type OperatorLogger, type ResourceEvent, type ResourceMeta } from '@dot-i/k8s-operator';
import * as k8s from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../log';
import { installResilientWatch } from '../kube/resilientWatch';
import { backoffMs } from '../backoff';
import type { Limiter } from '../kube/limit';
import { K8S_TIMEOUT_MS, withTimeout } from '../kube/timeout';
import type { Fence } from '../leader/fence';
import { MappingIndex } from './mappingIndex';
import {
  API_VERSION,
  GROUP,
  appliedVersionOf,
  KIND,
  PLURAL,
  VERSION,
  formatFieldErrors,
  mappingKey,
  normaliseMapping,
  type FieldError,
  type Mapping,
  type SecretsRotationMapping,
  type SecretsRotationMappingStatus,
} from './model';

export interface WatcherOptions {
  readonly namespaces: readonly string[];
  readonly index: MappingIndex;
  readonly log: Logger;
  readonly kubeConfig?: k8s.KubeConfig;
  /** Bounds status writes together with the rotation's other requests. */
  readonly limiter?: Limiter;
  /** Checked right before each status write: only the leader's current term writes. */
  readonly fence?: Fence;
  /** Deadline of one status write (ms). */
  readonly writeTimeoutMs?: number;
}

/**
 * `spec`: the mapping is new, gone, or its spec changed (a relist counts every object
 * as new). `status`: only its status (or metadata) changed, e.g. by our own write.
 */
export type ChangedPart = 'spec' | 'status';
type ChangeListener = (key: string, part: ChangedPart) => void;

export class MappingWatcher extends Operator {
  /** The latest object seen per key, status included. */
  private readonly objects = new Map<string, SecretsRotationMapping>();
  private readonly invalid = new Map<string, readonly FieldError[]>();
  private readonly listeners: ChangeListener[] = [];
  private readonly down = new Set<string>();
  private readonly writes = new Map<string, Promise<unknown>>();
  private synced = false;
  private relistTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;
  private watchGuard?: { stop(): void };

  constructor(private readonly opts: WatcherOptions) {
    super(frameworkLogger(opts.log));
    if (opts.kubeConfig) {
      this.kubeConfig = opts.kubeConfig;
      this.k8sApi = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
    }
  }

  /** Ready once a full list succeeded and no watch is currently broken. */
  get ready(): boolean {
    return this.synced && this.down.size === 0;
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  object(key: string): SecretsRotationMapping | undefined {
    return this.objects.get(key);
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  invalidErrors(key: string): readonly FieldError[] | undefined {
    return this.invalid.get(key);
  }

  async startWatching(resyncIntervalSeconds: number): Promise<void> {
    this.watchGuard = installResilientWatch({
      onConnected: (path) => {
        const wasDown = this.down.delete(path);
        this.opts.log.info('mapping watch connected', { path });
        if (wasDown) void this.relistRetrying();
      },
      onFailure: (path, err, retryInMs) => {
        if (retryInMs > 0) this.down.add(path);
        this.opts.log.warn('mapping watch failed; retrying', { path, error: errorMessage(err), retryInMs });
      },
    });
    await this.relistRetrying();
    await this.start();
    this.relistTimer = setInterval(() => void this.relistRetrying(), resyncIntervalSeconds * 1000);
    this.relistTimer.unref();
  }

  /**
   * A failed relist (e.g. a CRD whose storage is still initialising) is retried with
   * backoff rather than at the next resync: readiness waits on the first one.
   */
  private async relistRetrying(attempt = 1): Promise<void> {
    if (this.stopped || (await this.relist())) return;
    const t = setTimeout(() => void this.relistRetrying(attempt + 1), backoffMs(attempt, 500, 30_000));
    t.unref();
    this.retryTimer = t;
  }

  /** Every framework request (status writes) gets a deadline: a hung API server must not wedge a write. */
  protected override async applyGaxiosKubeConfigAuth(options: GaxiosOptions): Promise<void> {
    await super.applyGaxiosKubeConfigAuth(options as never);
    options.timeout = this.opts.writeTimeoutMs ?? K8S_TIMEOUT_MS;
  }

  override stop(): void {
    this.stopped = true;
    this.watchGuard?.stop();
    if (this.relistTimer) clearInterval(this.relistTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    super.stop();
  }

  protected async init(): Promise<void> {
    const scopes = this.opts.namespaces.length > 0 ? this.opts.namespaces : [undefined];
    for (const ns of scopes) {
      await this.watchResource(GROUP, VERSION, PLURAL, (e) => this.onEvent(e), ns);
    }
  }

  private async onEvent(e: ResourceEvent): Promise<void> {
    // The framework drops a handler's exception; never let one escape.
    try {
      this.apply(e.type, e.object as SecretsRotationMapping);
    } catch (err) {
      this.opts.log.error('mapping event handling failed', { error: errorMessage(err), mapping: `${e.meta.namespace}/${e.meta.name}` });
    }
  }

  /** Level-triggered: the result depends only on the object, not on the event history. */
  apply(type: ResourceEventType | 'ADDED' | 'MODIFIED' | 'DELETED', obj: SecretsRotationMapping): void {
    const key = mappingKey(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    let part: ChangedPart = 'spec';
    if (type === ResourceEventType.Deleted) {
      this.objects.delete(key);
      this.invalid.delete(key);
      this.opts.index.remove(key);
    } else {
      const previous = this.objects.get(key);
      // A replay after reconnect may carry an older resourceVersion than a status we just wrote.
      if (previous && olderThan(obj, previous)) return;
      if (previous && previous.metadata.uid === obj.metadata.uid && previous.metadata.generation === obj.metadata.generation) part = 'status';
      this.objects.set(key, slim(obj));
      const n = normaliseMapping(obj);
      if (n.ok) {
        this.invalid.delete(key);
        this.opts.index.upsert(indexEntry(n.mapping, obj.status));
      } else {
        this.opts.index.remove(key);
        if (!this.invalid.has(key)) this.opts.log.warn('mapping is invalid', { mapping: key, error: formatFieldErrors(n.errors) });
        this.invalid.set(key, n.errors);
      }
    }
    for (const l of this.listeners) l(key, part);
  }

  /** Full list: makes the index hold exactly what the API server has. */
  async relist(): Promise<boolean> {
    try {
      const api = withTimeout(this.kubeConfig.makeApiClient(k8s.CustomObjectsApi));
      const items: SecretsRotationMapping[] = [];
      if (this.opts.namespaces.length === 0) {
        const res = await api.listClusterCustomObject(GROUP, VERSION, PLURAL);
        items.push(...((res.body as { items: SecretsRotationMapping[] }).items ?? []));
      } else {
        for (const ns of this.opts.namespaces) {
          const res = await api.listNamespacedCustomObject(GROUP, VERSION, ns, PLURAL);
          items.push(...((res.body as { items: SecretsRotationMapping[] }).items ?? []));
        }
      }
      const seen = new Set<string>();
      for (const obj of items) {
        seen.add(mappingKey(obj.metadata.namespace ?? '', obj.metadata.name ?? ''));
        this.apply('ADDED', obj);
      }
      for (const key of [...this.objects.keys()]) {
        if (!seen.has(key)) {
          const [namespace, name] = key.split('/');
          this.apply('DELETED', { metadata: { namespace, name } });
        }
      }
      this.synced = true;
      return true;
    } catch (err) {
      this.opts.log.warn('mapping relist failed', { error: errorMessage(err) });
      return false;
    }
  }

  /**
   * Merge-patches the status of one mapping. Writes to the same mapping are
   * serialised, and each builds on the previous one's result.
   */
  patchStatus(key: string, build: (current: SecretsRotationMappingStatus) => SecretsRotationMappingStatus | undefined): Promise<boolean> {
    const prior = this.writes.get(key) ?? Promise.resolve();
    const next = prior.then(async () => {
      const obj = this.objects.get(key);
      if (!obj) return false;
      const patch = build(obj.status ?? {});
      if (!patch) return true;
      // Without a resourceVersion the framework's merge patch is unconditional: writes
      // are serialised here, and each carries the whole of what it changes.
      const meta: ResourceMeta = {
        id: `${PLURAL}.${API_VERSION}`,
        name: obj.metadata.name!,
        namespace: obj.metadata.namespace,
        resourceVersion: undefined as unknown as string,
        apiVersion: API_VERSION,
        kind: KIND,
      };
      const write = () => {
        this.opts.fence?.check();
        return this.patchResourceStatus(meta, patch);
      };
      const res = await (this.opts.limiter ? this.opts.limiter.run(write) : write());
      if (!res) return false;
      const latest = this.objects.get(key);
      if (latest) {
        const written = { ...latest, status: { ...(latest.status ?? {}), ...patch }, metadata: { ...latest.metadata, resourceVersion: res.resourceVersion } };
        this.objects.set(key, written);
        // The index sees a version we just recorded at once, not when the watch brings it
        // back: the next rotation on the serial path (drift after an event) then skips it.
        const indexed = this.opts.index.get(key);
        if (indexed && 'appliedVersion' in patch) this.opts.index.upsert(indexEntry(indexed, written.status));
      }
      return true;
    });
    const settled = next.catch(() => false);
    this.writes.set(key, settled);
    void settled.then(() => {
      if (this.writes.get(key) === settled) this.writes.delete(key);
    });
    return settled;
  }
}

/**
 * The framework's status writes (gaxios) have no deadline of their own; every request it
 * makes gets ours here, where it applies authentication to the request options.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type GaxiosOptions = { timeout?: number; [k: string]: any };

/** The mapping as the index holds it: with the version its status records for its own secret. */
function indexEntry(mapping: Mapping, status: SecretsRotationMappingStatus | undefined): Mapping {
  const { appliedVersion: _old, ...rest } = mapping;
  const appliedVersion = appliedVersionOf(status, mapping.secret.raw);
  return appliedVersion ? { ...rest, appliedVersion } : rest;
}

/**
 * What is kept of each object: identity, spec and status. managedFields and
 * annotations (a kubectl last-applied copy of the whole spec) would double the
 * memory of ten thousand mappings and are never read.
 */
function slim(obj: SecretsRotationMapping): SecretsRotationMapping {
  const { name, namespace, uid, generation, resourceVersion } = obj.metadata;
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, namespace, uid, generation, resourceVersion }, spec: obj.spec, ...(obj.status ? { status: obj.status } : {}) };
}

function olderThan(a: SecretsRotationMapping, b: SecretsRotationMapping): boolean {
  const ra = Number(a.metadata.resourceVersion);
  const rb = Number(b.metadata.resourceVersion);
  return a.metadata.uid === b.metadata.uid && Number.isFinite(ra) && Number.isFinite(rb) && ra < rb;
}

function frameworkLogger(log: Logger): OperatorLogger {
  const child = log.child({ source: 'k8s-operator' });
  return {
    debug: (m) => child.debug(m),
    info: (m) => child.info(m),
    warn: (m) => child.warn(m),
    error: (m) => child.error(m),
  };
}
