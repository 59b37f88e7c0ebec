/**
 * Issue 15 on the real node: an application that gets its secret through External
 * Secrets Operator, with no mapping. The operator runs in-cluster from its image with
 * ExternalSecret discovery on; ESO (built from its Go module, scripts/kit/eso.ts) syncs
 * the moto secret into a Kubernetes Secret; the sample app reads it through an env var
 * (secretKeyRef, SECRET_ENV) and serves its fingerprint. After put-secret-value and the
 * event, the operator asks ESO to sync, waits for it, rolls the Deployment once, and every
 * new pod serves the new value's fingerprint: the restart came after the Secret was new.
 */
import { randomUUID } from 'node:crypto';
import { e2eContext, type E2eContext } from './support/context';
import { createAwsSecretStore, createExternalSecret, readExternalSecret, removeEsoCrds, startEso, type Eso } from './support/eso';
import { describeOnRealNode, fingerprintAppManifest, fingerprintOf, installInCluster, releaseLogs, servedByPods, uninstallInCluster, waitEveryPodServes, waitRolledOut, type InClusterRelease } from './support/realnode';
import { RESTARTED_AT_ANNOTATION } from '../operator/src/workloads/workload';
import { waitFor } from './support/wait';

jest.setTimeout(600_000);

const ctx: E2eContext = e2eContext();

describeOnRealNode(ctx.env, 'External Secrets discovery on the real node', () => {
  let operatorNs: string;
  let appNs: string;
  let release: InClusterRelease | undefined;
  let eso: Eso | undefined;

  beforeAll(async () => {
    await removeEsoCrds(ctx);
    eso = await startEso(ctx);
    await ctx.kube.installCrd();
    await ctx.emptyQueues();
    operatorNs = await ctx.kube.createNamespace('e2e-eso-operator');
    appNs = await ctx.kube.createNamespace('e2e-eso-app');
    release = await installInCluster(ctx, 'sro-eso', operatorNs, ['--set-string', `watchNamespaces[0]=${appNs}`, '--set', 'discovery.externalSecrets.enabled=true']);
  });

  afterAll(async () => {
    try {
      if (release) await uninstallInCluster(ctx, release);
      for (const ns of [appNs, operatorNs]) if (ns) await ctx.kube.deleteNamespace(ns);
    } finally {
      await eso?.stop();
    }
  });

  test('after put-secret-value ESO syncs because the operator asked, and the one roll brings pods serving the new value', async () => {
    const secretName = `e2e-eso-${randomUUID().slice(0, 8)}`;
    const valueA = `initial-${randomUUID()}`;
    const valueB = `rotated-${randomUUID()}`;
    const [fpA, fpB] = [fingerprintOf(valueA), fingerprintOf(valueB)];
    const secret = await ctx.aws.createSecret(secretName, valueA);
    await createAwsSecretStore(ctx, appNs, 'aws');
    // refreshInterval 1h: within this test only the operator's request makes ESO sync.
    const synced = await createExternalSecret(ctx, appNs, 'fp-db', { store: 'aws', remoteKey: secretName, target: 'fp-db', secretKey: 'value', refreshInterval: '1h' });

    const dep = fingerprintAppManifest(ctx.env, appNs, secretName, { fromSecret: { name: 'fp-db', key: 'value' } });
    await ctx.kube.apps.createNamespacedDeployment(appNs, dep);
    const name = dep.metadata!.name!;
    await waitRolledOut(ctx, appNs, name, 2);
    const before = await servedByPods(ctx, appNs, name);
    expect(before.map((b) => b.served.fingerprint)).toEqual([fpA, fpA]);
    const restartedBefore = (await ctx.kube.apps.readNamespacedDeployment(name, appNs)).body.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION];
    expect(restartedBefore).toBeUndefined();

    // A change is routed to the sources the operator has discovered (a pass every 15 s): the ExternalSecret must be one of them first.
    await waitFor('the ExternalSecret discovered', async () => (await ctx.kube.eventsOn(appNs, 'ExternalSecret', 'fp-db')).some((e) => e.reason === 'Discovered'), { timeoutMs: 60_000 });
    const t0 = Date.now();
    const rotated = await ctx.aws.putSecretValue(secret, valueB);
    await ctx.aws.sendLabelUpdated(rotated);
    const after = await waitEveryPodServes(ctx, appNs, name, fpB);
    process.stderr.write(`[e2e] put-secret-value -> ESO synced on request -> every pod serves the new value: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    await waitRolledOut(ctx, appNs, name, 2);

    // ESO synced after the request (the operator's force-sync annotation is on it), not by its 1h interval.
    const es = await readExternalSecret(ctx, appNs, 'fp-db');
    expect(es.metadata.annotations?.['force-sync']).toMatch(/^\d+$/);
    expect(es.status?.syncedResourceVersion).not.toBe(synced.status?.syncedResourceVersion);
    expect(new Set(after.map((a) => a.pod))).not.toEqual(new Set(before.map((b) => b.pod)));
    const logs = await releaseLogs(ctx, release!);
    expect(logs.filter((l) => l.message === 'ExternalSecret synced by ESO on request')).toHaveLength(1);
    expect(logs.filter((l) => l.message === 'workload restarted' && String(l.workload).includes(`${appNs}/${name}`))).toHaveLength(1);
    const text = JSON.stringify(logs);
    expect(text).not.toContain(valueA);
    expect(text).not.toContain(valueB);
  });
});
