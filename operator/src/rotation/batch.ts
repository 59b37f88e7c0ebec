/**
 * What one batch reads once, however many of its changes need it: each secret's
 * DescribeSecret answer and each mapping's workload listing (a discovered source's
 * consumers, and every workload of a namespace they are found among). One value per
 * batch, dropped with it: the next batch reads the world afresh.
 */
import type { SecretChange } from '../events/interpret';
import { consumes } from '../discovery/model';
import { errorMessage, type Logger } from '../core/log';
import type { DiscoveryPort } from '../mappings/ports';
import type { Mapping } from '../mappings/model';
import { NamespaceListings } from '../mappings/selected';
import type { SecretDescriber, SecretDescription } from '../secrets/describer';
import { inOwnRegion } from '../secrets/secretId';
import type { WorkloadClient } from '../workloads/adapters';
import type { WorkloadKind, WorkloadState } from '../workloads/workload';

/** A batch naming at most this many mappings lists their workloads while DescribeSecret answers. */
export const EARLY_LISTING_MAX_MAPPINGS = 10;

export interface BatchReadsOptions {
  readonly workloads: Pick<WorkloadClient, 'list'>;
  readonly describer?: SecretDescriber;
  readonly discovery?: DiscoveryPort;
  readonly region: string;
  readonly log: Logger;
}

export class BatchReads {
  private readonly listings = new Map<string, Promise<WorkloadState[]>>();
  /** Mappings' workloads, a namespace listed once per kind when many of its mappings are listed (mappings/selected.ts). */
  private readonly selected: NamespaceListings;
  private readonly described = new Map<string, Promise<SecretDescription | undefined>>();

  constructor(private readonly opts: BatchReadsOptions) {
    this.selected = new NamespaceListings(opts.workloads);
  }

  /**
   * The secret's description, asked once per batch; undefined for a secret outside our
   * own region, without a describer, or when the call failed (the event is used as it is).
   * Never shared with another batch: DescribeSecret may answer stale just after a write,
   * and a later delivery's fresh answer is what corrects a change settled on a stale one
   * (faults/standard-queue: an answer kept across batches lost changes).
   */
  describe(c: SecretChange): Promise<SecretDescription | undefined> {
    const { describer, region, log } = this.opts;
    if (!describer || !inOwnRegion(region, c.secret.region, c.region)) return Promise.resolve(undefined);
    let p = this.described.get(c.secret.raw);
    if (!p) {
      p = describer.describe(c.secret.raw).catch((err) => {
        log.warn('DescribeSecret failed; using the event as it is', { eventId: c.eventId, secret: c.secret.raw, error: errorMessage(err) });
        return undefined;
      });
      this.described.set(c.secret.raw, p);
    }
    return p;
  }

  /**
   * Starts listing the workloads of the mappings the events themselves name, so they are
   * listed while DescribeSecret settles the changes: two round trips at once instead of
   * one after the other. The settled secret almost always finds the same mappings. Only
   * for a batch of a few mappings: in a burst the lists are the bound, and most of a
   * burst's mappings turn out to be at the settled version already (and need no list).
   */
  listEarly(named: readonly Mapping[]): void {
    if (new Set(named.map((m) => m.key)).size <= EARLY_LISTING_MAX_MAPPINGS) {
      this.expect(named);
      for (const m of named) void this.listing(m);
    }
  }

  /** Says which mappings are about to be listed: where many share a namespace, it is listed once per kind. */
  expect(mappings: readonly Mapping[]): void {
    this.selected.expect(mappings.filter((m) => !m.origin));
  }

  /** `m`'s workloads, listed once per batch. Rejects with NotPrepared for a source whose consumers may not roll yet. */
  listing(m: Mapping, signal?: AbortSignal): Promise<WorkloadState[]> {
    return this.shared(m.key, () => (m.origin ? this.listConsumers(m, signal) : this.selected.list(m)));
  }

  /**
   * A discovered source's workloads: those of its namespace whose pod template consumes
   * it, listed while discovery prepares it (ESO syncs the Secret they read). If it cannot
   * be prepared, they must not roll now, whoever else asks: they would start on the old
   * value and then count as being on the new one. If they could not be listed either,
   * who they are is unknown (undefined): then no workload of the namespace rolls.
   */
  private async listConsumers(m: Mapping, signal?: AbortSignal): Promise<WorkloadState[]> {
    const origin = m.origin!;
    const listed = Promise.all(m.workloadKinds.map((kind) => this.everyWorkload(kind, m.namespace))).then((all) => all.flat().filter((w) => consumes(w.references, origin)));
    listed.catch(() => undefined);
    try {
      await this.opts.discovery!.prepare(m, signal);
    } catch (err) {
      throw new NotPrepared(errorMessage(err), m.namespace, await listed.catch(() => undefined));
    }
    return listed;
  }

  /**
   * Every workload of `kind` in `namespace`, listed once per batch however many discovered
   * sources (and mappings sharing the namespace's lists) ask: NamespaceListings holds it.
   */
  private everyWorkload(kind: WorkloadKind, namespace: string): Promise<WorkloadState[]> {
    return this.selected.everyWorkload(kind, namespace);
  }

  /** The listing under `key`, started if it is not there yet. */
  private shared(key: string, start: () => Promise<WorkloadState[]>): Promise<WorkloadState[]> {
    let p = this.listings.get(key);
    if (!p) {
      p = start();
      // A listing nobody ends up waiting for must not become an unhandled rejection.
      p.catch(() => undefined);
      this.listings.set(key, p);
    }
    return p;
  }
}

/**
 * A discovered source whose consumers may not roll yet (ESO did not sync); `consumers`:
 * who they are, undefined when they could not be listed (anyone in `namespace` may be).
 */
export class NotPrepared extends Error {
  constructor(
    message: string,
    readonly namespace: string,
    readonly consumers: readonly WorkloadState[] | undefined,
  ) {
    super(message);
    this.name = 'NotPrepared';
  }
}
