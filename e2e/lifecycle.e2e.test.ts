/**
 * Issue 5, cases 10 and 11: a mapping made after a change restarts nothing; the
 * proof of concept's manifest works unchanged; dry run restarts nothing and records
 * what it would have done. (A bad spec refused by the API server: chart.e2e.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { REPO_ROOT } from './support/kube';
import { M, endScenario, eventReasons, expectUntouched, kubectlStdin, rand, snapshot, startScenario, value, waitForEventLog, waitForNewPods, waitLastRotation, waitMappingSynced, waitQueueEmpty, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

describe('mappings and the proof-of-concept manifest', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ prefix: 'life', namespaces: ['life'] });
  });
  afterAll(() => endScenario(s));

  test('a mapping created after a change restarts nothing: it records the current version as its baseline', async () => {
    const [ns] = s.namespaces;
    const secret = await s.ctx.aws.createSecret(`late-${rand()}`, value());
    await s.ctx.kube.createWorkload('Deployment', ns, 'late', { app: 'late' });
    const before = await snapshot(s.ctx, 'Deployment', ns, 'late');

    const rotated = await s.ctx.aws.putSecretValue(secret, value());
    const eventId = await s.ctx.aws.sendLabelUpdated(rotated);
    // The operator saw the change while no mapping named the secret, and acknowledged it.
    await waitForEventLog(s.op, eventId, 'no mapping names this secret; acknowledged');
    await waitQueueEmpty(s.ctx);

    await s.ctx.kube.createMapping(ns, 'late', { secretId: secret.name, selector: { matchLabels: { app: 'late' } } });
    const m = await waitMappingSynced(s.ctx, ns, 'late', rotated.version);
    expect(m.status?.lastRotation).toBeUndefined();
    await expectUntouched(s.ctx, before);
  });

  test('the proof-of-concept manifest (SecretID, Labels) works unchanged', async () => {
    const [ns] = s.namespaces;
    const manifest = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'poc', 'secretsrotationmapping.yaml'), 'utf8');
    const secretName = /SecretID: (\S+)/.exec(manifest)![1];
    await s.ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: secretName, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
    const secret = await s.ctx.aws.createSecret(secretName, value());
    try {
      await s.ctx.kube.createWorkload('Deployment', ns, 'operatortest', { environment: 'operatortest' });
      const before = await snapshot(s.ctx, 'Deployment', ns, 'operatortest');
      const applied = await kubectlStdin(s.ctx, ['apply', '-n', ns, '-f', '-'], manifest);
      expect(applied.code).toBe(0);
      await waitMappingSynced(s.ctx, ns, 'secretsrotationmapping-sample', secret.version);

      const rotated = await s.ctx.aws.putSecretValue(secret, value());
      await s.ctx.aws.sendLabelUpdated(rotated);
      await waitForNewPods(s.ctx, before);
      const m = await waitLastRotation(s.ctx, ns, 'secretsrotationmapping-sample', rotated.version);
      expect(m.spec).toEqual({ SecretID: secretName, Labels: { environment: 'operatortest' } });
      expect(m.status?.lastRotation?.workloads).toEqual([{ kind: 'Deployment', name: 'operatortest', result: 'Restarted' }]);
    } finally {
      await s.ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: secretName, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
    }
  });
});

describe('dry run', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ prefix: 'dry', namespaces: ['dry'], values: ['--set', 'dryRun=true'] });
  });
  afterAll(() => endScenario(s));

  test('restarts nothing and records what it would have done', async () => {
    const [ns] = s.namespaces;
    expect(s.release.env.DRY_RUN).toBe('true');
    const secret = await s.ctx.aws.createSecret(`dry-${rand()}`, value());
    await s.ctx.kube.createWorkload('Deployment', ns, 'web', { app: 'web' });
    await s.ctx.kube.createMapping(ns, 'web', { secretId: secret.name, selector: { matchLabels: { app: 'web' } } });
    const before = await snapshot(s.ctx, 'Deployment', ns, 'web');
    await waitMappingSynced(s.ctx, ns, 'web', secret.version);

    const rotated = await s.ctx.aws.putSecretValue(secret, value());
    const eventId = await s.ctx.aws.sendLabelUpdated(rotated);
    await waitForEventLog(s.op, eventId, 'dry run: would restart workload');
    const m = await waitLastRotation(s.ctx, ns, 'web', rotated.version);
    expect(m.status?.lastRotation).toMatchObject({ dryRun: true, workloads: [{ kind: 'Deployment', name: 'web', result: 'WouldRestart', reason: 'DryRun' }] });
    // Dry run does not move the baseline: the change is still pending for a real run.
    expect(m.status?.appliedVersion).toBe(secret.version);
    await waitFor('RotationDryRun Event', async () => (await eventReasons(s.ctx, ns, 'web')).includes('RotationDryRun'));
    expect(await s.op.metric(`${M}restarts_total`, { kind: 'Deployment', result: 'dry_run' })).toBe(1);
    await waitQueueEmpty(s.ctx);
    await expectUntouched(s.ctx, before);
  });
});
