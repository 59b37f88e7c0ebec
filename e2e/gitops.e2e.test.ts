/**
 * Issue 23, "GitOps, proven" (docs/gitops.md): a Deployment kept in Git and applied
 * the way Argo CD (client-side `kubectl apply`) and Flux (server-side apply under its
 * own field manager) apply it. After the operator restarted it for a secret change,
 * re-applying the unchanged manifest either way keeps the operator's pod-template
 * annotations and starts no rollout: the pod template, the ReplicaSets and the pods
 * stay as they are. Replacing the object with the manifest (`kubectl replace`, Argo CD's
 * `Replace=true`) is the one way that reverts them, and it rolls the pods once more.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIELD_MANAGER } from '../operator/src/kube/patch';
import { RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION } from '../operator/src/workloads/workload';
import { endScenario, kubectl, rand, snapshot, startScenario, value, waitForNewPods, waitLastRotation, waitMappingSynced, waitQueueEmpty, type Scenario, type Snapshot } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

let s: Scenario;
let ns: string;
let dir: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'gitops', namespaces: ['gitops'], watchOwnNamespaces: true });
  ns = s.namespaces[0];
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-gitops-'));
});

afterAll(async () => {
  await endScenario(s);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The manifest as it is in Git: nothing of the operator's in it. */
function manifest(name: string, uses: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    uses: ${uses}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: ${name}
      annotations:
        example.com/owned-by-git: "yes"
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: app
          image: nginx:1.27
`;
}

/**
 * What a rollout changes: the pod template, the ReplicaSets, the pods. Read once the
 * Deployment controller has observed the Deployment's latest generation: had the apply
 * changed the template, the new ReplicaSet would exist by then. (The generation itself
 * also moves when only the Deployment's own annotations change, e.g. kubectl's
 * last-applied-configuration, which rolls nothing.)
 */
async function observed(name: string): Promise<{ generation: number; template: unknown; replicaSets: string[]; pods: string[] }> {
  const d = await waitFor(`Deployment ${ns}/${name}'s latest generation observed`, async () => {
    const body = (await s.ctx.kube.apps.readNamespacedDeployment(name, ns)).body;
    return body.status?.observedGeneration === body.metadata!.generation ? body : undefined;
  });
  const rs = (await s.ctx.kube.apps.listNamespacedReplicaSet(ns, undefined, undefined, undefined, undefined, `app=${name}`)).body.items;
  const pods = (await s.ctx.kube.core.listNamespacedPod(ns, undefined, undefined, undefined, undefined, `app=${name}`)).body.items;
  return {
    generation: d.metadata!.generation!,
    template: d.spec!.template,
    replicaSets: rs.map((r) => `${r.metadata!.name} replicas=${r.spec?.replicas}`).sort(),
    pods: pods.map((p) => p.metadata!.uid!).sort(),
  };
}

/** Field managers that own the restart annotation on the pod template. */
async function ownersOfRestartAnnotation(name: string): Promise<string[]> {
  const d = (await s.ctx.kube.apps.readNamespacedDeployment(name, ns)).body;
  const key = `f:${RESTARTED_AT_ANNOTATION}`;
  return (d.metadata!.managedFields ?? [])
    .filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes(JSON.stringify(key)))
    .map((m) => `${m.manager} ${m.operation}`)
    .sort();
}

test('re-applying the original manifest, client-side (Argo CD) and server-side as another field manager (Flux), keeps the restart annotations and rolls nothing; kubectl replace reverts them and rolls again', async () => {
  const name = 'gitops-app';
  const uses = `gitops-${rand()}`;
  const file = path.join(dir, 'deployment.yaml');
  fs.writeFileSync(file, manifest(name, uses));
  const secret = await s.ctx.aws.createSecret(`gitops-${rand()}`, value());

  expect(await kubectl(s.ctx, ['apply', '-n', ns, '-f', file])).toMatchObject({ code: 0, stderr: '' });
  const before: Snapshot = await snapshot(s.ctx, 'Deployment', ns, name);
  await s.ctx.kube.createMapping(ns, 'gitops', { secretId: secret.name, selector: { matchLabels: { uses } } });
  await waitMappingSynced(s.ctx, ns, 'gitops', secret.version);

  const rotated = await s.ctx.aws.putSecretValue(secret, value());
  await s.ctx.aws.sendLabelUpdated(rotated);
  await waitForNewPods(s.ctx, before);
  await waitLastRotation(s.ctx, ns, 'gitops', rotated.version);
  await waitQueueEmpty(s.ctx);
  const restarted = await snapshot(s.ctx, 'Deployment', ns, name);
  const after = await observed(name);
  const annotations = (after.template as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
  expect(Object.keys(annotations).sort()).toEqual(['example.com/owned-by-git', RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION].sort());
  expect(Object.values(JSON.parse(annotations[SECRET_VERSIONS_ANNOTATION]))).toEqual([rotated.version]);
  expect(after.replicaSets).toHaveLength(2);
  const { generation: _generation, ...unrolled } = after;
  // The operator's own field manager owns its annotations: no GitOps tool adopts them.
  expect(await ownersOfRestartAnnotation(name)).toEqual([`${FIELD_MANAGER} Update`]);

  // Argo CD's default sync: client-side apply of the manifest in Git. Nothing changes,
  // not even the generation.
  expect(await kubectl(s.ctx, ['apply', '-n', ns, '-f', file])).toMatchObject({ code: 0 });
  expect(await observed(name)).toEqual(after);

  // Flux's apply: server-side, under its own field manager. Taking the object over from
  // client-side apply drops kubectl's last-applied-configuration annotation from the
  // Deployment, which moves its generation; the template, and so the pods, stay.
  expect(await kubectl(s.ctx, ['apply', '--server-side', '--field-manager=flux', '-n', ns, '-f', file])).toMatchObject({ code: 0 });
  expect(await observed(name)).toEqual({ ...unrolled, generation: after.generation + 1 });
  expect(await ownersOfRestartAnnotation(name)).toEqual([`${FIELD_MANAGER} Update`]);

  // And client-side once more after the server-side apply (back to Argo CD): kubectl
  // writes its annotation back (the generation moves again), the template stays.
  expect(await kubectl(s.ctx, ['apply', '-n', ns, '-f', file])).toMatchObject({ code: 0 });
  expect(await observed(name)).toEqual({ ...unrolled, generation: after.generation + 2 });

  // Replacing the object (Argo CD's Replace=true sync option) writes the manifest as it
  // is: the operator's annotations go, the template changes back, and the pods roll.
  expect(await kubectl(s.ctx, ['replace', '-n', ns, '-f', file])).toMatchObject({ code: 0 });
  const replaced = await observed(name);
  expect((replaced.template as { metadata: { annotations: Record<string, string> } }).metadata.annotations).toEqual({ 'example.com/owned-by-git': 'yes' });
  await waitForNewPods(s.ctx, restarted);
});
