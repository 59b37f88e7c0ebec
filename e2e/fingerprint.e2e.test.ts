/**
 * The point of the product, on the real node: the operator runs in-cluster from its
 * image (helm install oci://…, chart as shipped; both images pulled by the node from the
 * stack's registry, by the digests this run pushed), the sample app (examples/fingerprint-app)
 * reads the secret from Secrets Manager when it starts and serves its fingerprint.
 * After put-secret-value and the event, every pod serves the new fingerprint, none
 * the old one, and a client sending requests through the whole roll saw no failure.
 */
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { pinnedRef } from '../scripts/stack/publish';
import { e2eContext, type E2eContext } from './support/context';
import {
  describeOnRealNode,
  deploymentPods,
  fingerprintAppManifest,
  fingerprintOf,
  installInCluster,
  publishedImage,
  releaseLogs,
  releasePods,
  servedByPods,
  ServiceClient,
  uninstallInCluster,
  waitEveryPodServes,
  waitRolledOut,
  type InClusterRelease,
} from './support/realnode';
import { waitFor } from './support/wait';

jest.setTimeout(600_000);

const ctx: E2eContext = e2eContext();

describeOnRealNode(ctx.env, 'rotation on the real node', () => {
  let operatorNs: string;
  let appNs: string;
  let release: InClusterRelease;

  beforeAll(async () => {
    await ctx.kube.installCrd();
    await ctx.emptyQueues();
    operatorNs = await ctx.kube.createNamespace('e2e-fp-operator');
    appNs = await ctx.kube.createNamespace('e2e-fp-app');
    release = await installInCluster(ctx, 'sro-fp', operatorNs, ['--set-string', `watchNamespaces[0]=${appNs}`]);
  });

  afterAll(async () => {
    if (release) await uninstallInCluster(ctx, release);
    for (const ns of [appNs, operatorNs]) if (ns) await ctx.kube.deleteNamespace(ns);
  });

  test('the operator runs in-cluster from its image as the chart ships it, pulled from the stack registry by digest', async () => {
    const pods = await releasePods(ctx, release);
    expect(pods.length).toBeGreaterThanOrEqual(1);
    const image = publishedImage('operator');
    for (const pod of pods) {
      expect(pod.spec!.nodeName).toBe(ctx.env.STACK_REAL_NODE);
      expect(pod.status!.containerStatuses?.[0]?.ready).toBe(true);
      const c = pod.spec!.containers[0];
      expect(c.image).toBe(pinnedRef(image));
      // The CRI's image id is the repository digest it resolved: the registry's, over TLS it verified.
      expect(pod.status!.containerStatuses![0].imageID).toBe(`${image.repository}@${image.digest}`);
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false });
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      // In-cluster config: the projected ServiceAccount token, no kubeconfig.
      expect(pod.spec!.serviceAccountName).toBe(release.deploymentName);
      expect(pod.spec!.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(true);
      expect((c.env ?? []).map((e) => e.name)).not.toContain('KUBECONFIG');
    }
    const logs = await releaseLogs(ctx, release);
    expect(logs.some((l) => l.message === 'became leader')).toBe(true);
    expect(logs.some((l) => l.message === 'consuming SQS')).toBe(true);
    // Node 24 in the image: the SDK's and the operator's old-Node notices are gone.
    expect(logs.some((l) => /Node\.js|node version/i.test(String(l.message)) && l.level === 'warn')).toBe(false);
  });

  test('after put-secret-value every pod serves fingerprint B, none A, and no request failed during the roll', async () => {
    const secretName = `e2e-fp-${randomUUID().slice(0, 8)}`;
    const valueA = `initial-${randomUUID()}`;
    const valueB = `rotated-${randomUUID()}`;
    const [fpA, fpB] = [fingerprintOf(valueA), fingerprintOf(valueB)];
    const secret = await ctx.aws.createSecret(secretName, valueA);

    const dep = fingerprintAppManifest(ctx.env, appNs, secretName);
    await ctx.kube.apps.createNamespacedDeployment(appNs, dep);
    const name = dep.metadata!.name!;
    await ctx.kube.core.createNamespacedService(appNs, { metadata: { name }, spec: { selector: dep.spec!.selector.matchLabels, ports: [{ port: 80, targetPort: 8080 as unknown as k8s.IntOrString }] } });
    await ctx.kube.createMapping(appNs, name, { secretId: secretName, selector: { matchLabels: dep.metadata!.labels }, workloadKinds: ['Deployment'] });
    await waitRolledOut(ctx, appNs, name, 2);
    const app = publishedImage('app');
    expect((await deploymentPods(ctx, appNs, name)).map((p) => p.status?.containerStatuses?.[0]?.imageID)).toEqual([`${app.repository}@${app.digest}`, `${app.repository}@${app.digest}`]);
    await waitFor('mapping Ready', async () => (await ctx.kube.mapping(appNs, name)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), { timeoutMs: 60_000 });

    const before = await servedByPods(ctx, appNs, name);
    expect(before).toHaveLength(2);
    expect(before.map((b) => b.served.fingerprint)).toEqual([fpA, fpA]);

    const client = new ServiceClient(ctx, appNs, name).start();
    await waitFor('the client to get answers', () => client.requests > 10, { timeoutMs: 30_000 });

    const t0 = Date.now();
    const rotated = await ctx.aws.putSecretValue(secret, valueB);
    await ctx.aws.sendLabelUpdated(rotated);
    const after = await waitEveryPodServes(ctx, appNs, name, fpB);
    const rollSeconds = (Date.now() - t0) / 1000;
    await waitRolledOut(ctx, appNs, name, 2);
    const requestsAtEnd = client.requests;
    await waitFor('a few more answers after the roll', () => client.requests > requestsAtEnd + 10, { timeoutMs: 30_000 });
    await client.stop();
    process.stderr.write(
      `[e2e] put-secret-value -> every pod serves the new value: ${rollSeconds.toFixed(1)} s; ${client.requests} requests during the roll, ${client.failures.length} failed; fingerprints seen ${JSON.stringify(Object.fromEntries([...client.seen].map(([k, v]) => [k === fpA ? 'A' : k === fpB ? 'B' : k, v])))}\n`,
    );

    expect(after.map((a) => a.served.versionId)).toEqual([rotated.version, rotated.version]);
    expect((await servedByPods(ctx, appNs, name)).filter((s) => s.served.fingerprint === fpA)).toEqual([]);
    expect(new Set(after.map((a) => a.pod))).not.toEqual(new Set(before.map((b) => b.pod)));
    expect(client.failures).toEqual([]);
    expect(client.seen.get(fpB) ?? 0).toBeGreaterThan(0);
    expect([...client.seen.keys()].every((k) => k === fpA || k === fpB)).toBe(true);

    const logs = await releaseLogs(ctx, release);
    expect(logs.some((l) => l.message === 'workload restarted' && String(l.workload).includes(`${appNs}/${name}`))).toBe(true);
    // Never a value, in any log.
    const text = JSON.stringify(logs);
    expect(text).not.toContain(valueA);
    expect(text).not.toContain(valueB);
  });
});
