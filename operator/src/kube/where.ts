/** Where the process runs (config.ts reads the Lease's namespace from it): read from the file system, the environment and the kubeconfig. */
import fs from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';

/** Mounted into every pod whose service account token is automounted. */
const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Where the process runs, as far as the Lease's namespace is concerned. */
export interface Where {
  /** An in-cluster service account is present: POD_NAMESPACE (the downward API) names the Lease's namespace. */
  readonly inCluster: boolean;
  /** Outside a cluster: the namespace of the kubeconfig's current context, if it names one. */
  readonly kubeconfigNamespace?: string;
}

export function whereAmI(kc: KubeConfig, env: NodeJS.ProcessEnv = process.env): Where {
  if (env.KUBERNETES_SERVICE_HOST || fs.existsSync(IN_CLUSTER_NAMESPACE_FILE)) return { inCluster: true };
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return namespace ? { inCluster: false, kubeconfigNamespace: namespace } : { inCluster: false };
}
