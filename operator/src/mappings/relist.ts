/** Lists every SecretsRotationMapping the operator watches: the cluster, or each watched namespace. */
import type * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type SecretsRotationMapping } from './model';

export async function listMappings(api: k8s.CustomObjectsApi, namespaces: readonly string[]): Promise<SecretsRotationMapping[]> {
  const itemsOf = (res: { body: object }) => (res.body as { items?: SecretsRotationMapping[] }).items ?? [];
  if (namespaces.length === 0) return itemsOf(await api.listClusterCustomObject(GROUP, VERSION, PLURAL));
  const items: SecretsRotationMapping[] = [];
  for (const ns of namespaces) items.push(...itemsOf(await api.listNamespacedCustomObject(GROUP, VERSION, ns, PLURAL)));
  return items;
}
