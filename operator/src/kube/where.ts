/** Where the process runs (config.ts's `Where`): read from the file system, the environment and the kubeconfig. */
import fs from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Where } from '../config';

/** Mounted into every pod whose service account token is automounted. */
const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export function whereAmI(kc: KubeConfig, env: NodeJS.ProcessEnv = process.env): Where {
  if (env.KUBERNETES_SERVICE_HOST || fs.existsSync(IN_CLUSTER_NAMESPACE_FILE)) return { inCluster: true };
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return namespace ? { inCluster: false, kubeconfigNamespace: namespace } : { inCluster: false };
}
