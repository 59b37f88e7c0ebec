/**
 * Issue 5, cases 5 and 10: the kinds of workload a mapping rolls, what it leaves
 * alone (kinds it excludes, paused Deployments), a mapping created after a change,
 * and the proof of concept's manifest applied unchanged. The chart's operator runs
 * in namespaced mode.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Secret } from './support/aws';
import { REPO_ROOT } from './support/kube';
import { SECRET_VERSIONS_ANNOTATION, parseAppliedVersions } from '../operator/src/workloads/workload';
import {
  M,
  endScenario,
  expectUntouched,
  kubectl,
  podsOf,
  rand,
  snapshot,
  startScenario,
  value,
  waitDeleted,
  waitForNewPods,
  waitLastRotation,
  waitMappingSynced,
  waitQueueEmpty,
  type Scenario,
} from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

let s: Scenario;
let ns: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'workloads', namespaces: ['workloads'], watchOwnNamespaces: true });
  ns = s.namespaces[0];
});

afterAll(async () => {
  await endScenario(s);
});

async function rotate(secret: Secret): Promise<Secret> {
  const rotated = await s.ctx.aws.putSecretValue(secret, value());
  await s.ctx.aws.sendLabelUpdated(rotated);
  return rotated;
}

describe('workload kinds', () => {
  test('a StatefulSet and a DaemonSet roll like a Deployment: every pod replaced, all three recorded on the status', async () => {
    const secret = await s.ctx.aws.createSecret(`wl-kinds-${rand()}`, value());
    const labels = { uses: `kinds-${rand()}` };
    await s.ctx.kube.createWorkload('Deployment', ns, 'kinds-deploy', labels);
    await s.ctx.kube.createWorkload('StatefulSet', ns, 'kinds-sts', labels, { replicas: 2 });
    await s.ctx.kube.createWorkload('DaemonSet', ns, 'kinds-ds', labels);
    await s.ctx.kube.createMapping(ns, 'kinds', { secretId: secret.name, selector: { matchLabels: labels } });
    const before = [
      await snapshot(s.ctx, 'Deployment', ns, 'kinds-deploy'),
      await snapshot(s.ctx, 'StatefulSet', ns, 'kinds-sts', 2),
      await snapshot(s.ctx, 'DaemonSet', ns, 'kinds-ds'),
    ];
    expect((await waitMappingSynced(s.ctx, ns, 'kinds', secret.version)).status!.matchedWorkloads).toBe(3);

    const rotated = await rotate(secret);

    for (const b of before) {
      const pods = await waitForNewPods(s.ctx, b);
      for (const p of pods) expect(Object.values(JSON.parse(p.annotations[SECRET_VERSIONS_ANNOTATION]))).toEqual([rotated.version]);
    }
    const status = (await waitLastRotation(s.ctx, ns, 'kinds', rotated.version)).status!;
    expect(status.lastRotation!.workloads).toEqual(
      expect.arrayContaining([
        { kind: 'Deployment', name: 'kinds-deploy', result: 'Restarted' },
        { kind: 'StatefulSet', name: 'kinds-sts', result: 'Restarted' },
        { kind: 'DaemonSet', name: 'kinds-ds', result: 'Restarted' },
      ]),
    );
    expect(status.lastRotation!.workloads).toHaveLength(3);
    expect(await s.op.metric(`${M}restarts_total`, { kind: 'StatefulSet', result: 'restarted' })).toBeGreaterThanOrEqual(1);
    expect(await s.op.metric(`${M}restarts_total`, { kind: 'DaemonSet', result: 'restarted' })).toBeGreaterThanOrEqual(1);
    await waitQueueEmpty(s.ctx);
  });

  test('workloadKinds limits what rolls: a Deployment with the same labels is left alone', async () => {
    const secret = await s.ctx.aws.createSecret(`wl-only-sts-${rand()}`, value());
    const labels = { uses: `only-sts-${rand()}` };
    await s.ctx.kube.createWorkload('Deployment', ns, 'only-sts-deploy', labels);
    await s.ctx.kube.createWorkload('StatefulSet', ns, 'only-sts-sts', labels);
    await s.ctx.kube.createMapping(ns, 'only-sts', { secretId: secret.name, selector: { matchLabels: labels }, workloadKinds: ['StatefulSet'] });
    const deploy = await snapshot(s.ctx, 'Deployment', ns, 'only-sts-deploy');
    const sts = await snapshot(s.ctx, 'StatefulSet', ns, 'only-sts-sts');
    expect((await waitMappingSynced(s.ctx, ns, 'only-sts', secret.version)).status!.matchedWorkloads).toBe(1);

    const rotated = await rotate(secret);

    await waitForNewPods(s.ctx, sts);
    const status = (await waitLastRotation(s.ctx, ns, 'only-sts', rotated.version)).status!;
    expect(status.lastRotation!.workloads).toEqual([{ kind: 'StatefulSet', name: 'only-sts-sts', result: 'Restarted' }]);
    await waitQueueEmpty(s.ctx);
    await expectUntouched(s.ctx, deploy);
  });

  test('a paused Deployment is stamped and reported Deferred while its sibling rolls, and rolls to the new version when resumed', async () => {
    const secret = await s.ctx.aws.createSecret(`wl-paused-${rand()}`, value());
    const labels = { uses: `paused-${rand()}` };
    await s.ctx.kube.createWorkload('Deployment', ns, 'paused', labels);
    await s.ctx.kube.createWorkload('Deployment', ns, 'running', labels);
    await snapshot(s.ctx, 'Deployment', ns, 'paused');
    const mergePatch = { headers: { 'Content-Type': 'application/merge-patch+json' } };
    await s.ctx.kube.apps.patchNamespacedDeployment('paused', ns, { spec: { paused: true } }, undefined, undefined, undefined, undefined, undefined, mergePatch);
    const paused = await snapshot(s.ctx, 'Deployment', ns, 'paused');
    const sibling = await snapshot(s.ctx, 'Deployment', ns, 'running');
    await s.ctx.kube.createMapping(ns, 'paused', { secretId: secret.name, selector: { matchLabels: labels } });
    await waitMappingSynced(s.ctx, ns, 'paused', secret.version);
    const deferredBefore = await s.op.metric(`${M}restarts_total`, { kind: 'Deployment', result: 'deferred' });

    const rotated = await rotate(secret);

    await waitForNewPods(s.ctx, sibling);
    const status = (await waitLastRotation(s.ctx, ns, 'paused', rotated.version)).status!;
    expect(status.lastRotation!.workloads).toEqual([
      { kind: 'Deployment', name: 'paused', result: 'Deferred', reason: 'Paused' },
      { kind: 'Deployment', name: 'running', result: 'Restarted' },
    ]);
    expect(status.lastRotation!.summary).toEqual({ Deferred: 1, Restarted: 1 });
    expect(status.appliedVersion).toBe(rotated.version);
    await waitQueueEmpty(s.ctx);
    // Stamped while paused: the template records the new version, the old pods keep running.
    const stamped = await s.ctx.kube.readWorkload('Deployment', ns, 'paused');
    expect(Object.values(parseAppliedVersions(stamped.spec?.template?.metadata?.annotations))).toEqual([rotated.version]);
    expect((await podsOf(s.ctx, 'Deployment', ns, 'paused')).map((p) => p.metadata!.uid!).sort()).toEqual(paused.podUids);
    expect(await s.op.metric(`${M}restarts_total`, { kind: 'Deployment', result: 'deferred' })).toBe(deferredBefore + 1);
    const events = await s.ctx.kube.eventsFor(ns, 'paused');
    expect(events.map((e) => `${e.reason}: ${e.message}`).join('\n')).toContain('RotationDeferred: ');
    expect(events.map((e) => e.message).join('\n')).toContain('Deployment/paused Deferred (Paused)');

    // kubectl rollout resume: the pods roll to the version stamped while paused.
    await s.ctx.kube.apps.patchNamespacedDeployment('paused', ns, { spec: { paused: false } }, undefined, undefined, undefined, undefined, undefined, mergePatch);
    await waitForNewPods(s.ctx, paused);
  });
});

describe('Argo Rollouts support off (the default)', () => {
  test("a mapping naming Rollout is accepted by the API server but not Ready, saying how to enable it; its Deployment is left alone", async () => {
    const secret = await s.ctx.aws.createSecret(`wl-rollout-off-${rand()}`, value());
    const labels = { uses: `rollout-off-${rand()}` };
    await s.ctx.kube.createWorkload('Deployment', ns, 'rollout-off', labels);
    const deploy = await snapshot(s.ctx, 'Deployment', ns, 'rollout-off');
    await s.ctx.kube.createMapping(ns, 'rollout-off', { secretId: secret.name, selector: { matchLabels: labels }, workloadKinds: ['Deployment', 'Rollout'] });
    const ready = await waitFor('the mapping refused by the operator', async () => {
      const m = await s.ctx.kube.mapping(ns, 'rollout-off');
      return m.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
    });
    expect(ready).toMatchObject({ reason: 'InvalidSpec', message: expect.stringContaining('Rollout is not served by this operator: its Argo Rollouts support is off (chart value argoRollouts.enabled') });

    const deletedBefore = await s.op.metric(`${M}messages_deleted_total`);
    await rotate(secret);
    await waitDeleted(s, deletedBefore, 1);
    await expectUntouched(s.ctx, deploy);
  });
});

describe('mappings', () => {
  test('a mapping created after a change restarts nothing, not even when the late event of that change arrives; the next change rolls', async () => {
    const secret = await s.ctx.aws.createSecret(`wl-late-${rand()}`, value());
    const labels = { uses: `late-${rand()}` };
    await s.ctx.kube.createWorkload('Deployment', ns, 'late', labels);
    const before = await snapshot(s.ctx, 'Deployment', ns, 'late');
    const changed = await s.ctx.aws.putSecretValue(secret, value());

    await s.ctx.kube.createMapping(ns, 'late', { secretId: secret.name, selector: { matchLabels: labels } });
    // The operator took the mapping in and recorded the version that is current now.
    await waitMappingSynced(s.ctx, ns, 'late', changed.version);
    const deletedBefore = await s.op.metric(`${M}messages_deleted_total`);
    await s.ctx.aws.sendLabelUpdated(changed);
    await waitDeleted(s, deletedBefore, 1);
    await expectUntouched(s.ctx, before);
    expect((await s.ctx.kube.mapping(ns, 'late')).status?.lastRotation).toBeUndefined();

    const next = await rotate(secret);
    await waitForNewPods(s.ctx, before);
    await waitLastRotation(s.ctx, ns, 'late', next.version);
  });

  test("the proof of concept's manifests (spec.SecretID, spec.Labels) applied unchanged with kubectl work", async () => {
    const name = 'eks-controller-test-secret';
    // The demo uses the same sample secret: start from none and leave none behind.
    const forget = () => s.ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
    await forget();
    const secret: Secret = await s.ctx.aws.createSecret(name, value());
    try {
      const poc = path.join(REPO_ROOT, 'examples', 'poc', 'secretsrotationmapping.yaml');
      expect(fs.readFileSync(poc, 'utf8')).toMatch(/SecretID: eks-controller-test-secret[\s\S]*Labels:/);
      // The workload first: status.matchedWorkloads is counted when the mapping is reconciled.
      for (const file of [path.join(REPO_ROOT, 'examples', 'deployment.yaml'), poc]) {
        const out = await kubectl(s.ctx, ['apply', '-n', ns, '-f', file]);
        expect(out).toMatchObject({ code: 0, stderr: '' });
      }
      const before = await snapshot(s.ctx, 'Deployment', ns, 'operatortest');
      const synced = await waitMappingSynced(s.ctx, ns, 'secretsrotationmapping-sample', secret.version);
      expect(synced.spec).toEqual({ SecretID: name, Labels: { environment: 'operatortest' } });
      expect(synced.status).toMatchObject({ secretId: name, matchedWorkloads: 1 });

      const rotated = await rotate(secret);

      await waitForNewPods(s.ctx, before);
      const status = (await waitLastRotation(s.ctx, ns, 'secretsrotationmapping-sample', rotated.version)).status!;
      expect(status.lastRotation!.workloads).toEqual([{ kind: 'Deployment', name: 'operatortest', result: 'Restarted' }]);
      await waitQueueEmpty(s.ctx);
    } finally {
      await forget();
    }
  });
});
