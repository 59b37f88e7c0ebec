/** The workloads a mapping selects: its kinds, in its own namespace, by its selector. */
import type { WorkloadClient } from '../workloads/adapters';
import type { WorkloadKind, WorkloadState } from '../workloads/workload';
import { selectorMatches } from './census';
import { selectorToQuery, type Mapping } from './model';

export async function listSelectedWorkloads(workloads: Pick<WorkloadClient, 'list'>, mapping: Pick<Mapping, 'namespace' | 'workloadKinds' | 'selector'>): Promise<WorkloadState[]> {
  const selector = selectorToQuery(mapping.selector);
  return (await Promise.all(mapping.workloadKinds.map((kind) => workloads.list(kind, mapping.namespace, selector)))).flat();
}

/**
 * From this many mappings of one namespace listed together (a batch, a pass of the
 * rollout loop), the namespace is listed once per kind and each selector applied here
 * (the API server's own label-selector rules, census.ts): a burst over 100 mappings of a
 * namespace costs three lists, not 300. Fewer, each lists by its selector (a namespace of
 * thousands of workloads is not read whole for one mapping).
 */
export const SHARED_LISTING_MIN_MAPPINGS = 5;

/** The workloads of many mappings listed at once: `listSelectedWorkloads` for each, sharing a namespace's lists where many ask (above). */
export class NamespaceListings {
  private readonly expected = new Map<string, Set<string>>();
  private readonly lists = new Map<string, Promise<WorkloadState[]>>();

  constructor(private readonly workloads: Pick<WorkloadClient, 'list'>) {}

  /** Says which mappings are about to be listed (a namespace is shared once enough of its mappings are). */
  expect(mappings: readonly Pick<Mapping, 'key' | 'namespace'>[]): this {
    for (const m of mappings) {
      const keys = this.expected.get(m.namespace) ?? new Set<string>();
      keys.add(m.key);
      this.expected.set(m.namespace, keys);
    }
    return this;
  }

  private sharedIn(namespace: string): boolean {
    return (this.expected.get(namespace)?.size ?? 0) >= SHARED_LISTING_MIN_MAPPINGS;
  }

  list(mapping: Pick<Mapping, 'namespace' | 'workloadKinds' | 'selector'>): Promise<WorkloadState[]> {
    if (!this.sharedIn(mapping.namespace)) return listSelectedWorkloads(this.workloads, mapping);
    return Promise.all(mapping.workloadKinds.map((kind) => this.everyWorkload(kind, mapping.namespace))).then((all) => all.flat().filter((w) => selectorMatches(mapping.selector, w.labels ?? {})));
  }

  /** Every workload of `kind` in `namespace`, listed once however many ask. */
  everyWorkload(kind: WorkloadKind, namespace: string): Promise<WorkloadState[]> {
    const key = `${kind}/${namespace}`;
    let p = this.lists.get(key);
    if (!p) {
      p = this.workloads.list(kind, namespace, '');
      // A listing nobody ends up waiting for must not become an unhandled rejection.
      p.catch(() => undefined);
      this.lists.set(key, p);
    }
    return p;
  }
}
