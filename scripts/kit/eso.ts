/**
 * The External Secrets Operator on the local stack: its CRDs (from its Go module, copied
 * into the toolchain cache by scripts/toolchain/build.sh) applied to the stack's API
 * server, and its controller (v0.16.2, built from the same module) run as a host process
 * with the stack's admin kubeconfig and moto as its Secrets Manager and STS, so an
 * ExternalSecret really syncs an emulated AWS secret into a Kubernetes Secret. Started by
 * the test file that needs it, stopped (and waited for) by `stop()`, which also removes
 * the CRDs, leaving the stack as it was. The webhook and cert controller are not run
 * (separate subcommands; nothing here needs conversion or validation webhooks: every
 * kind serves v1 and v1beta1 without a conversion webhook).
 */
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { ESO_GROUP, ESO_VERSIONS, FORCE_SYNC_ANNOTATION } from '../../operator/src/discovery/model';
import { resolveToolchain, stackPaths } from '../stack/paths';
import { startProcessComponent, type RunningComponent } from '../stack/components';
import { waitFor } from './wait';
import type { E2eContext } from './context';
import { applyCrds, crdFilesIn, crdNames, deleteCrds } from './crds';

// The operator's own names for ESO's API and its force-sync annotation: the tests here prove them against ESO itself.
export { ESO_GROUP, FORCE_SYNC_ANNOTATION };
/** The version the tests write (the storage version, the operator's preferred one; v1beta1 is served too). */
export const ESO_VERSION = ESO_VERSIONS[0];
export const ESO_API_VERSION = `${ESO_GROUP}/${ESO_VERSION}`;

export interface Eso {
  readonly logFile: string;
  /** The controller's process (what a clean-up from another process needs to stop it). */
  readonly pid: number;
  readonly startTime: string;
  /** Stops the controller (waiting until it is gone) and deletes the CRDs. Safe to call twice. */
  stop(): Promise<void>;
}

async function esoTools(): Promise<{ bin: string; crdFiles: string[] }> {
  const t = await resolveToolchain({ only: ['eso'], onProgress: () => undefined });
  if (!t.eso || !t.esoCrdsDir) throw new Error('scripts/toolchain/build.sh printed no ESO_BIN / ESO_CRDS_DIR');
  return { bin: t.eso, crdFiles: crdFilesIn(t.esoCrdsDir) };
}

/** Removes ESO's CRDs (and so every ExternalSecret and store) and waits until they are gone. */
export async function removeEsoCrds(ctx: E2eContext): Promise<void> {
  const { crdFiles } = await esoTools();
  await deleteCrds(ctx, crdNames(crdFiles), 'External Secrets Operator');
}

/** Applies ESO's CRDs only (no controller): for tests of what the operator reads from ExternalSecrets, not of ESO syncing them. */
export async function applyEsoCrds(ctx: E2eContext): Promise<void> {
  await applyCrds(ctx, (await esoTools()).crdFiles);
}

/**
 * Applies the CRDs, waits for them to be served, then starts the controller and waits
 * until it works: the controller has no health endpoint (only the webhook and the cert
 * controller do), so a SecretStore in a namespace of its own must become Ready (ESO read
 * its credentials Secret and validated the store), then the namespace is deleted.
 */
export async function startEso(ctx: E2eContext, o: { awsEndpoint?: string } = {}): Promise<Eso> {
  const { bin, crdFiles } = await esoTools();
  await applyCrds(ctx, crdFiles);

  // One instance, no election (its default). The reconcilers of kinds the tests do not use
  // are off; ClusterSecretStores stay on (an ExternalSecret waits for its store's Ready).
  const args = [
    '--metrics-addr=0',
    '--enable-cluster-external-secret-reconciler=false',
    '--enable-cluster-push-secret-reconciler=false',
    '--enable-push-secret-reconciler=false',
    '--loglevel=debug',
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    // ESO has no kubeconfig flag: controller-runtime reads KUBECONFIG.
    KUBECONFIG: ctx.env.KUBECONFIG,
    // Its AWS provider's custom endpoints: moto for both, or a proxy in front of it (`awsEndpoint`).
    AWS_SECRETSMANAGER_ENDPOINT: o.awsEndpoint ?? ctx.env.AWS_ENDPOINT_URL,
    AWS_STS_ENDPOINT: o.awsEndpoint ?? ctx.env.AWS_ENDPOINT_URL,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const probe = await ctx.kube.createNamespace('eso-probe');
  let proc: RunningComponent;
  try {
    await createStoreObjects(ctx, probe, 'probe', ctx.env.AWS_REGION);
    proc = await startProcessComponent({
      name: 'external-secrets controller',
      command: bin,
      args,
      env,
      logFile: path.join(stackPaths().logs, 'external-secrets.log'),
      readyWhat: `the External Secrets Operator to validate SecretStore ${probe}/probe`,
      ready: () => storeReady(ctx, probe, 'probe'),
      readyTimeoutMs: 60_000,
      intervalMs: 200,
    });
  } catch (err) {
    await removeEsoCrds(ctx);
    throw err;
  } finally {
    await ctx.kube.deleteNamespace(probe);
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await proc.stop();
    await removeEsoCrds(ctx);
  };
  return { logFile: proc.logFile, pid: proc.pid, startTime: proc.startTime, stop };
}

// ---------------------------------------------------------------------------
// Objects

export interface EsoCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ExternalSecretObject {
  apiVersion: string;
  kind: 'ExternalSecret';
  metadata: k8s.V1ObjectMeta;
  spec: Record<string, unknown>;
  status?: { conditions?: EsoCondition[]; syncedResourceVersion?: string; refreshTime?: string; binding?: { name?: string } };
}

const isReady = (conditions: EsoCondition[] | undefined) => conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function createCustom(ctx: E2eContext, namespace: string, plural: string, body: object): Promise<void> {
  await ctx.kube.custom.createNamespacedCustomObject(ESO_GROUP, ESO_VERSION, namespace, plural, body);
}

/**
 * A SecretStore for AWS Secrets Manager in `namespace` (moto, through the controller's
 * endpoint variables) with static credentials from a Kubernetes Secret `<name>-aws`; resolves
 * once ESO has validated the store (Ready), before which its ExternalSecrets only retry.
 */
export async function createAwsSecretStore(ctx: E2eContext, namespace: string, name: string, region: string = ctx.env.AWS_REGION): Promise<void> {
  await createStoreObjects(ctx, namespace, name, region);
  await waitFor(`SecretStore ${namespace}/${name} Ready`, () => storeReady(ctx, namespace, name));
}

/** The SecretStore and its credentials Secret, not waiting for ESO to validate it (see createAwsSecretStore). */
export async function createStoreObjects(ctx: E2eContext, namespace: string, name: string, region: string): Promise<void> {
  const credentials = `${name}-aws`;
  await ctx.kube.core.createNamespacedSecret(namespace, {
    metadata: { name: credentials, namespace },
    stringData: { 'access-key-id': ctx.env.AWS_ACCESS_KEY_ID, 'secret-access-key': ctx.env.AWS_SECRET_ACCESS_KEY },
  });
  await createCustom(ctx, namespace, 'secretstores', {
    apiVersion: ESO_API_VERSION,
    kind: 'SecretStore',
    metadata: { name, namespace },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region,
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: credentials, key: 'access-key-id' },
              secretAccessKeySecretRef: { name: credentials, key: 'secret-access-key' },
            },
          },
        },
      },
    },
  });
}

/** True once ESO has validated the store; throws (the reason a wait reports) while it has not. */
async function storeReady(ctx: E2eContext, namespace: string, name: string): Promise<boolean> {
  const store = (await ctx.kube.custom.getNamespacedCustomObject(ESO_GROUP, ESO_VERSION, namespace, 'secretstores', name)).body as { status?: { conditions?: EsoCondition[] } };
  if (isReady(store.status?.conditions)) return true;
  throw new Error(`conditions ${JSON.stringify(store.status?.conditions ?? [])}`);
}

export interface ExternalSecretOptions {
  /** The SecretStore (or ClusterSecretStore, with `storeKind`) it reads from. */
  store: string;
  storeKind?: 'SecretStore' | 'ClusterSecretStore';
  /** The AWS secret: name or ARN (`remoteRef.key`). */
  remoteKey: string;
  /** The Kubernetes Secret ESO writes; default the ExternalSecret's name. */
  target?: string;
  /** Key of the value in the target Secret; default `value`. */
  secretKey?: string;
  /** ESO's refreshInterval; default `1h` (so only force-sync or a spec change makes it sync within a test). */
  refreshInterval?: string;
  refreshPolicy?: 'Periodic' | 'OnChange' | 'CreatedOnce';
  /** Wait until ESO has synced it (Ready True); default true. */
  waitSynced?: boolean;
}

/** An ExternalSecret taking one AWS secret's value into one key of its target Secret; resolves to the ExternalSecret as ESO left it. */
export async function createExternalSecret(ctx: E2eContext, namespace: string, name: string, o: ExternalSecretOptions): Promise<ExternalSecretObject> {
  await createCustom(ctx, namespace, 'externalsecrets', {
    apiVersion: ESO_API_VERSION,
    kind: 'ExternalSecret',
    metadata: { name, namespace },
    spec: {
      refreshInterval: o.refreshInterval ?? '1h',
      ...(o.refreshPolicy ? { refreshPolicy: o.refreshPolicy } : {}),
      secretStoreRef: { name: o.store, kind: o.storeKind ?? 'SecretStore' },
      target: { name: o.target ?? name, creationPolicy: 'Owner' },
      data: [{ secretKey: o.secretKey ?? 'value', remoteRef: { key: o.remoteKey } }],
    },
  });
  if (o.waitSynced === false) return readExternalSecret(ctx, namespace, name);
  return waitExternalSecretSynced(ctx, namespace, name);
}

export async function readExternalSecret(ctx: E2eContext, namespace: string, name: string): Promise<ExternalSecretObject> {
  return (await ctx.kube.custom.getNamespacedCustomObject(ESO_GROUP, ESO_VERSION, namespace, 'externalsecrets', name)).body as ExternalSecretObject;
}

/**
 * Waits until ESO reports the ExternalSecret synced (Ready True) and, with `after`, with a
 * `status.syncedResourceVersion` other than that one: a sync happened since.
 */
export async function waitExternalSecretSynced(ctx: E2eContext, namespace: string, name: string, after?: string, timeoutMs = 60_000): Promise<ExternalSecretObject> {
  return waitFor(
    `ExternalSecret ${namespace}/${name} synced${after ? ` again (syncedResourceVersion other than ${after})` : ''}`,
    async () => {
      const es = await readExternalSecret(ctx, namespace, name);
      if (isReady(es.status?.conditions) && es.status?.syncedResourceVersion && es.status.syncedResourceVersion !== after) return es;
      throw new Error(`status ${JSON.stringify(es.status ?? {})}`);
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** What the operator does to ask ESO for a sync (here as the admin): the force-sync annotation set to a fresh timestamp. */
export async function forceSync(ctx: E2eContext, namespace: string, name: string): Promise<void> {
  await ctx.kube.custom.patchNamespacedCustomObject(
    ESO_GROUP,
    ESO_VERSION,
    namespace,
    'externalsecrets',
    name,
    { metadata: { annotations: { [FORCE_SYNC_ANNOTATION]: String(Date.now()) } } },
    undefined,
    undefined,
    undefined,
    { headers: { 'Content-Type': 'application/merge-patch+json' } },
  );
}
