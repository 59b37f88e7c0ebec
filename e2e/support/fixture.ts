/**
 * The one fixture base beneath startScenario (e2e), FaultFile (faults) and the bench's
 * scopes: a context on the stack, and what the file made there (namespaces, chart
 * releases, the operators the context started, and what else it started: the bench's
 * operators behind their counting proxies, its watches and queues), given back in one
 * teardown, each step even if one before it failed.
 */
import { forEachLimit } from '../../scripts/kit/limit';
import { installChart, uninstallChart, type Release } from './chart';
import { e2eContext, stopOperators, type E2eContext } from './context';
import { waitFor } from './wait';

/** Something a fixture started and stops at teardown (stopping twice does nothing). */
export interface Stoppable {
  stop(): unknown;
}

export interface FixtureOptions {
  /**
   * Teardown deletes the namespaces ten at a time and waits, up to this long, until they
   * are gone: where the next operator watches every namespace (the bench), a mapping
   * still being deleted would be counted in its figures. Unset: deleted, not waited for.
   */
  readonly namespacesGoneWithinMs?: number;
  /** Progress of a long teardown, every few seconds. */
  readonly progress?: (what: string, done: number, total: number) => void;
}

export class Fixture {
  readonly namespaces: string[] = [];
  readonly releases: Release[] = [];
  private readonly started: Stoppable[] = [];

  constructor(
    public ctx: E2eContext = e2eContext(),
    private readonly teardownOpts: FixtureOptions = {},
  ) {}

  /** Where every file starts: the CRD installed, the queues empty. */
  async prepare(): Promise<void> {
    await this.ctx.kube.installCrd();
    await this.ctx.emptyQueues();
  }

  /** A fresh namespace `<prefix>-<random>`, deleted at teardown. */
  async namespace(prefix: string): Promise<string> {
    const ns = await this.ctx.kube.createNamespace(prefix);
    this.namespaces.push(ns);
    return ns;
  }

  /** The namespace `name`, with `labels` (by which an interrupted run's are found), deleted at teardown. */
  async labelledNamespace(name: string, labels: Readonly<Record<string, string>>): Promise<string> {
    await this.ctx.kube.core.createNamespace({ metadata: { name, labels: { ...labels } } });
    this.namespaces.push(name);
    return name;
  }

  /** `helm install` of the chart (local values plus `values`) into `namespace` (created if need be); uninstalled, and the namespace deleted, at teardown. */
  async installRelease(releaseName: string, namespace: string, values: readonly string[] = []): Promise<Release> {
    if (!this.namespaces.includes(namespace)) this.namespaces.push(namespace);
    const r = await installChart(this.ctx, releaseName, namespace, [...values]);
    this.releases.push(r);
    return r;
  }

  /** `thing` (an operator behind counting proxies, a watch, a queue), stopped at teardown before anything else, the last started first. */
  own<T extends Stoppable>(thing: T): T {
    this.started.push(thing);
    return thing;
  }

  /** Stops what it started, then the context's operators (throws if one had died on its own), uninstalls the releases, deletes the namespaces. */
  async teardown(): Promise<void> {
    try {
      for (const thing of this.started.splice(0).reverse()) await thing.stop();
    } finally {
      try {
        await stopOperators(this.ctx);
      } finally {
        for (const r of this.releases.splice(0)) await uninstallChart(this.ctx, r).catch(() => undefined);
        const names = this.namespaces.splice(0);
        if (this.teardownOpts.namespacesGoneWithinMs === undefined) for (const ns of names) await this.ctx.kube.deleteNamespace(ns);
        else await deleteNamespacesUntilGone(this.ctx, names, this.teardownOpts.namespacesGoneWithinMs, this.teardownOpts.progress);
      }
    }
  }
}

/** Deletes `names`, ten at a time, and waits until every one is gone. */
export async function deleteNamespacesUntilGone(ctx: E2eContext, names: readonly string[], timeoutMs: number, progress?: FixtureOptions['progress']): Promise<void> {
  if (names.length === 0) return;
  await forEachLimit(names, 10, (n) => ctx.kube.deleteNamespace(n), progress && ((done, total) => progress('namespaces deleted', done, total)));
  const mine = new Set(names);
  await waitFor(
    `${names.length} namespace(s) gone`,
    async () => (await ctx.kube.core.listNamespace()).body.items.every((n) => !mine.has(n.metadata!.name!)) || undefined,
    { timeoutMs, intervalMs: 1000 },
  );
}
