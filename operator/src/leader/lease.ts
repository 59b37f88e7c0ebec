/**
 * Leader election through a coordination.k8s.io/v1 Lease, as client-go does it:
 * a candidate takes the lease when its holder has not renewed it for the lease
 * duration (measured on our own clock from when we last saw the record change, so
 * clocks need not agree); the leader renews every retry period and steps down when
 * it could not renew within the renew deadline, which is shorter than the lease
 * duration, so it stops before anyone else may start.
 */
import * as k8s from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../log';

export interface LeaderElectorOptions {
  readonly api: k8s.CoordinationV1Api;
  readonly name: string;
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  readonly log: Logger;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => Promise<void> | void;
  readonly now?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

const MERGE_PATCH = { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private observedKey = '';
  private observedAt = 0;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private stopped = false;
  /** Set when another holder's lease is valid: how long until it expires on our clock. */
  private expiresInMs?: number;
  private loop?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly o: LeaderElectorOptions) {
    this.now = o.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning; a leader steps down and releases the lease so a follower takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) {
      await this.stepDown('shutting down');
      await this.release();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew();
      if (this.stopped) break;
      if (ok) {
        this.lastRenew = this.now();
        if (!this.leading) {
          this.leading = true;
          this.o.log.info('became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
          this.o.onStartedLeading();
        }
      } else if (this.leading && this.now() - this.lastRenew >= this.o.renewDeadlineSeconds * 1000) {
        await this.stepDown('could not renew the lease within the renew deadline');
      }
      // A follower tries again when the holder's lease expires if that comes before the
      // next retry, so a dead leader is replaced within lease duration + one retry period
      // (the retry period being how late we may have seen its last renewal).
      const retryMs = this.o.retryPeriodSeconds * 1000;
      const waitMs = this.expiresInMs === undefined ? retryMs : Math.min(retryMs, this.expiresInMs + 1);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, waitMs);
      });
    }
  }

  private async stepDown(reason: string): Promise<void> {
    this.leading = false;
    this.o.log.warn('stopped leading', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity, reason });
    await this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { api, name, namespace, identity } = this.o;
    this.expiresInMs = undefined;
    try {
      let lease: k8s.V1Lease;
      try {
        lease = (await api.readNamespacedLease(name, namespace)).body;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        lease = (await api.createNamespacedLease(namespace, { metadata: { name, namespace }, spec: { leaseTransitions: 0 } })).body;
      }
      const spec = (lease.spec ?? {}) as unknown as LeaseSpec;
      const raw = lease as unknown as { spec?: Record<string, unknown> };
      const key = JSON.stringify([spec.holderIdentity, raw.spec?.renewTime, spec.leaseTransitions]);
      const now = this.now();
      if (key !== this.observedKey) {
        this.observedKey = key;
        this.observedAt = now;
      }
      const holder = spec.holderIdentity;
      const duration = (spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
      if (holder && holder !== identity && this.observedAt + duration > now) {
        this.expiresInMs = this.observedAt + duration - now;
        return false;
      }
      const patch = {
        metadata: { resourceVersion: lease.metadata?.resourceVersion },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.o.leaseDurationSeconds,
          renewTime: microTime(now),
          ...(holder === identity ? {} : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
        },
      };
      const res = await api.patchNamespacedLease(name, namespace, patch, undefined, undefined, undefined, undefined, undefined, MERGE_PATCH);
      const written = res.body as unknown as { spec?: Record<string, unknown> };
      this.observedKey = JSON.stringify([identity, written.spec?.renewTime, (res.body.spec?.leaseTransitions ?? 0)]);
      this.observedAt = now;
      return true;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 409) this.o.log.warn('lease update failed', { lease: `${namespace}/${name}`, identity, error: errorMessage(err) });
      return false;
    }
  }

  private async release(): Promise<void> {
    try {
      await this.o.api.patchNamespacedLease(
        this.o.name,
        this.o.namespace,
        { spec: { holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.now()) } },
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        MERGE_PATCH,
      );
      this.o.log.info('released the lease', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    } catch (err) {
      this.o.log.warn('could not release the lease; a follower takes over when it expires', { error: errorMessage(err) });
    }
  }
}
