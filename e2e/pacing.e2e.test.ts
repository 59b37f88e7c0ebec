/**
 * Issue 25, items 1-3, 5, 6 on the kwok stack: a change becomes a rollout recorded in the
 * mapping's status.rollout, then paced by the operator's loop against each Deployment's
 * own rollout-complete rule (kwok's pods turn Ready about a second after they start).
 * maxConcurrent is respected, a canary that cannot become healthy halts the rollout (the
 * others are never restarted), suspend records and restarts nothing until un-suspended,
 * and settling joins two versions into one restart. The same halt with real containers
 * refusing a bad value (the fingerprint app's READY_ONLY_IF_OK) is
 * e2e/canary-realnode.e2e.test.ts.
 */
import type { Secret } from './support/aws';
import { KINDS } from '../operator/src/workloads/kinds';
import { M, endScenario, eventReasons, kubectl, rand, startScenario, value, waitMappingSynced, waitQueueEmpty, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

let s: Scenario;
let ns: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'pacing', namespaces: ['pacing'], watchOwnNamespaces: true });
  ns = s.namespaces[0];
});

afterAll(async () => {
  await endScenario(s);
});

interface RolloutStatus {
  phase?: string;
  summary?: string;
  reason?: string;
  states?: string;
  stampedAt?: number[];
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
async function given(mapping: string, names: string[], spec: Record<string, unknown>, labels: (name: string) => Record<string, string> = () => ({})): Promise<Secret> {
  const secret = await s.ctx.aws.createSecret(`pacing-${mapping}-${rand()}`);
  for (const n of names) await s.ctx.kube.createWorkload('Deployment', ns, n, { app: mapping, ...labels(n) });
  for (const n of names) await s.ctx.kube.waitForRunning(ns, n);
  await s.ctx.kube.createMapping(ns, mapping, { secretId: secret.name, selector: { matchLabels: { app: mapping } }, ...spec });
  await waitMappingSynced(s.ctx, ns, mapping, secret.version);
  return secret;
}

/** Whether the Deployment carries `version` and is not yet healthy by its own rule (kinds.ts, as kubectl rollout status decides). */
async function rollingOn(name: string, version: string): Promise<boolean> {
  const d = await s.ctx.kube.readWorkload('Deployment', ns, name);
  const carries = Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, name)).includes(version);
  return carries && KINDS.Deployment.health(d as never) !== 'healthy';
}

test('maxConcurrent 2 of 5: never more than two rolling at once, each restarted once, the message acknowledged at once', async () => {
  const names = Array.from({ length: 5 }, (_, i) => `paced-${i}`);
  const secret = await given('paced', names, { rollout: { maxConcurrent: 2 } });
  const rotated = await rotate(secret);
  // The intent is recorded, so the message goes before the restarts are done.
  await waitQueueEmpty(s.ctx);
  let peak = 0;
  await waitFor(
    'the rollout completes',
    async () => {
      const rolling = (await Promise.all(names.map((n) => rollingOn(n, rotated.version)))).filter(Boolean).length;
      peak = Math.max(peak, rolling);
      return (await rolloutOf('paced'))?.phase === 'Complete';
    },
    { timeoutMs: 180_000, intervalMs: 200 },
  );
  expect(peak).toBeGreaterThanOrEqual(1);
  expect(peak).toBeLessThanOrEqual(2);
  expect(await rolloutOf('paced')).toMatchObject({ phase: 'Complete', summary: 'Complete 5/5', states: 'hhhhh' });
  for (const n of names) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, n)) }).toEqual({ n, replicaSets: 2, versions: [rotated.version] });
  }
  // Paced: five stamps two at a time took at least three moments.
  const stamped = new Set((await rolloutOf('paced'))!.stampedAt);
  expect(stamped.size).toBeGreaterThanOrEqual(3);
  expect(await s.op.metric(`${M}rollout_complete_seconds_count`)).toBeGreaterThanOrEqual(1);
});

test('a canary that cannot become healthy halts the rollout: the others are never restarted; RolloutHalted, a Warning Event, the metric; a newer version starts again with the canary', async () => {
  const names = ['halting-canary', 'halting-0', 'halting-1', 'halting-2'];
  const secret = await given('halting', names, { rollout: { canary: { count: 1, selector: { matchLabels: { canary: 'true' } } }, healthTimeoutSeconds: 10 } }, (n): Record<string, string> => (n === 'halting-canary' ? { canary: 'true' } : {}));
  // The canary's new pods can never be scheduled: it cannot become healthy on its new template.
  await kubectl(s.ctx, ['patch', 'deployment', 'halting-canary', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { template: { spec: { nodeSelector: { 'srm.test/nowhere': 'true' } } } } })]);
  const bad = await rotate(secret);
  const halted = await waitFor('the rollout halts', async () => ((await rolloutOf('halting'))?.phase === 'Halted' ? s.ctx.kube.mapping(ns, 'halting') : undefined), { timeoutMs: 90_000 });
  expect(halted.status?.rollout).toMatchObject({ reason: 'CanaryUnhealthy', states: 'fppp' });
  const condition = halted.status?.conditions?.find((c) => c.type === 'RolloutHalted');
  expect(condition).toMatchObject({ status: 'True', reason: 'CanaryUnhealthy' });
  expect(condition?.message).toContain('canary Deployment/halting-canary is not healthy');
  await waitFor('the CanaryUnhealthy Event', async () => (await eventReasons(s.ctx, ns, 'halting')).includes('CanaryUnhealthy'));
  expect(await s.op.metric(`${M}rollouts_halted_total`)).toBe(1);
  for (const n of names.slice(1)) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: await s.ctx.kube.appliedVersions('Deployment', ns, n) }).toEqual({ n, replicaSets: 1, versions: {} });
  }
  expect(await s.op.metric(`${M}rollout_workloads`, { state: 'halted' })).toBe(3);

  // The canary can run again, and a newer version arrives: it goes first, then the rest, each once.
  await kubectl(s.ctx, ['patch', 'deployment', 'halting-canary', '-n', ns, '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/template/spec/nodeSelector' }])]);
  const good = await rotate({ ...bad });
  await waitFor('the new rollout completes', async () => (await rolloutOf('halting'))?.phase === 'Complete', { timeoutMs: 180_000 });
  const m = await s.ctx.kube.mapping(ns, 'halting');
  expect(m.status?.conditions?.find((c) => c.type === 'RolloutHalted')).toMatchObject({ status: 'False', reason: 'Complete' });
  for (const n of names.slice(1)) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, n)) }).toEqual({ n, replicaSets: 2, versions: [good.version] });
  }
});

test('a halted rollout resumes on request (the annotation): the rest roll, the failed canary stays as it is', async () => {
  const names = ['resumed-canary', 'resumed-0', 'resumed-1'];
  const secret = await given('resumed', names, { rollout: { canary: { count: 1, selector: { matchLabels: { canary: 'true' } } }, healthTimeoutSeconds: 5 } }, (n): Record<string, string> => (n === 'resumed-canary' ? { canary: 'true' } : {}));
  await kubectl(s.ctx, ['patch', 'deployment', 'resumed-canary', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { template: { spec: { nodeSelector: { 'srm.test/nowhere': 'true' } } } } })]);
  const rotated = await rotate(secret);
  await waitFor('the rollout halts', async () => (await rolloutOf('resumed'))?.phase === 'Halted', { timeoutMs: 90_000 });
  for (const n of names.slice(1)) expect(await s.ctx.kube.replicaSetCount(ns, n)).toBe(1);
  await kubectl(s.ctx, ['annotate', 'srm', 'resumed', '-n', ns, '--overwrite', `awssecretsoperator.secretoperator/rollout-resume=${new Date().toISOString()}`]);
  await waitFor('the rollout completes', async () => (await rolloutOf('resumed'))?.phase === 'Complete', { timeoutMs: 120_000 });
  expect(await rolloutOf('resumed')).toMatchObject({ states: 'fhh' });
  for (const n of names.slice(1)) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, n)) }).toEqual({ n, replicaSets: 2, versions: [rotated.version] });
  }
  expect((await s.ctx.kube.mapping(ns, 'resumed')).status?.conditions?.find((c) => c.type === 'RolloutHalted')).toMatchObject({ status: 'False' });
});

test('suspended: the change is recorded (Deferred, Suspended) and nothing restarts; un-suspending rolls it, once', async () => {
  const names = ['held-0', 'held-1'];
  const secret = await given('held', names, { suspend: true });
  const rotated = await rotate(secret);
  await waitFor('the rollout is recorded, deferred', async () => {
    const r = await rolloutOf('held');
    return r?.phase === 'Deferred' && r.reason === 'Suspended';
  });
  await waitQueueEmpty(s.ctx);
  for (const n of names) expect(await s.ctx.kube.replicaSetCount(ns, n)).toBe(1);
  await kubectl(s.ctx, ['patch', 'srm', 'held', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { suspend: false } })]);
  await waitFor('the rollout completes', async () => (await rolloutOf('held'))?.phase === 'Complete', { timeoutMs: 120_000 });
  for (const n of names) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, n)) }).toEqual({ n, replicaSets: 2, versions: [rotated.version] });
  }
});

test('settleSeconds 10: two versions within the settle time end in one restart, on the newer, after the settle time', async () => {
  const secret = await given('settled', ['settled-0'], { rollout: { settleSeconds: 10 } });
  const first = await rotate(secret);
  await waitFor('the rollout settles', async () => (await rolloutOf('settled'))?.phase === 'Settling');
  const second = await rotate({ ...first });
  await waitFor('the rollout completes', async () => (await rolloutOf('settled'))?.phase === 'Complete', { timeoutMs: 120_000 });
  expect(await s.ctx.kube.replicaSetCount(ns, 'settled-0')).toBe(2);
  expect(Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, 'settled-0'))).toEqual([second.version]);
  // Stamped no sooner than settleSeconds after the first change (stampedAt is 1 + seconds after it).
  expect((await rolloutOf('settled'))!.stampedAt![0]).toBeGreaterThanOrEqual(11);
});
