/** The workloads a mapping selects: its kinds, in its own namespace, by its selector. */
import type { WorkloadClient } from '../workloads/adapters';
import type { WorkloadState } from '../workloads/workload';
import { selectorToQuery, type Mapping } from './model';

export async function listSelectedWorkloads(workloads: Pick<WorkloadClient, 'list'>, mapping: Mapping): Promise<WorkloadState[]> {
  const selector = selectorToQuery(mapping.selector);
  return (await Promise.all(mapping.workloadKinds.map((kind) => workloads.list(kind, mapping.namespace, selector)))).flat();
}
