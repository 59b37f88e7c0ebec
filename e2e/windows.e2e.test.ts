/**
 * Issue 25, item 4 on the kwok stack: restart windows (docs/rollouts.md). A change made
 * while the mapping's window is closed is recorded and deferred (status.rollout Deferred,
 * reason OutsideWindow, nextOpen), nothing restarts, and the rollout starts on its own
 * when the window opens; the emergency override annotation restarts now, window closed.
 *
 * The window is a real schedule a minute or two away (an allow window whose cron names the
 * next whole minute in UTC, computed here), not an injected clock: the operator under test
 * is the release's own process, whose clock a test cannot move without a test-only knob in
 * the product, and a minute away keeps the test well under two minutes.
 */
import type { Secret } from './support/aws';
import { OVERRIDE_ANNOTATION } from '../operator/src/rollout/engine';
import { eventReasons, endScenario, kubectl, rand, startScenario, value, waitLastRotation, waitMappingSynced, waitQueueEmpty, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

let s: Scenario;
let ns: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'windows', namespaces: ['windows'], watchOwnNamespaces: true });
  ns = s.namespaces[0];
});

afterAll(async () => {
  await endScenario(s);
});

interface RolloutStatus {
  phase?: string;
  summary?: string;
  reason?: string;
  message?: string;
  nextOpen?: number;
  states?: string;
}

async function rolloutOf(mapping: string): Promise<RolloutStatus | undefined> {
  return (await s.ctx.kube.mapping(ns, mapping)).status?.rollout as RolloutStatus | undefined;
}

async function rotate(secret: Secret): Promise<Secret> {
  const rotated = await s.ctx.aws.putSecretValue(secret, value());
  await s.ctx.aws.sendLabelUpdated(rotated);
  return rotated;
}

/** Deployments running, a mapping selecting them synced to the secret's current version. */
async function given(mapping: string, names: string[], rollout: Record<string, unknown>): Promise<Secret> {
  const secret = await s.ctx.aws.createSecret(`windows-${mapping}-${rand()}`);
  for (const n of names) await s.ctx.kube.createWorkload('Deployment', ns, n, { app: mapping });
  for (const n of names) await s.ctx.kube.waitForRunning(ns, n);
  await s.ctx.kube.createMapping(ns, mapping, { secretId: secret.name, selector: { matchLabels: { app: mapping } }, rollout });
  await waitMappingSynced(s.ctx, ns, mapping, secret.version);
  return secret;
}

/** Deferred by the window until `nextOpen` (epoch seconds), the message acknowledged, nothing restarted. */
async function expectDeferred(mapping: string, names: string[], nextOpen: number, version: string): Promise<void> {
  const r = await waitFor('the rollout is recorded, deferred outside the window', async () => {
    const x = await rolloutOf(mapping);
    return x?.phase === 'Deferred' ? x : undefined;
  });
  expect(r).toMatchObject({ reason: 'OutsideWindow', summary: 'Deferred', nextOpen, states: 'p'.repeat(names.length) });
  expect(r.message).toContain(new Date(nextOpen * 1000).toISOString());
  const m = await waitLastRotation(s.ctx, ns, mapping, version);
  expect(m.status?.lastRotation?.summary).toEqual({ Deferred: names.length });
  await waitQueueEmpty(s.ctx);
  for (const n of names) expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n) }).toEqual({ n, replicaSets: 1 });
}

async function expectRolledOnce(names: string[], version: string): Promise<void> {
  for (const n of names) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, n)) }).toEqual({ n, replicaSets: 2, versions: [version] });
  }
}

test('the emergency override restarts now while the window is closed', async () => {
  const names = ['urgent-0', 'urgent-1'];
  // Open one minute a year, on New Year's Day: closed now.
  const secret = await given('urgent', names, { windows: [{ kind: 'allow', schedule: '0 0 1 1 *', duration: '1m', timeZone: 'UTC' }] });
  const nextOpen = Date.UTC(new Date().getUTCFullYear() + 1, 0, 1) / 1000;
  const rotated = await rotate(secret);
  await expectDeferred('urgent', names, nextOpen, rotated.version);

  await kubectl(s.ctx, ['annotate', 'srm', 'urgent', '-n', ns, '--overwrite', `${OVERRIDE_ANNOTATION}=${new Date().toISOString()}`]);
  await waitFor('the rollout completes', async () => (await rolloutOf('urgent'))?.phase === 'Complete', { timeoutMs: 120_000 });
  expect(await rolloutOf('urgent')).toMatchObject({ summary: 'Complete 2/2', states: 'hh' });
  await expectRolledOnce(names, rotated.version);
  expect(await eventReasons(s.ctx, ns, 'urgent')).toContain('RolloutOverride');
});

test('a change outside the window is deferred until it opens, then rolls on its own', async () => {
  const names = ['nightly-0', 'nightly-1'];
  // The window opens at the next whole minute in UTC, or the one after when that is too close to see it closed first.
  const opensAt = new Date(Math.ceil((Date.now() + 40_000) / 60_000) * 60_000);
  const schedule = `${opensAt.getUTCMinutes()} ${opensAt.getUTCHours()} * * *`;
  const secret = await given('nightly', names, { windows: [{ kind: 'allow', schedule, duration: '10m', timeZone: 'UTC' }] });
  const rotated = await rotate(secret);
  await expectDeferred('nightly', names, opensAt.getTime() / 1000, rotated.version);
  expect(Date.now()).toBeLessThan(opensAt.getTime());

  await waitFor('the rollout completes once the window opens', async () => (await rolloutOf('nightly'))?.phase === 'Complete', { timeoutMs: opensAt.getTime() - Date.now() + 60_000 });
  expect(await rolloutOf('nightly')).toMatchObject({ summary: 'Complete 2/2', states: 'hh' });
  await expectRolledOnce(names, rotated.version);
  // Nothing was restarted before the window opened: each new ReplicaSet is from after it.
  for (const n of names) {
    const created = (await s.ctx.kube.apps.listNamespacedReplicaSet(ns)).body.items
      .filter((r) => r.metadata?.labels?.['workload-name'] === n)
      .map((r) => Date.parse(String(r.metadata!.creationTimestamp)));
    expect({ n, newest: Math.max(...created) >= opensAt.getTime() }).toEqual({ n, newest: true });
  }
});
