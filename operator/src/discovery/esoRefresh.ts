/**
 * Makes External Secrets Operator sync an ExternalSecret now, and waits until it has:
 * ESO's documented convention, a new value of the `force-sync` annotation, then its
 * status read until esoSyncState (model.ts) says synced, failed, or the deadline passes:
 * only a sync of the object carrying this request's value counts, never an earlier
 * request's sync that lands late. Each read goes through the API client's limiter, so a
 * batch's waits are bounded with every other request and count as the leader's progress.
 * If ESO does not sync, the consumers must not roll (they would start on the old value):
 * a Warning Event on the ExternalSecret, a metric and a log line say why, and the change
 * is retried as any failed change is. The patch touches only that annotation.
 */
import type * as k8s from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../core/log';
import type { Mapping } from '../mappings/model';
import type { Metrics } from '../core/metrics';
import type { EventPort } from '../mappings/ports';
import { abortableSleep } from '../core/sleep';
import { ESO_PLURAL, FORCE_SYNC_ANNOTATION, esoResourceVersion, esoSyncState, type Origin } from './model';
import { FIELD_MANAGER, MERGE_PATCH } from '../kube/patch';

export type SyncFailure = 'timeout' | 'not_refreshable' | 'failed' | 'error';

export interface EsoRefresherOptions {
  /** Fenced (the patch is a write), with deadlines and the shared limiter (main.ts). */
  readonly api: Pick<k8s.CustomObjectsApi, 'patchNamespacedCustomObject' | 'getNamespacedCustomObject'>;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  readonly events: EventPort;
  readonly metrics: Pick<Metrics, 'esoSyncFailures'>;
  readonly log: Logger;
  readonly now?: () => number;
}

export class EsoSyncError extends Error {
  constructor(
    readonly reason: SyncFailure,
    message: string,
  ) {
    super(message);
    this.name = 'EsoSyncError';
  }
}

export class EsoRefresher {
  private readonly now: () => number;

  constructor(private readonly opts: EsoRefresherOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Resolves once ESO synced `m`'s ExternalSecret after this call; throws EsoSyncError otherwise. */
  async refresh(m: Mapping, signal?: AbortSignal): Promise<void> {
    const origin = m.origin!;
    try {
      await this.sync(origin, signal);
      this.opts.log.info('ExternalSecret synced by ESO on request', { mapping: m.key, externalSecret: `${origin.object.namespace}/${origin.object.name}` });
    } catch (err) {
      if (signal?.aborted) throw err;
      const e = err instanceof EsoSyncError ? err : new EsoSyncError('error', `asking ESO to sync failed: ${errorMessage(err)}`);
      await this.report(m, origin, e);
      throw e;
    }
  }

  private async sync(origin: Origin, signal?: AbortSignal): Promise<void> {
    if (origin.refresh && !origin.refresh.ok) throw new EsoSyncError('not_refreshable', origin.refresh.reason);
    const { api, timeoutMs } = this.opts;
    const [group, version] = origin.object.apiVersion.split('/');
    const { namespace, name } = origin.object;
    const requestedAt = this.now();
    const patched = await api.patchNamespacedCustomObject(group, version, namespace, ESO_PLURAL, name, { metadata: { annotations: { [FORCE_SYNC_ANNOTATION]: String(requestedAt) } } }, undefined, FIELD_MANAGER, undefined, MERGE_PATCH);
    // ESO's name for the object carrying our force-sync value: only a sync of it (or of a later state) is ours.
    const asked = esoResourceVersion((patched.body as { metadata?: unknown }).metadata);
    const deadline = requestedAt + timeoutMs;
    for (;;) {
      await abortableSleep(Math.max(0, Math.min(this.opts.pollMs ?? 250, deadline - this.now())), signal);
      const current = (await api.getNamespacedCustomObject(group, version, namespace, ESO_PLURAL, name)).body;
      const s = esoSyncState(asked, current, requestedAt);
      if (s.state === 'synced') return;
      if (s.state === 'failed') throw new EsoSyncError('failed', `ESO could not sync it: ${s.reason}`);
      if (this.now() >= deadline) throw new EsoSyncError('timeout', `ESO did not sync it within ${Math.round(timeoutMs / 1000)} s of being asked (force-sync)`);
    }
  }

  private async report(m: Mapping, origin: Origin, e: EsoSyncError): Promise<void> {
    const { events, metrics, log } = this.opts;
    const secret = 'secret' in origin.consumedAs ? origin.consumedAs.secret : '';
    const message = `AWS secret ${m.secret.raw} changed, but ${e.message}: the workloads using Secret ${secret} were not rolled (they would read the old value); the change is retried`;
    metrics.esoSyncFailures.inc({ reason: e.reason });
    log.warn('ESO did not sync an ExternalSecret; its consumers are not rolled', { mapping: m.key, secret: m.secret.raw, reason: e.reason, error: e.message });
    try {
      await events.record(origin.object, 'Warning', 'ExternalSecretNotSynced', message);
    } catch (err) {
      log.warn('recording the Event failed', { mapping: m.key, error: errorMessage(err) });
    }
  }
}
