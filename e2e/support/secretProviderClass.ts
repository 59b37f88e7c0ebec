/**
 * The Secrets Store CSI driver's SecretProviderClass API on the local stack, through a
 * stand-in CRD (e2e/crds/secretproviderclass-standin.yaml: the driver's Go module is not
 * served here, so neither its CRD nor the driver can be installed). Nothing mounts: kwok's
 * pods only carry the CSI volume that names the class, which is all the operator reads.
 */
import path from 'node:path';
import { SPC_API } from '../../operator/src/discovery/model';
import { SECRETS_STORE_CSI_DRIVER } from '../../operator/src/workloads/references';
import { REPO_ROOT } from '../../scripts/stack/paths';
import type { E2eContext } from './context';
import { applyCrds, crdNames, deleteCrds } from './crds';

export { SPC_API };
export const SPC_STANDIN_CRD = path.join(REPO_ROOT, 'e2e', 'crds', 'secretproviderclass-standin.yaml');

export async function applySecretProviderClassCrd(ctx: E2eContext): Promise<void> {
  await applyCrds(ctx, [SPC_STANDIN_CRD]);
}

export async function removeSecretProviderClassCrd(ctx: E2eContext): Promise<void> {
  await deleteCrds(ctx, crdNames([SPC_STANDIN_CRD]), 'SecretProviderClass stand-in');
}

/**
 * A SecretProviderClass of the AWS provider mounting `secretIds` (names or ARNs) from
 * Secrets Manager: `parameters.objects` is the YAML string the AWS provider reads.
 */
export async function createAwsSecretProviderClass(ctx: E2eContext, namespace: string, name: string, secretIds: string[]): Promise<void> {
  const objects = secretIds.map((id) => `- objectName: ${JSON.stringify(id)}\n  objectType: "secretsmanager"\n`).join('');
  await ctx.kube.custom.createNamespacedCustomObject(SPC_API.group, SPC_API.version, namespace, SPC_API.plural, {
    apiVersion: `${SPC_API.group}/${SPC_API.version}`,
    kind: SPC_API.kind,
    metadata: { name, namespace },
    spec: { provider: 'aws', parameters: { objects } },
  });
}

/** The pod-spec parts that mount a SecretProviderClass through the driver (a pod uses it this way, or not at all). */
export function csiVolume(spcName: string, volumeName = 'secrets-store'): { volume: object; mount: object } {
  return {
    volume: { name: volumeName, csi: { driver: SECRETS_STORE_CSI_DRIVER, readOnly: true, volumeAttributes: { secretProviderClass: spcName } } },
    mount: { name: volumeName, mountPath: '/mnt/secrets-store', readOnly: true },
  };
}
