/**
 * How many workloads a mapping selects, for its status: each kind of a namespace is
 * listed once and shared for a moment by every mapping of that namespace reconciled
 * meanwhile, the selector matched here. A first start reconciles ten thousand
 * mappings; one list per mapping and kind was 30,000 lists (bench C), this is one per
 * namespace and kind every `maxAgeMs`. The count is what a list at most `maxAgeMs` old
 * held: status.matchedWorkloads was always a count as of the last reconcile. The
 * rotation itself lists by the mapping's selector, afresh, every time.
 */
import { Recent } from '../core/recent';
import type { WorkloadKind } from '../workloads/workload';
import type { LabelSelector, Mapping } from './model';

/** Labels of each workload of one kind in one namespace. */
export type ListLabels = (kind: WorkloadKind, namespace: string) => Promise<readonly Readonly<Record<string, string>>[]>;

/** Same semantics as the API server's label selector. Pure. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export class WorkloadCensus {
  private readonly lists: Recent<readonly Readonly<Record<string, string>>[]>;

  constructor(
    private readonly listLabels: ListLabels,
    maxAgeMs: number,
    now?: () => number,
  ) {
    this.lists = new Recent(maxAgeMs, now);
  }

  /** Workloads of the mapping's kinds in its namespace that its selector matches. */
  async count(m: Pick<Mapping, 'namespace' | 'workloadKinds' | 'selector'>): Promise<number> {
    const perKind = await Promise.all(
      m.workloadKinds.map(async (kind) => {
        const labels = await this.lists.get(`${kind}/${m.namespace}`, () => this.listLabels(kind, m.namespace));
        return labels.filter((l) => selectorMatches(m.selector, l)).length;
      }),
    );
    return perKind.reduce((a, b) => a + b, 0);
  }
}
