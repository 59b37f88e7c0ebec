/**
 * Issue 15: opt-in discovery, end to end. The chart's operator with
 * discovery.externalSecrets and discovery.secretProviderClasses on (namespaced mode, so the
 * ClusterRole for ClusterSecretStores is exercised too), the External Secrets Operator
 * running against the stack and moto (scripts/kit/eso.ts), and the SecretProviderClass
 * stand-in CRD (the CSI driver cannot run here: nothing mounts, the operator only reads
 * the class and the pods' CSI volumes). No SecretsRotationMapping names the secrets
 * unless a test says so: the workloads are found through what ESO or the driver uses.
 *
 * The contract these tests hold the operator to: on a change of an AWS secret an
 * ExternalSecret names, it sets the ExternalSecret's force-sync annotation, waits until ESO
 * synced (status.syncedResourceVersion changes, Ready), then rolls the workloads using the
 * target Secret once (Events Rotated on the ExternalSecret, Restarted on the workload); an
 * ExternalSecret ESO cannot refresh (refreshInterval 0 without refreshPolicy OnChange) rolls
 * nothing, gets a Warning ExternalSecretNotSynced, and the message is retried. A
 * SecretProviderClass naming the secret rolls the workloads whose CSI volume names it.
 */
import * as k8s from '@kubernetes/client-node';
import type { Secret } from './support/aws';
import { canI } from './support/chart';
import { e2eContext, type E2eContext } from './support/context';
import { createAwsSecretStore, createExternalSecret, ESO_GROUP, ESO_VERSION, FORCE_SYNC_ANNOTATION, readExternalSecret, removeEsoCrds, startEso, waitExternalSecretSynced, type Eso } from './support/eso';
import { applySecretProviderClassCrd, createAwsSecretProviderClass, csiVolume, removeSecretProviderClassCrd, SPC_API } from './support/secretProviderClass';
import { M, endScenario, expectUntouched, rand, snapshot, startScenario, value, waitDeleted, waitForNewPods, waitMappingSynced, waitQueueEmpty, type Scenario } from './support/scenario';
import { staysFalse, waitFor } from './support/wait';
import { OPERATOR_NAME, SOURCE_ROLLOUT_ANNOTATION } from '../operator/src/core/names';
import { RESTARTED_AT_ANNOTATION } from '../operator/src/workloads/workload';

jest.setTimeout(300_000);

const SYNC_TIMEOUT_SECONDS = 5;

let eso: Eso | undefined;
let spcCrd = false;

beforeAll(async () => {
  const ctx = e2eContext();
  // A run that died before its teardown may have left the CRDs behind.
  await removeEsoCrds(ctx);
  await removeSecretProviderClassCrd(ctx);
  // Both APIs exist before the operator starts, as in a cluster that runs ESO and the driver.
  eso = await startEso(ctx);
  await applySecretProviderClassCrd(ctx);
  spcCrd = true;
});

afterAll(async () => {
  const ctx = e2eContext();
  try {
    await eso?.stop();
  } finally {
    if (spcCrd) await removeSecretProviderClassCrd(ctx);
  }
});

// ---------------------------------------------------------------------------
// Helpers

/** How a consumer's pod uses the Secret (or the class): the parts of a pod spec. */
interface Uses {
  envFrom?: object[];
  env?: object[];
  volumes?: object[];
  volumeMounts?: object[];
}

/** A Deployment of one kwok pod with `uses` in its pod spec (labels as the test helpers set them: workload-name). */
async function createConsumer(ctx: E2eContext, namespace: string, name: string, uses: Uses, labels: Record<string, string> = {}): Promise<void> {
  await ctx.kube.apps.createNamespacedDeployment(namespace, {
    metadata: { name, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'workload-name': name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...labels, 'workload-name': name } },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'nginx:1.27', envFrom: uses.envFrom, env: uses.env, volumeMounts: uses.volumeMounts }] as k8s.V1Container[],
          volumes: uses.volumes as k8s.V1Volume[] | undefined,
        },
      },
    },
  });
}

const envFromSecret = (secretName: string): Uses => ({ envFrom: [{ secretRef: { name: secretName } }] });

function csiUses(spc: string): Uses {
  const { volume, mount } = csiVolume(spc);
  return { volumes: [volume], volumeMounts: [mount] };
}

/** Events on one object (any kind), newest last. */
async function eventsOn(ctx: E2eContext, namespace: string, kind: string, name: string): Promise<k8s.CoreV1Event[]> {
  const items = await ctx.kube.eventsOn(namespace, kind, name);
  return items.sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? '').localeCompare(String(b.lastTimestamp ?? b.eventTime ?? '')));
}

async function waitEvent(ctx: E2eContext, namespace: string, kind: string, name: string, reason: string, timeoutMs = 60_000): Promise<k8s.CoreV1Event> {
  return waitFor(`Event ${reason} on ${kind} ${namespace}/${name}`, async () => {
    const events = await eventsOn(ctx, namespace, kind, name);
    const found = events.find((e) => e.reason === reason);
    if (found) return found;
    throw new Error(`its Events: ${JSON.stringify(events.map((e) => `${e.type}/${e.reason}`))}`);
  }, { timeoutMs });
}

/**
 * The operator has taken the source in: its `Discovered` Event (from the leader's discovery
 * pass, at start and every 15 s) names the AWS secret.
 */
async function waitDiscovered(ctx: E2eContext, namespace: string, kind: 'ExternalSecret' | 'SecretProviderClass', name: string, secret: Secret): Promise<void> {
  const e = await waitEvent(ctx, namespace, kind, name, 'Discovered');
  expect({ type: e.type, component: e.source?.component ?? e.reportingComponent }).toEqual({ type: 'Normal', component: OPERATOR_NAME });
  expect(e.message).toMatch(new RegExp(secret.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
}

async function rotate(ctx: E2eContext, secret: Secret): Promise<Secret> {
  const rotated = await ctx.aws.putSecretValue(secret, value());
  await ctx.aws.sendLabelUpdated(rotated);
  return rotated;
}

const restartedAt = async (ctx: E2eContext, ns: string, name: string) => (await ctx.kube.readWorkload('Deployment', ns, name)).spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION];

/**
 * The Deployment rolled exactly once for `rotated`: its pod template records the version,
 * one new ReplicaSet (plus the first), and after the queue has drained the restart
 * annotation is still the one of that single roll.
 */
async function expectRolledOnce(s: Scenario, ns: string, name: string, rotated: Secret): Promise<void> {
  expect(Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, name))).toContain(rotated.version);
  const stamp = await restartedAt(s.ctx, ns, name);
  expect(stamp).toBeDefined();
  await waitQueueEmpty(s.ctx);
  await staysFalse(`${name} restarted again`, async () => (await restartedAt(s.ctx, ns, name)) !== stamp, 3_000);
  expect(await s.ctx.kube.replicaSetCount(ns, name)).toBe(2);
}

// ---------------------------------------------------------------------------

describe('with discovery of ExternalSecrets and SecretProviderClasses on', () => {
  let s: Scenario;
  let ns: string;

  beforeAll(async () => {
    s = await startScenario({
      prefix: 'discovery',
      namespaces: ['disc'],
      watchOwnNamespaces: true,
      values: [
        '--set', 'discovery.externalSecrets.enabled=true',
        '--set', `discovery.externalSecrets.syncTimeoutSeconds=${SYNC_TIMEOUT_SECONDS}`,
        '--set', 'discovery.secretProviderClasses.enabled=true',
        // A message left for redelivery comes back within a test.
        '--set', 'sqs.visibilityTimeoutSeconds=10',
      ],
    });
    ns = s.namespaces[0];
    await createAwsSecretStore(s.ctx, ns, 'aws');
  });
  afterAll(() => endScenario(s));

  test('(f) the release may list, get and patch ExternalSecrets, list their stores (ClusterSecretStores cluster-wide), list and patch SecretProviderClasses, watch none of them, and still not read Secrets', async () => {
    // Exactly the verbs discovery/sources.ts (lists), discovery/esoRefresh.ts (patch, then get while ESO syncs) and
    // discovery/rolloutRecords.ts (patch: the rollout's record on the source) call;
    // every other test of this file is the operator working with no more than these.
    for (const verb of ['list', 'get', 'patch']) expect(await canI(s.ctx, s.release, verb, 'externalsecrets.external-secrets.io', ns)).toBe(true);
    expect(await canI(s.ctx, s.release, 'watch', 'externalsecrets.external-secrets.io', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'list', 'secretstores.external-secrets.io', ns)).toBe(true);
    expect(await canI(s.ctx, s.release, 'list', 'clustersecretstores.external-secrets.io')).toBe(true);
    for (const verb of ['list', 'patch']) expect(await canI(s.ctx, s.release, verb, 'secretproviderclasses.secrets-store.csi.x-k8s.io', ns)).toBe(true);
    for (const verb of ['get', 'watch']) {
      expect(await canI(s.ctx, s.release, verb, 'secretstores.external-secrets.io', ns)).toBe(false);
      expect(await canI(s.ctx, s.release, verb, 'clustersecretstores.external-secrets.io')).toBe(false);
      expect(await canI(s.ctx, s.release, verb, 'secretproviderclasses.secrets-store.csi.x-k8s.io', ns)).toBe(false);
    }
    expect(await canI(s.ctx, s.release, 'delete', 'externalsecrets.external-secrets.io', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'patch', 'secretstores.external-secrets.io', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'delete', 'secretproviderclasses.secrets-store.csi.x-k8s.io', ns)).toBe(false);
    // Only the watched namespace.
    expect(await canI(s.ctx, s.release, 'patch', 'externalsecrets.external-secrets.io', 'default')).toBe(false);
    for (const verb of ['get', 'list', 'watch']) {
      expect(await canI(s.ctx, s.release, verb, 'secrets', ns)).toBe(false);
      expect(await canI(s.ctx, s.release, verb, 'secrets')).toBe(false);
    }
  });

  test("(f) the restart-only policy lets the operator's identity set force-sync and the rollout record on an ExternalSecret and nothing else", async () => {
    const secret = await s.ctx.aws.createSecret(`disc-vap-${rand()}`, value());
    await createExternalSecret(s.ctx, ns, 'vap', { store: 'aws', remoteKey: secret.name });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.release.kubeconfig);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const patchAsOperator = async (patch: object): Promise<{ status: number; message: string }> => {
      try {
        const res = await custom.patchNamespacedCustomObject(ESO_GROUP, ESO_VERSION, ns, 'externalsecrets', 'vap', patch, undefined, 'secrets-rotation-operator', undefined, {
          headers: { 'Content-Type': 'application/merge-patch+json' },
        });
        return { status: res.response.statusCode ?? 0, message: '' };
      } catch (err) {
        const e = err as { statusCode?: number; body?: { message?: string } };
        if (e.statusCode === undefined) throw err;
        return { status: e.statusCode, message: e.body?.message ?? '' };
      }
    };

    expect(await patchAsOperator({ metadata: { annotations: { [FORCE_SYNC_ANNOTATION]: String(Date.now()) } } })).toEqual({ status: 200, message: '' });
    expect(await patchAsOperator({ metadata: { annotations: { [SOURCE_ROLLOUT_ANNOTATION]: '{}' } } })).toEqual({ status: 200, message: '' });
    const spec = await patchAsOperator({ spec: { data: [{ secretKey: 'value', remoteRef: { key: 'someone-elses-secret' } }] } });
    expect(spec.status).toBe(403);
    expect(spec.message).toMatch(/may change only the annotations force-sync and awssecretsoperator\.secretoperator\/rollout of externalsecrets .*this request changes spec\.data/);
    const other = await patchAsOperator({ metadata: { annotations: { 'example.com/other': 'x' } } });
    expect(other.status).toBe(403);
    // The refused patches changed nothing (ESO's API server defaults aside).
    const data = (await readExternalSecret(s.ctx, ns, 'vap')).spec.data as { secretKey: string; remoteRef: { key: string } }[];
    expect(data.map((d) => [d.secretKey, d.remoteRef.key])).toEqual([['value', secret.name]]);
  });

  test('(a) an ExternalSecret with refreshInterval 1h: the change is synced by ESO first, then its consumer rolls once (Rotated on the ExternalSecret, Restarted on the Deployment)', async () => {
    const secret = await s.ctx.aws.createSecret(`disc-es-${rand()}`, value());
    const es = await createExternalSecret(s.ctx, ns, 'app', { store: 'aws', remoteKey: secret.name, target: 'app-config', refreshInterval: '1h' });
    await createConsumer(s.ctx, ns, 'app', envFromSecret('app-config'));
    const before = await snapshot(s.ctx, 'Deployment', ns, 'app');
    await waitDiscovered(s.ctx, ns, 'ExternalSecret', 'app', secret);
    const targetRv = (await s.ctx.kube.core.readNamespacedSecret('app-config', ns)).body.metadata!.resourceVersion;
    const rotationsBefore = await s.op.metric(`${M}rotations_total`, { source: 'externalsecret' });

    const rotated = await rotate(s.ctx, secret);

    // ESO synced because the operator asked: refreshInterval alone would wait an hour.
    const synced = await waitExternalSecretSynced(s.ctx, ns, 'app', es.status!.syncedResourceVersion);
    expect(synced.metadata.annotations?.[FORCE_SYNC_ANNOTATION]).toMatch(/^\d{13}$/);
    expect((await s.ctx.kube.core.readNamespacedSecret('app-config', ns)).body.metadata!.resourceVersion).not.toBe(targetRv);
    await waitForNewPods(s.ctx, before);
    await expectRolledOnce(s, ns, 'app', rotated);

    const rotatedEvent = await waitEvent(s.ctx, ns, 'ExternalSecret', 'app', 'Rotated');
    expect(rotatedEvent.type).toBe('Normal');
    const restarted = await waitEvent(s.ctx, ns, 'Deployment', 'app', 'Restarted');
    expect({ type: restarted.type, component: restarted.source?.component ?? restarted.reportingComponent }).toEqual({ type: 'Normal', component: OPERATOR_NAME });
    expect((await eventsOn(s.ctx, ns, 'Deployment', 'app')).filter((e) => e.reason === 'Restarted')).toHaveLength(1);
    expect(await s.op.metric(`${M}rotations_total`, { source: 'externalsecret' })).toBeGreaterThan(rotationsBefore);
    expect(await s.op.metric(`${M}discovered_sources`, { source: 'externalsecret' })).toBeGreaterThanOrEqual(1);
  });

  test('(c) a SecretProviderClass naming the secret by full ARN: the Deployment mounting it rolls, one mounting another class does not', async () => {
    const secret = await s.ctx.aws.createSecret(`disc-csi-${rand()}`, value());
    const unrelated = await s.ctx.aws.createSecret(`disc-csi-other-${rand()}`, value());
    await createAwsSecretProviderClass(s.ctx, ns, 'aws-spc', [secret.arn]);
    await createAwsSecretProviderClass(s.ctx, ns, 'other-spc', [unrelated.arn]);
    await createConsumer(s.ctx, ns, 'csi-app', csiUses('aws-spc'));
    await createConsumer(s.ctx, ns, 'csi-other', csiUses('other-spc'));
    const before = await snapshot(s.ctx, 'Deployment', ns, 'csi-app');
    const other = await snapshot(s.ctx, 'Deployment', ns, 'csi-other');
    await waitDiscovered(s.ctx, ns, 'SecretProviderClass', 'aws-spc', secret);
    const rotationsBefore = await s.op.metric(`${M}rotations_total`, { source: 'csi' });

    const rotated = await rotate(s.ctx, secret);

    await waitForNewPods(s.ctx, before);
    await expectRolledOnce(s, ns, 'csi-app', rotated);
    await expectUntouched(s.ctx, other);
    await waitEvent(s.ctx, ns, 'SecretProviderClass', 'aws-spc', 'Rotated');
    await waitEvent(s.ctx, ns, 'Deployment', 'csi-app', 'Restarted');
    expect(await s.op.metric(`${M}rotations_total`, { source: 'csi' })).toBeGreaterThan(rotationsBefore);
    // The class itself is read, never written.
    const spc = (await s.ctx.kube.custom.getNamespacedCustomObject(SPC_API.group, SPC_API.version, ns, SPC_API.plural, 'aws-spc')).body as { metadata: k8s.V1ObjectMeta };
    expect(spc.metadata.generation).toBe(1);
  });

  test('(d) a Deployment reached both by a SecretsRotationMapping and by an ExternalSecret rolls once for the version', async () => {
    const secret = await s.ctx.aws.createSecret(`disc-both-${rand()}`, value());
    const labels = { uses: `both-${rand()}` };
    await createExternalSecret(s.ctx, ns, 'both', { store: 'aws', remoteKey: secret.name, target: 'both-config' });
    await createConsumer(s.ctx, ns, 'both', envFromSecret('both-config'), labels);
    const before = await snapshot(s.ctx, 'Deployment', ns, 'both');
    await s.ctx.kube.createMapping(ns, 'both', { secretId: secret.name, selector: { matchLabels: labels } });
    await waitMappingSynced(s.ctx, ns, 'both', secret.version);
    await waitDiscovered(s.ctx, ns, 'ExternalSecret', 'both', secret);
    const restartsBefore = await s.op.metric(`${M}restarts_total`, { kind: 'Deployment', result: 'restarted' });

    const rotated = await rotate(s.ctx, secret);

    await waitForNewPods(s.ctx, before);
    await expectRolledOnce(s, ns, 'both', rotated);
    expect(await s.op.metric(`${M}restarts_total`, { kind: 'Deployment', result: 'restarted' })).toBe(restartsBefore + 1);
    expect((await eventsOn(s.ctx, ns, 'Deployment', 'both')).filter((e) => e.reason === 'Restarted')).toHaveLength(1);
  });

  // Last: its message is retried until the ExternalSecret is fixed.
  test('(b) an ExternalSecret ESO cannot refresh (refreshInterval 0): no roll (not even through a mapping, which is not recorded as rotated and says WaitingForExternalSecret), a Warning ExternalSecretNotSynced, and the message is retried (it rolls once ESO can sync)', async () => {
    const secret = await s.ctx.aws.createSecret(`disc-frozen-${rand()}`, value());
    await createExternalSecret(s.ctx, ns, 'frozen', { store: 'aws', remoteKey: secret.name, target: 'frozen-config', refreshInterval: '0' });
    const labels = { uses: `frozen-${rand()}` };
    await createConsumer(s.ctx, ns, 'frozen', envFromSecret('frozen-config'), labels);
    const before = await snapshot(s.ctx, 'Deployment', ns, 'frozen');
    // A mapping selects the consumer too: it must not be recorded as rotated while the consumer is held back.
    await s.ctx.kube.createMapping(ns, 'frozen', { secretId: secret.name, selector: { matchLabels: labels } });
    await waitMappingSynced(s.ctx, ns, 'frozen', secret.version);
    await waitDiscovered(s.ctx, ns, 'ExternalSecret', 'frozen', secret);
    const failuresBefore = await s.op.metric(`${M}eso_sync_failures_total`, { reason: 'not_refreshable' });
    const deletedBefore = await s.op.metric(`${M}messages_deleted_total`);

    const rotated = await rotate(s.ctx, secret);

    const warning = await waitEvent(s.ctx, ns, 'ExternalSecret', 'frozen', 'ExternalSecretNotSynced');
    expect(warning.type).toBe('Warning');
    await waitFor('eso_sync_failures_total{reason="not_refreshable"} counted', async () => (await s.op.metric(`${M}eso_sync_failures_total`, { reason: 'not_refreshable' })) > failuresBefore);
    // Not deleted: the message is still in the queue (in flight or back), and nothing rolled.
    expect((await s.ctx.aws.depth(s.ctx.env.SQS_QUEUE_URL)).total).toBeGreaterThanOrEqual(1);
    expect(await s.op.metric(`${M}messages_deleted_total`)).toBe(deletedBefore);
    await expectUntouched(s.ctx, before);
    const held = await waitFor('mapping frozen says it waits for the ExternalSecret', async () => {
      const m = await s.ctx.kube.mapping(ns, 'frozen');
      const c = m.status?.conditions?.find((x) => x.type === 'RotationSucceeded');
      if (c?.status === 'False' && c.reason === 'WaitingForExternalSecret') return m;
      throw new Error(`RotationSucceeded is ${JSON.stringify(c ?? null)}, appliedVersion ${m.status?.appliedVersion}`);
    });
    expect(held.status?.appliedVersion).toBe(secret.version);

    // Once ESO may sync on a change, the redelivered message rolls the Deployment.
    await s.ctx.kube.custom.patchNamespacedCustomObject(ESO_GROUP, ESO_VERSION, ns, 'externalsecrets', 'frozen', { spec: { refreshPolicy: 'OnChange' } }, undefined, undefined, undefined, {
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    await waitForNewPods(s.ctx, before);
    await waitDeleted(s, deletedBefore, 1);
    expect(Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, 'frozen'))).toContain(rotated.version);
    await waitMappingSynced(s.ctx, ns, 'frozen', rotated.version);
  });
});

describe('with discovery off (the default chart)', () => {
  let s: Scenario;
  let ns: string;

  beforeAll(async () => {
    s = await startScenario({ prefix: 'nodisc', namespaces: ['nodisc'] });
    ns = s.namespaces[0];
    await createAwsSecretStore(s.ctx, ns, 'aws');
  });
  afterAll(() => endScenario(s));

  test('(e) nothing reached only through an ExternalSecret or a SecretProviderClass rolls, and the release may not read either', async () => {
    const secret = await s.ctx.aws.createSecret(`nodisc-${rand()}`, value());
    await createExternalSecret(s.ctx, ns, 'app', { store: 'aws', remoteKey: secret.name, target: 'app-config' });
    await createAwsSecretProviderClass(s.ctx, ns, 'aws-spc', [secret.arn]);
    await createConsumer(s.ctx, ns, 'es-app', envFromSecret('app-config'));
    await createConsumer(s.ctx, ns, 'csi-app', csiUses('aws-spc'));
    const esApp = await snapshot(s.ctx, 'Deployment', ns, 'es-app');
    const csiApp = await snapshot(s.ctx, 'Deployment', ns, 'csi-app');
    const synced = await readExternalSecret(s.ctx, ns, 'app');
    const deletedBefore = await s.op.metric(`${M}messages_deleted_total`);

    await rotate(s.ctx, secret);

    // Handled (deleted) and nothing done: no roll, no force-sync.
    await waitDeleted(s, deletedBefore, 1);
    await expectUntouched(s.ctx, esApp);
    await expectUntouched(s.ctx, csiApp);
    const after = await readExternalSecret(s.ctx, ns, 'app');
    expect({ forceSync: after.metadata.annotations?.[FORCE_SYNC_ANNOTATION], synced: after.status?.syncedResourceVersion }).toEqual({ forceSync: undefined, synced: synced.status?.syncedResourceVersion });
    expect((await eventsOn(s.ctx, ns, 'ExternalSecret', 'app')).filter((e) => e.source?.component === OPERATOR_NAME)).toEqual([]);

    expect(await canI(s.ctx, s.release, 'list', 'externalsecrets.external-secrets.io', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'patch', 'externalsecrets.external-secrets.io', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'list', 'clustersecretstores.external-secrets.io')).toBe(false);
    expect(await canI(s.ctx, s.release, 'list', 'secretproviderclasses.secrets-store.csi.x-k8s.io', ns)).toBe(false);
  });
});
