/**
 * Issue 25's proof on the real node: a bad secret version is stopped by a canary. Four
 * Deployments of the sample app (examples/fingerprint-app, READY_ONLY_IF_OK: /readyz is 503
 * unless the value is JSON with "ok": true) share one secret; their mapping names one of
 * them the canary, with a 30 s health deadline. The operator runs in-cluster from its image
 * (helm install, the chart as shipped: rollouts.maxConcurrent 10).
 *
 * put-secret-value with a value the app refuses: the canary's new pod never becomes ready,
 * the rollout halts, the other three are never restarted and keep serving the old
 * fingerprint to a client that sees no failed request; the mapping's RolloutHalted
 * condition, the Warning Event, rollouts_halted_total and the SecretsRotationRolloutHalted
 * alert (promtool over the live /metrics, e2e/support/alerts.ts) say so. put-secret-value
 * with a good value: the canary goes first, then the rest, each once, all serving the new
 * fingerprint, still with no failed request.
 */
import * as k8s from '@kubernetes/client-node';
import { METRIC_PREFIX as M } from '../operator/src/core/metrics';
import { RESTARTED_AT_ANNOTATION } from '../operator/src/workloads/workload';
import { badSecretValue, canaryFleet, goodSecretValue, type CanaryFleet } from './support/canary';
import { alertVerdict, type Scrape } from './support/alerts';
import { e2eContext, type E2eContext } from './support/context';
import { httpGet, promSample } from './support/operator';
import {
  deploymentPods,
  describeOnRealNode,
  fingerprintOf,
  installInCluster,
  releaseLogs,
  releasePods,
  servedByPods,
  ServiceClient,
  uninstallInCluster,
  waitEveryPodServes,
  waitRolledOut,
  type InClusterRelease,
} from './support/realnode';
import { eventReasons, waitMappingSynced } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(900_000);

const ctx: E2eContext = e2eContext();
const ALERT = 'SecretsRotationRolloutHalted';
const MAPPING = 'fleet';

interface RolloutStatus {
  phase?: string;
  summary?: string;
  reason?: string;
  states?: string;
}

describeOnRealNode(ctx.env, 'a bad secret meets a canary on the real node', () => {
  let operatorNs: string;
  let appNs: string;
  let release: InClusterRelease;

  beforeAll(async () => {
    await ctx.kube.installCrd();
    await ctx.emptyQueues();
    operatorNs = await ctx.kube.createNamespace('e2e-canary-operator');
    appNs = await ctx.kube.createNamespace('e2e-canary-app');
    release = await installInCluster(ctx, 'sro-canary', operatorNs, ['--set-string', `watchNamespaces[0]=${appNs}`]);
  });

  afterAll(async () => {
    if (release) await uninstallInCluster(ctx, release);
    for (const ns of [appNs, operatorNs]) if (ns) await ctx.kube.deleteNamespace(ns);
  });

  /** Every operator replica's /metrics, from its pod IP on the node's bridge. */
  async function scrape(): Promise<Scrape[]> {
    const pods = (await releasePods(ctx, release)).filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp);
    return Promise.all(pods.map(async (p) => ({ pod: p.metadata!.name!, exposition: (await httpGet(8080, '/metrics', 5_000, p.status!.podIP!)).body })));
  }
  const metric = async (name: string): Promise<number> => (await scrape()).reduce((sum, s) => sum + promSample(s.exposition, name), 0);
  const alert = async (firing: boolean) => alertVerdict(ALERT, await scrape(), { namespace: operatorNs, job: release.deploymentName }, firing);
  const rolloutOf = async (): Promise<RolloutStatus | undefined> => (await ctx.kube.mapping(appNs, MAPPING)).status?.rollout as RolloutStatus | undefined;
  const restartsOf = async (name: string): Promise<string[]> =>
    (await releaseLogs(ctx, release)).filter((l) => l.message === 'workload restarted' && String(l.workload).endsWith(`/${appNs}/${name}`)).map((l) => String(l.version));

  /** What must not change on a workload that is never restarted: its pod template's annotations and its pods. */
  async function untouched(name: string): Promise<{ name: string; annotations: Record<string, string>; pods: string[]; replicaSets: number }> {
    const d = (await ctx.kube.apps.readNamespacedDeployment(name, appNs)).body;
    const pods = (await deploymentPods(ctx, appNs, name)).map((p) => p.metadata!.name!).sort();
    return { name, annotations: d.spec?.template.metadata?.annotations ?? {}, pods, replicaSets: await ctx.kube.replicaSetCount(appNs, name) };
  }

  async function createFleet(fleet: CanaryFleet): Promise<void> {
    for (const dep of fleet.deployments) await ctx.kube.apps.createNamespacedDeployment(appNs, dep);
    await ctx.kube.core.createNamespacedService(appNs, fleet.service as k8s.V1Service);
    for (const dep of fleet.deployments) await waitRolledOut(ctx, appNs, dep.metadata!.name!, 2);
  }

  test('a bad value halts at the canary: the other three are never restarted and serve the old fingerprint with no failed request, RolloutHalted, the Event, the metric and the alert fire; a good value then rolls all four, each once', async () => {
    const secretName = `e2e-canary-${Math.random().toString(36).slice(2, 10)}`;
    const [valueA, badValue, goodValue] = [goodSecretValue(), badSecretValue(), goodSecretValue()];
    const [fpA, fpBad, fpGood] = [valueA, badValue, goodValue].map(fingerprintOf);
    const secret = await ctx.aws.createSecret(secretName, valueA);
    const fleet = canaryFleet(ctx.env, appNs, MAPPING, secretName, { healthTimeoutSeconds: 30 });
    const all = [fleet.canary, ...fleet.others];
    await createFleet(fleet);
    await ctx.kube.createMapping(appNs, MAPPING, fleet.mappingSpec);
    await waitMappingSynced(ctx, appNs, MAPPING, secret.version);
    for (const n of all) expect((await servedByPods(ctx, appNs, n)).map((s) => s.served.fingerprint)).toEqual([fpA, fpA]);
    // Nothing halted yet: the alert is silent on the live series (the check can tell).
    expect(await alert(false)).toMatchObject({ passed: true });
    const before = await Promise.all(fleet.others.map(untouched));

    const client = new ServiceClient(ctx, appNs, fleet.name, 840_000).start();
    let goodVersion = '';
    try {
      await waitFor('the client to get answers', () => client.requests > 10, { timeoutMs: 30_000 });

      // ---- a value the app refuses
      const bad = await ctx.aws.putSecretValue(secret, badValue);
      await ctx.aws.sendLabelUpdated(bad);
      const halted = await waitFor(
        'the rollout halts at its canary',
        async () => {
          const m = await ctx.kube.mapping(appNs, MAPPING);
          const r = m.status?.rollout as RolloutStatus | undefined;
          if (r?.phase === 'Halted') return m;
          throw new Error(`status.rollout is ${JSON.stringify({ phase: r?.phase, summary: r?.summary, states: r?.states })}`);
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      const haltedAt = client.requests;
      expect(halted.status?.rollout).toMatchObject({ reason: 'CanaryUnhealthy', summary: expect.stringMatching(/^Halted/), states: 'fppp' });
      const condition = halted.status?.conditions?.find((c) => c.type === 'RolloutHalted');
      expect(condition).toMatchObject({ status: 'True', reason: 'CanaryUnhealthy' });
      expect(condition?.message).toContain(`canary Deployment/${fleet.canary} is not healthy`);
      await waitFor('the CanaryUnhealthy Warning Event', async () => (await ctx.kube.eventsFor(appNs, MAPPING)).some((e) => e.reason === 'CanaryUnhealthy' && e.type === 'Warning'));
      expect(await metric(`${M}rollouts_halted_total`)).toBe(1);
      expect(await alert(true)).toMatchObject({ passed: true });
      // The canary got the bad value: its new pod serves the bad fingerprint and is not ready; its old pods still serve.
      const canaryPods = await deploymentPods(ctx, appNs, fleet.canary);
      const unready = canaryPods.filter((p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      expect(unready).toHaveLength(1);
      expect((await servedByPods(ctx, appNs, fleet.canary)).map((s) => s.served.fingerprint).sort()).toEqual([fpA, fpA, fpBad].sort());

      // The halt holds while the client keeps asking: nothing more is stamped.
      await waitFor('a hundred more answers while halted', () => client.requests > haltedAt + 100, { timeoutMs: 60_000 });
      expect((await rolloutOf())?.phase).toBe('Halted');
      expect(await Promise.all(fleet.others.map(untouched))).toEqual(before);
      for (const n of fleet.others) expect((await servedByPods(ctx, appNs, n)).map((s) => s.served.fingerprint)).toEqual([fpA, fpA]);
      for (const n of fleet.others) expect(await restartsOf(n)).toEqual([]);
      expect({ failures: client.failures, seen: [...client.seen.keys()] }).toEqual({ failures: [], seen: [fpA] });

      // ---- a good value: a newer version starts again with the canary, then the rest, each once
      const good = await ctx.aws.putSecretValue(secret, goodValue);
      await ctx.aws.sendLabelUpdated(good);
      goodVersion = good.version;
      await waitFor('the new rollout completes', async () => (await rolloutOf())?.phase === 'Complete', { timeoutMs: 300_000, intervalMs: 1_000 });
      for (const n of all) await waitEveryPodServes(ctx, appNs, n, fpGood);
      const requestsAtEnd = client.requests;
      await waitFor('a few more answers after the roll', () => client.requests > requestsAtEnd + 10, { timeoutMs: 30_000 });
    } finally {
      await client.stop();
    }
    process.stderr.write(`[e2e] canary: ${client.requests} requests through the halt and the roll, ${client.failures.length} failed; fingerprints seen ${JSON.stringify(Object.fromEntries([...client.seen].map(([k, v]) => [k === fpA ? 'A' : k === fpGood ? 'good' : k === fpBad ? 'bad' : k, v])))}\n`);
    expect(client.failures).toEqual([]);
    expect([...client.seen.keys()].sort()).toEqual([fpA, fpGood].sort());

    const m = await ctx.kube.mapping(appNs, MAPPING);
    expect(m.status?.rollout).toMatchObject({ phase: 'Complete', summary: 'Complete 4/4', states: 'hhhh' });
    expect(m.status?.conditions?.find((c) => c.type === 'RolloutHalted')).toMatchObject({ status: 'False' });
    const versions = Object.fromEntries(await Promise.all(all.map(async (n) => [n, Object.values(await ctx.kube.appliedVersions('Deployment', appNs, n))])));
    expect(versions).toEqual(Object.fromEntries(all.map((n) => [n, [goodVersion]])));
    // Each once: the canary for the bad version and then the good, the others only for the good.
    expect(await restartsOf(fleet.canary)).toHaveLength(2);
    for (const n of fleet.others) expect({ n, restarts: await restartsOf(n), replicaSets: await ctx.kube.replicaSetCount(appNs, n) }).toEqual({ n, restarts: [goodVersion], replicaSets: 2 });
    expect(await ctx.kube.replicaSetCount(appNs, fleet.canary)).toBe(3);
    // The canary went first: it was stamped before any of the others.
    const stampedAt = async (n: string) => Date.parse((await ctx.kube.apps.readNamespacedDeployment(n, appNs)).body.spec!.template.metadata!.annotations![RESTARTED_AT_ANNOTATION]);
    const canaryAt = await stampedAt(fleet.canary);
    for (const n of fleet.others) expect(await stampedAt(n)).toBeGreaterThan(canaryAt);
    expect(await alert(false)).toMatchObject({ passed: true });
    expect(await eventReasons(ctx, appNs, MAPPING)).toContain('RolloutComplete');

    const text = JSON.stringify(await releaseLogs(ctx, release));
    for (const v of [valueA, badValue, goodValue]) expect(text).not.toContain(v);
  });
});
