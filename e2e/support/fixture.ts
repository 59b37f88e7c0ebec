/**
 * The one fixture base beneath startScenario (e2e), FaultFile (faults) and the bench:
 * a context on the stack, and what the file made there (namespaces, chart releases,
 * the operators the context started), given back in one teardown, each step even if
 * one before it failed.
 */
import { installChart, uninstallChart, type Release } from './chart';
import { e2eContext, stopOperators, type E2eContext } from './context';

export class Fixture {
  readonly namespaces: string[] = [];
  readonly releases: Release[] = [];

  constructor(public ctx: E2eContext = e2eContext()) {}

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

  /** `helm install` of the chart (local values plus `values`) into `namespace` (created if need be); uninstalled, and the namespace deleted, at teardown. */
  async installRelease(releaseName: string, namespace: string, values: readonly string[] = []): Promise<Release> {
    if (!this.namespaces.includes(namespace)) this.namespaces.push(namespace);
    const r = await installChart(this.ctx, releaseName, namespace, [...values]);
    this.releases.push(r);
    return r;
  }

  /** Stops the context's operators (throws if one had died on its own), uninstalls the releases, deletes the namespaces. */
  async teardown(): Promise<void> {
    try {
      await stopOperators(this.ctx);
    } finally {
      for (const r of this.releases.splice(0)) await uninstallChart(this.ctx, r).catch(() => undefined);
      for (const ns of this.namespaces.splice(0)) await this.ctx.kube.deleteNamespace(ns);
    }
  }
}
