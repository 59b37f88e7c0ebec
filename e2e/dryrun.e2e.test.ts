/**
 * Issue 5, case 11: dry run restarts nothing and records what it would have done.
 * (Case 10 — late mappings, the proof-of-concept manifest — is in workloads.e2e.test.ts;
 * a bad spec refused by the API server in chart.e2e.test.ts.)
 */
import { M, endScenario, eventReasons, expectUntouched, rand, snapshot, startScenario, value, waitForEventLog, waitLastRotation, waitMappingSynced, waitQueueEmpty, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

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
