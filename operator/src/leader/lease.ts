/**
 * Leader election through a coordination.k8s.io/v1 Lease, as client-go does it:
 * a candidate takes the lease when its holder has not renewed it for the lease
 * duration (measured on our own clock from when we last saw the record change, so
 * clocks need not agree); the leader renews every retry period and steps down when
 * it could not renew within the renew deadline, which is shorter than the lease
 * duration, so it stops before anyone else may start.
 *
 * Each stretch of leadership is a Term (see fence.ts): stepping down aborts it, and
 * the fence refuses every write of an ended term. The lease counts as valid from the
 * moment a successful renewal was *sent*, so a renewal that took long shortens it.
 */
import type * as k8s from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../core/log';
import type { LeaseHolder, Term } from './fence';
import { MERGE_PATCH } from '../kube/patch';

export interface LeaderElectorOptions {
  readonly api: k8s.CoordinationV1Api;
  readonly name: string;
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  readonly log: Logger;
  readonly onStartedLeading: (term: Term) => void;
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

export class LeaderElector implements LeaseHolder {
  private term?: Term & { readonly controller: AbortController };
  private terms = 0;
  /** When the last successful acquire/renew was sent (our clock). */
  private lastRenew = 0;
  /** The Lease's resourceVersion after our last write: release only that one. */
  private writtenVersion?: string;
  private observedKey = '';
  private observedAt = 0;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private stopped = false;
  /** After giving up leadership of our own accord, no campaigning before this time. */
  private holdOffUntil = 0;
  /** Set when another holder's lease is valid: how long until it expires on our clock. */
  private expiresInMs?: number;
  private loop?: Promise<void>;
  private lastError?: { at: number; message: string };
  private lastOkAt = 0;
  private started = 0;
  private readonly now: () => number;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  currentTerm(): Term | undefined {
    return this.term;
  }

  leaseValid(): boolean {
    return this.term !== undefined && this.now() - this.lastRenew < this.opts.renewDeadlineSeconds * 1000;
  }

  /** Unhealthy when the Lease could not be read or written for longer than the renew deadline. */
  health(): { ok: boolean; reason?: string } {
    const e = this.lastError;
    if (e && e.at >= this.lastOkAt && this.now() - Math.max(this.lastOkAt, this.started) >= this.opts.renewDeadlineSeconds * 1000) {
      return { ok: false, reason: `cannot reach the Lease ${this.opts.namespace}/${this.opts.name}: ${e.message}` };
    }
    return { ok: true };
  }

  start(): void {
    this.started = this.now();
    this.loop = this.run();
  }

  /**
   * Gives up leadership now (e.g. the work is stuck): the term is aborted, the lease is
   * left to expire rather than released (requests of the term may still be in flight),
   * and this replica does not campaign again for one lease duration, so another takes over.
   */
  async relinquish(reason: string): Promise<void> {
    if (!this.term) return;
    this.holdOffUntil = this.now() + this.opts.leaseDurationSeconds * 1000;
    await this.stepDown(reason);
  }

  /**
   * Stops campaigning. A leader steps down, then releases the lease (only the version
   * it wrote itself: a lease another replica took in the meantime is left alone) so a
   * follower takes over at once. Callers finish their in-flight work first: until
   * this is called, the lease keeps being renewed.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.term) {
      await this.stepDown('shutting down');
      await this.release();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const sentAt = this.now();
      const ok = this.now() >= this.holdOffUntil ? await this.tryAcquireOrRenew(sentAt) : false;
      if (this.stopped) break;
      if (ok) {
        this.lastRenew = sentAt;
        if (!this.term) {
          const controller = new AbortController();
          this.term = { id: ++this.terms, signal: controller.signal, controller };
          this.opts.log.info('became leader', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity, term: this.term.id });
          this.opts.onStartedLeading(this.term);
        }
      } else if (this.term && !this.leaseValid()) {
        await this.stepDown('could not renew the lease within the renew deadline');
      }
      // A follower tries again when the holder's lease expires if that comes before the
      // next retry, so a dead leader is replaced within lease duration + one retry period
      // (the retry period being how late we may have seen its last renewal). A leader
      // whose renewals fail retries at once within its renew deadline.
      const retryMs = this.opts.retryPeriodSeconds * 1000;
      const waitMs = Math.max(0, Math.min(retryMs, this.expiresInMs === undefined ? retryMs : this.expiresInMs + 1, this.holdOffUntil > this.now() ? this.holdOffUntil - this.now() : retryMs));
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, waitMs);
      });
    }
  }

  private async stepDown(reason: string): Promise<void> {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    term.controller.abort(new Error(`stopped leading: ${reason}`));
    this.opts.log.warn('stopped leading', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity, term: term.id, reason });
    await this.opts.onStoppedLeading();
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const { api, name, namespace, identity } = this.opts;
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
      if (key !== this.observedKey) {
        this.observedKey = key;
        this.observedAt = now;
      }
      const holder = spec.holderIdentity;
      const duration = (spec.leaseDurationSeconds ?? this.opts.leaseDurationSeconds) * 1000;
      if (holder && holder !== identity && this.observedAt + duration > now) {
        this.expiresInMs = this.observedAt + duration - now;
        this.lastOkAt = this.now();
        return false;
      }
      // Ours on record but not led by us now (we gave it up, or were frozen past it): a new term.
      const continuing = holder === identity && this.term !== undefined;
      const patch = {
        metadata: { resourceVersion: lease.metadata?.resourceVersion },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.opts.leaseDurationSeconds,
          renewTime: microTime(now),
          ...(continuing ? {} : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1) }),
        },
      };
      const res = await api.patchNamespacedLease(name, namespace, patch, undefined, undefined, undefined, undefined, undefined, MERGE_PATCH);
      const written = res.body as unknown as { spec?: Record<string, unknown> };
      this.observedKey = JSON.stringify([identity, written.spec?.renewTime, res.body.spec?.leaseTransitions ?? 0]);
      this.observedAt = now;
      this.writtenVersion = res.body.metadata?.resourceVersion;
      this.lastOkAt = this.now();
      return true;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 409) return false;
      this.lastError = { at: this.now(), message: errorMessage(err) };
      this.opts.log.warn('lease update failed', { lease: `${namespace}/${name}`, identity, error: errorMessage(err) });
      return false;
    }
  }

  private async release(): Promise<void> {
    const lease = `${this.opts.namespace}/${this.opts.name}`;
    try {
      await this.opts.api.patchNamespacedLease(
        this.opts.name,
        this.opts.namespace,
        { metadata: { resourceVersion: this.writtenVersion }, spec: { holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.now()) } },
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        MERGE_PATCH,
      );
      this.opts.log.info('released the lease', { lease, identity: this.opts.identity });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 409) {
        this.opts.log.info('lease not released: it changed since our last renewal (another replica holds it)', { lease, identity: this.opts.identity });
        return;
      }
      this.opts.log.warn('could not release the lease; a follower takes over when it expires', { lease, error: errorMessage(err) });
    }
  }
}
