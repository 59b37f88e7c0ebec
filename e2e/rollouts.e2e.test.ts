/**
 * Issue 16, item 4: Argo Rollouts' Rollout as a workload kind. The chart's operator runs
 * with `argoRollouts.enabled` in namespaced mode. First without Argo Rollouts' CRD (the
 * operator finds it is not served and lists no Rollout), then with its CRD and its
 * controller (both from its Go module, e2e/support/argoRollouts.ts) running against the
 * stack, so that a Rollout's pods really roll on the kwok nodes: restarted by Argo
 * Rollouts itself through spec.restartAt, with no new revision.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Secret } from './support/aws';
import { removeArgoRolloutsCrds, startArgoRollouts, type ArgoRollouts } from './support/argoRollouts';
import { canI } from './support/chart';
import { e2eContext } from './support/context';
import { RESTARTED_AT_ANNOTATION, ROLLOUT_API, SECRET_VERSIONS_ANNOTATION, parseAppliedVersions } from '../operator/src/workloads/workload';
import { M, endScenario, podsOf, rand, snapshot, startScenario, value, waitDeleted, waitForNewPods, waitLastRotation, waitMappingSynced, waitQueueEmpty, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

let s: Scenario;
let ns: string;
let argo: ArgoRollouts | undefined;

beforeAll(async () => {
  // A run that died before its teardown must not leave the CRD behind: the first test needs it absent.
  await removeArgoRolloutsCrds(e2eContext());
  s = await startScenario({ prefix: 'rollouts', namespaces: ['rollouts'], watchOwnNamespaces: true, values: ['--set', 'argoRollouts.enabled=true'] });
  ns = s.namespaces[0];
});

afterAll(async () => {
  try {
    await argo?.stop();
  } finally {
    await endScenario(s);
  }
});

async function rotate(secret: Secret): Promise<Secret> {
  const rotated = await s.ctx.aws.putSecretValue(secret, value());
  await s.ctx.aws.sendLabelUpdated(rotated);
  return rotated;
}

interface RolloutObject {
  metadata: k8s.V1ObjectMeta;
  spec: { restartAt?: string; template: k8s.V1PodTemplateSpec };
  status?: { restartedAt?: string; currentPodHash?: string; stableRS?: string };
}

const readRollout = async (name: string) => (await s.ctx.kube.readWorkload('Rollout', ns, name)) as unknown as RolloutObject;

/** The ReplicaSets of one Rollout (the test helpers label every template with workload-name). */
async function replicaSets(name: string): Promise<string[]> {
  return (await s.ctx.kube.apps.listNamespacedReplicaSet(ns, undefined, undefined, undefined, undefined, `workload-name=${name}`)).body.items.map((r) => r.metadata!.name!).sort();
}

/** A Rollout Argo Rollouts has brought up: its pods run and it has settled on one stable ReplicaSet. */
async function settled(name: string, replicas: number) {
  const snap = await snapshot(s.ctx, 'Rollout', ns, name, replicas);
  const ro = await waitFor(`Rollout ${ns}/${name} settled on a stable ReplicaSet`, async () => {
    const r = await readRollout(name);
    return r.status?.stableRS && r.status.stableRS === r.status.currentPodHash ? r : undefined;
  });
  return { snap, podHash: ro.status!.currentPodHash!, replicaSets: await replicaSets(name) };
}

test("where Argo Rollouts' CRD is absent no Rollout is listed: a mapping of every kind selects and rolls its Deployment alone", async () => {
  const secret = await s.ctx.aws.createSecret(`ro-absent-${rand()}`, value());
  const labels = { uses: `absent-${rand()}` };
  await s.ctx.kube.createWorkload('Deployment', ns, 'absent-deploy', labels);
  const before = await snapshot(s.ctx, 'Deployment', ns, 'absent-deploy');
  await s.ctx.kube.createMapping(ns, 'absent', { secretId: secret.name, selector: { matchLabels: labels } });
  expect((await waitMappingSynced(s.ctx, ns, 'absent', secret.version)).status!.matchedWorkloads).toBe(1);
  // Discovery said so (once), instead of a list answered 404 or failing.
  expect(s.op.logs.filter((l) => l.level === 'warn' && /Rollout API is not served/.test(String(l.message)))).toHaveLength(1);

  const rotated = await rotate(secret);

  await waitForNewPods(s.ctx, before);
  const status = (await waitLastRotation(s.ctx, ns, 'absent', rotated.version)).status!;
  expect(status.lastRotation!.workloads).toEqual([{ kind: 'Deployment', name: 'absent-deploy', result: 'Restarted' }]);
  await waitQueueEmpty(s.ctx);
  expect(s.op.logs.filter((l) => l.message === 'listing workloads failed; message left for redelivery')).toEqual([]);
});

describe('with Argo Rollouts installed and its controller running', () => {
  let secret: Secret;
  let rotated: Secret;
  const labels = { uses: `rollouts-${rand()}` };

  beforeAll(async () => {
    argo = await startArgoRollouts(s.ctx);
    // Blue-green needs its active Service to exist.
    await s.ctx.kube.core.createNamespacedService(ns, { metadata: { name: 'bg-active' }, spec: { selector: { 'workload-name': 'bg' }, ports: [{ port: 80 }] } });
  });

  test('the release may list and patch Rollouts in its namespaces, nothing more (argoRollouts.enabled)', async () => {
    // kubectl resolves the resource through discovery: asked only once the CRD is served.
    expect(await canI(s.ctx, s.release, 'list', 'rollouts.argoproj.io', ns)).toBe(true);
    expect(await canI(s.ctx, s.release, 'patch', 'rollouts.argoproj.io', ns)).toBe(true);
    expect(await canI(s.ctx, s.release, 'delete', 'rollouts.argoproj.io', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'patch', 'rollouts.argoproj.io', 'default')).toBe(false);
  });

  test('a canary and a blue-green Rollout restart through spec.restartAt: every pod replaced by Argo Rollouts, no new revision, the version recorded on the Rollout', async () => {
    // A canary whose steps would stop at a pause forever if a restart went through them as a new revision.
    await s.ctx.kube.createWorkload('Rollout', ns, 'canary', labels, { replicas: 2, strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } });
    await s.ctx.kube.createWorkload('Rollout', ns, 'bg', labels, { replicas: 2, strategy: { blueGreen: { activeService: 'bg-active', autoPromotionEnabled: false } } });
    const canary = await settled('canary', 2);
    const bg = await settled('bg', 2);
    secret = await s.ctx.aws.createSecret(`ro-kinds-${rand()}`, value());
    await s.ctx.kube.createMapping(ns, 'rollouts', { secretId: secret.name, selector: { matchLabels: labels }, workloadKinds: ['Rollout'] });
    // Both are counted: the operator found the CRD installed after it started.
    expect((await waitMappingSynced(s.ctx, ns, 'rollouts', secret.version)).status!.matchedWorkloads).toBe(2);
    const restartedBefore = await s.op.metric(`${M}restarts_total`, { kind: 'Rollout', result: 'restarted' });

    rotated = await rotate(secret);

    for (const { snap } of [canary, bg]) await waitForNewPods(s.ctx, snap);
    const status = (await waitLastRotation(s.ctx, ns, 'rollouts', rotated.version)).status!;
    expect(status.lastRotation!.workloads).toEqual([
      { kind: 'Rollout', name: 'bg', result: 'Restarted' },
      { kind: 'Rollout', name: 'canary', result: 'Restarted' },
    ]);
    expect(status.appliedVersion).toBe(rotated.version);
    expect(await s.op.metric(`${M}restarts_total`, { kind: 'Rollout', result: 'restarted' })).toBe(restartedBefore + 2);
    for (const [name, before] of [['canary', canary], ['bg', bg]] as const) {
      const ro = await readRollout(name);
      // Argo Rollouts' own restart, finished: status.restartedAt catches up with spec.restartAt.
      expect(ro.spec.restartAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      await waitFor(`Rollout ${name} reports the restart done`, async () => (await readRollout(name)).status?.restartedAt === ro.spec.restartAt);
      // The record is on the Rollout; the pod template is untouched, so no new revision: same ReplicaSets, same pod hash.
      expect(Object.values(parseAppliedVersions(ro.metadata.annotations))).toEqual([rotated.version]);
      expect(ro.metadata.annotations?.[RESTARTED_AT_ANNOTATION]).toBeDefined();
      expect(ro.spec.template.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION]).toBeUndefined();
      expect({ name, replicaSets: await replicaSets(name), podHash: (await readRollout(name)).status?.currentPodHash }).toEqual({ name, replicaSets: before.replicaSets, podHash: before.podHash });
    }
    await waitQueueEmpty(s.ctx);
  });

  test('a Rollout that records the version restarts nothing, even for a mapping whose status is behind (a new leader, a lost status write)', async () => {
    const before = await readRollout('canary');
    const pods = (await podsOf(s.ctx, 'Rollout', ns, 'canary')).map((p) => p.metadata!.uid!).sort();
    // The mapping says its workloads run the old version: only the Rollout's own record can tell.
    await s.ctx.kube.custom.patchNamespacedCustomObjectStatus('awssecretsoperator.secretoperator', 'v1', ns, 'secretsrotationmappings', 'rollouts', { status: { appliedVersion: secret.version } }, undefined, undefined, undefined, {
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    const deletedBefore = await s.op.metric(`${M}messages_deleted_total`);
    const handledBefore = (await s.ctx.kube.mapping(ns, 'rollouts')).status?.lastRotation?.completionTime;

    await s.ctx.aws.sendLabelUpdated(rotated);

    await waitDeleted(s, deletedBefore, 1);
    const status = (await waitFor('the redelivered event handled for the mapping', async () => {
      const m = await s.ctx.kube.mapping(ns, 'rollouts');
      return m.status?.lastRotation?.completionTime !== handledBefore ? m : undefined;
    })).status!;
    expect(status.lastRotation!.workloads).toEqual([
      { kind: 'Rollout', name: 'bg', result: 'Skipped', reason: 'AlreadyAtVersion' },
      { kind: 'Rollout', name: 'canary', result: 'Skipped', reason: 'AlreadyAtVersion' },
    ]);
    const after = await readRollout('canary');
    expect({ restartAt: after.spec.restartAt, generation: after.metadata.generation }).toEqual({ restartAt: before.spec.restartAt, generation: before.metadata.generation });
    expect((await podsOf(s.ctx, 'Rollout', ns, 'canary')).map((p) => p.metadata!.uid!).sort()).toEqual(pods);
  });

  test('the Rollout API the operator uses is the one Argo Rollouts serves', async () => {
    const crd = (await s.ctx.kube.ext.readCustomResourceDefinition(`${ROLLOUT_API.plural}.${ROLLOUT_API.group}`)).body;
    expect(crd.spec.versions.filter((v) => v.served).map((v) => v.name)).toContain(ROLLOUT_API.version);
  });
});
