/**
 * Issue 25 items 3 and 5 on the kwok stack, with the operator running as the chart's
 * ServiceAccount (so its RBAC is what a user installs):
 * - a canary whose new pods crash-loop halts the rollout at once, long before its health
 *   deadline: the operator lists the rolling canary's pods (rollouts.detectCrashLoop, the
 *   chart's `list` on pods) and sees CrashLoopBackOff. kwok runs no containers, so the
 *   test writes what a kubelet would (the new pod's container status) on a pod that cannot
 *   be scheduled, which kwok therefore leaves alone;
 * - settling across secrets: two mappings of two secrets selecting the same Deployments,
 *   the secrets changed 2 s apart, settleSeconds 10 on both: each Deployment restarts
 *   once, its template carrying both versions.
 */
import type { Secret } from './support/aws';
import { endScenario, eventReasons, kubectl, rand, startScenario, value, waitMappingSynced, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';
import { parseAppliedVersions } from '../operator/src/workloads/workload';

jest.setTimeout(300_000);

let s: Scenario;
let ns: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'signals', namespaces: ['signals'], watchOwnNamespaces: true });
  ns = s.namespaces[0];
});

afterAll(async () => {
  await endScenario(s);
});

const rolloutOf = async (mapping: string) => (await s.ctx.kube.mapping(ns, mapping)).status?.rollout as { phase?: string; reason?: string; states?: string } | undefined;

async function rotate(secret: Secret): Promise<Secret> {
  const rotated = await s.ctx.aws.putSecretValue(secret, value());
  await s.ctx.aws.sendLabelUpdated(rotated);
  return rotated;
}

async function deployments(names: string[], labels: (n: string) => Record<string, string>): Promise<void> {
  for (const n of names) await s.ctx.kube.createWorkload('Deployment', ns, n, labels(n));
  for (const n of names) await s.ctx.kube.waitForRunning(ns, n);
}

test('a canary whose new pods crash-loop halts the rollout within seconds, not at its 300 s deadline; the others are never restarted', async () => {
  const names = ['crashing-canary', 'crashing-0', 'crashing-1'];
  await deployments(names, (n) => ({ app: 'crashing', ...(n === 'crashing-canary' ? { canary: 'true' } : {}) }));
  const secret = await s.ctx.aws.createSecret(`signals-crash-${rand()}`);
  await s.ctx.kube.createMapping(ns, 'crashing', {
    secretId: secret.name,
    selector: { matchLabels: { app: 'crashing' } },
    rollout: { canary: { count: 1, selector: { matchLabels: { canary: 'true' } } }, healthTimeoutSeconds: 300 },
  });
  await waitMappingSynced(s.ctx, ns, 'crashing', secret.version);
  // The canary's new pods are never scheduled (kwok leaves them be); the test plays the kubelet.
  await kubectl(s.ctx, ['patch', 'deployment', 'crashing-canary', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { template: { spec: { nodeSelector: { 'srm.test/nowhere': 'true' } } } } })]);
  const bad = await rotate(secret);
  const newPod = await waitFor('the canary\'s new pod, carrying the new version', async () =>
    (await s.ctx.kube.pods(ns, 'crashing-canary')).find((p) => Object.values(parseAppliedVersions(p.metadata?.annotations)).includes(bad.version)),
  );
  const crashedAt = Date.now();
  const status = { containerStatuses: [{ name: 'app', image: 'app', imageID: '', ready: false, restartCount: 3, started: false, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } }] };
  const patched = await kubectl(s.ctx, ['patch', 'pod', newPod.metadata!.name!, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
  expect(patched.stderr).toBe('');
  const halted = await waitFor('the rollout halts on the crash loop', async () => ((await rolloutOf('crashing'))?.phase === 'Halted' ? s.ctx.kube.mapping(ns, 'crashing') : undefined), { timeoutMs: 60_000 });
  const haltedAfterMs = Date.now() - crashedAt;
  expect(halted.status?.rollout).toMatchObject({ reason: 'CanaryUnhealthy', states: 'fpp' });
  const condition = halted.status?.conditions?.find((c) => c.type === 'RolloutHalted');
  expect(condition).toMatchObject({ status: 'True', reason: 'CanaryUnhealthy' });
  expect(condition?.message).toContain(`pod ${newPod.metadata!.name}: container app in CrashLoopBackOff (3 restarts)`);
  expect(haltedAfterMs).toBeLessThan(60_000);
  await waitFor('the CanaryUnhealthy Event', async () => (await eventReasons(s.ctx, ns, 'crashing')).includes('CanaryUnhealthy'));
  for (const n of names.slice(1)) {
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions: await s.ctx.kube.appliedVersions('Deployment', ns, n) }).toEqual({ n, replicaSets: 1, versions: {} });
  }
});

test('settling across secrets: two secrets of two mappings changed 2 s apart restart each shared Deployment once, with both versions', async () => {
  const names = ['shared-0', 'shared-1'];
  await deployments(names, () => ({ app: 'shared' }));
  const user = await s.ctx.aws.createSecret(`signals-user-${rand()}`);
  const password = await s.ctx.aws.createSecret(`signals-password-${rand()}`);
  for (const [mapping, secret] of [['shared-user', user], ['shared-password', password]] as const) {
    await s.ctx.kube.createMapping(ns, mapping, { secretId: secret.name, selector: { matchLabels: { app: 'shared' } }, rollout: { settleSeconds: 10 } });
    await waitMappingSynced(s.ctx, ns, mapping, secret.version);
  }
  const u2 = await rotate(user);
  await waitFor('the first rollout settles', async () => (await rolloutOf('shared-user'))?.phase === 'Settling');
  const secondAt = Date.now() + 2_000;
  await waitFor('2 s after the first change', () => Date.now() >= secondAt, { intervalMs: 100 });
  const p2 = await rotate(password);
  await waitFor('both rollouts complete', async () => (await rolloutOf('shared-user'))?.phase === 'Complete' && (await rolloutOf('shared-password'))?.phase === 'Complete', { timeoutMs: 120_000 });
  for (const n of names) {
    const versions = Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, n)).sort();
    expect({ n, replicaSets: await s.ctx.kube.replicaSetCount(ns, n), versions }).toEqual({ n, replicaSets: 2, versions: [u2.version, p2.version].sort() });
  }
});
