/**
 * Watches SecretsRotationMappings through @dot-i/k8s-operator and feeds the cache
 * (cache.ts), which keeps the index level-triggered. A periodic full relist (also run
 * after each watch reconnect) repairs deletes a broken watch missed. Status is written
 * beside it (statusWriter.ts) through the framework's status patch.
 */
import Operator, { ResourceEventType, type OperatorLogger, type ResourceEvent, type ResourceMeta } from '@dot-i/k8s-operator';
import * as k8s from '@kubernetes/client-node';
import { backoffMs } from '../core/backoff';
import { withAgent, type KubeAgent } from '../kube/connections';
import { installResilientWatch } from '../kube/resilientWatch';
import type { Limiter } from '../kube/limit';
import { K8S_TIMEOUT_MS, withTimeout } from '../kube/timeout';
import type { Fence } from '../leader/fence';
import { errorMessage, type Logger } from '../core/log';
import type { WorkloadKind } from '../workloads/workload';
import { MappingCache, type ChangedPart, type MappingEventType } from './cache';
import type { MappingIndex } from './mappingIndex';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, mappingKey, type FieldError, type SecretsRotationMapping, type SecretsRotationMappingStatusPatch } from './model';
import { listMappings } from './relist';
import { StatusWriter } from './statusWriter';

export interface WatcherOptions {
  readonly namespaces: readonly string[];
  readonly index: MappingIndex;
  readonly log: Logger;
  readonly kubeConfig?: k8s.KubeConfig;
  /** The operator's shared keep-alive connections (kube/connections.ts); without it, a connection per request. */
  readonly agent?: KubeAgent;
  /** Bounds status writes together with the rotation's other requests. */
  readonly limiter?: Limiter;
  /** Checked right before each status write: only the leader's current term writes. */
  readonly fence?: Fence;
  /** Deadline of one status write (ms). */
  readonly writeTimeoutMs?: number;
  /** The workload kinds the operator serves (mappings/model.ts normaliseMapping). */
  readonly kinds?: readonly WorkloadKind[];
}

type ChangeListener = (key: string, part: ChangedPart) => void;

export class MappingWatcher extends Operator {
  private readonly cache: MappingCache;
  /** Writes mapping status through the framework's status patch (status.ts writes through it). */
  readonly statusWriter: StatusWriter;
  private readonly listeners: ChangeListener[] = [];
  private readonly down = new Set<string>();
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
    this.cache = new MappingCache(opts.index, opts.log, opts.kinds);
    this.statusWriter = new StatusWriter({ cache: this.cache, send: (obj, patch) => this.sendStatus(obj, patch), limiter: opts.limiter, fence: opts.fence });
  }

  /** Ready once a full list succeeded and no watch is currently broken. */
  get ready(): boolean {
    return this.synced && this.down.size === 0;
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  object(key: string): SecretsRotationMapping | undefined {
    return this.cache.object(key);
  }

  keys(): string[] {
    return this.cache.keys();
  }

  invalidErrors(key: string): readonly FieldError[] | undefined {
    return this.cache.invalidErrors(key);
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
    // The framework makes a new HTTPS agent (a connection and TLS handshake) per write.
    if (this.opts.agent) options.agent = this.opts.agent;
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
  apply(type: ResourceEventType | MappingEventType, obj: SecretsRotationMapping): void {
    // The framework's ResourceEventType values are these three strings.
    const changed = this.cache.apply(type as MappingEventType, obj);
    if (changed) for (const l of this.listeners) l(changed.key, changed.part);
  }

  /** Full list: makes the index hold exactly what the API server has. */
  async relist(): Promise<boolean> {
    try {
      const client = this.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
      const items = await listMappings(withTimeout(this.opts.agent ? withAgent(client, this.opts.agent) : client), this.opts.namespaces);
      const seen = new Set<string>();
      for (const obj of items) {
        seen.add(mappingKey(obj.metadata.namespace ?? '', obj.metadata.name ?? ''));
        this.apply('ADDED', obj);
      }
      for (const key of this.cache.keys()) {
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
   * Without a resourceVersion the framework's merge patch is unconditional: writes are
   * serialised by the writer, and each carries the whole of what it changes.
   */
  private sendStatus(obj: SecretsRotationMapping, patch: SecretsRotationMappingStatusPatch): Promise<{ resourceVersion: string } | null> {
    const meta: ResourceMeta = {
      id: `${PLURAL}.${API_VERSION}`,
      name: obj.metadata.name!,
      namespace: obj.metadata.namespace,
      resourceVersion: undefined as unknown as string,
      apiVersion: API_VERSION,
      kind: KIND,
    };
    return this.patchResourceStatus(meta, patch);
  }
}

/**
 * The framework's status writes (gaxios) have no deadline of their own; every request it
 * makes gets ours here, where it applies authentication to the request options.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type GaxiosOptions = { timeout?: number; [k: string]: any };

function frameworkLogger(log: Logger): OperatorLogger {
  const child = log.child({ source: 'k8s-operator' });
  return {
    debug: (m) => child.debug(m),
    info: (m) => child.info(m),
    warn: (m) => child.warn(m),
    error: (m) => child.error(m),
  };
}
