/**
 * What a pod template reads, by name: the Kubernetes Secrets its containers use and the
 * SecretProviderClasses its CSI volumes mount. Pure. This is how discovery finds a
 * secret's consumers without ever reading a Secret: from the workload's own spec.
 */
import type * as k8s from '@kubernetes/client-node';

/** The Secrets Store CSI driver's name, as a CSI volume names it. */
export const SECRETS_STORE_CSI_DRIVER = 'secrets-store.csi.k8s.io';

export interface PodTemplateReferences {
  /** Kubernetes Secrets, by name (env, envFrom, secret and projected volumes). */
  readonly secrets: readonly string[];
  /** SecretProviderClasses mounted through the Secrets Store CSI driver, by name. */
  readonly providerClasses: readonly string[];
}

export const NO_REFERENCES: PodTemplateReferences = { secrets: [], providerClasses: [] };

export function podTemplateReferences(template: k8s.V1PodTemplateSpec | undefined): PodTemplateReferences {
  const spec = template?.spec;
  if (!spec) return NO_REFERENCES;
  const secrets = new Set<string>();
  const providerClasses = new Set<string>();
  const add = (set: Set<string>, name: unknown) => {
    if (typeof name === 'string' && name !== '') set.add(name);
  };
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  for (const c of containers) {
    for (const e of c.env ?? []) add(secrets, e.valueFrom?.secretKeyRef?.name);
    for (const e of c.envFrom ?? []) add(secrets, e.secretRef?.name);
  }
  for (const v of spec.volumes ?? []) {
    add(secrets, v.secret?.secretName);
    for (const s of v.projected?.sources ?? []) add(secrets, s.secret?.name);
    if (v.csi?.driver === SECRETS_STORE_CSI_DRIVER) add(providerClasses, v.csi.volumeAttributes?.secretProviderClass);
  }
  return { secrets: [...secrets].sort(), providerClasses: [...providerClasses].sort() };
}
