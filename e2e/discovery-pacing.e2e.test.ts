/**
 * Issue 25, item 1's last sentence, on the kwok stack: a discovered source follows the
 * chart-wide rollout policy. An ExternalSecret (ESO running against the stack and moto,
 * scripts/kit/eso.ts) whose target Secret three Deployments read, the chart's
 * `rollouts.maxConcurrent=1`, the restart-only admission policy on (the default): on a
 * change the operator asks ESO to sync, records the rollout in the
 * `awssecretsoperator.secretoperator/rollout` annotation on the ExternalSecret, acknowledges
 * the message, and its loop rolls the three one at a time (kwok's pods turn Ready about a
 * second after they start), each once; the annotation ends Complete 3/3.
 */
import { SOURCE_ROLLOUT_ANNOTATION } from '../operator/src/core/names';
import { KINDS } from '../operator/src/workloads/kinds';
import { canI } from './support/chart';
import { createAwsSecretStore, createExternalSecret, readExternalSecret, removeEsoCrds, startEso, type Eso } from './support/eso';
import { e2eContext } from './support/context';
import { endScenario, rand, startScenario, value, waitQueueEmpty, type Scenario } from './support/scenario';
import { staysFalse, waitFor } from './support/wait';
import { RESTARTED_AT_ANNOTATION } from '../operator/src/workloads/workload';

jest.setTimeout(300_000);

let eso: Eso | undefined;
let s: Scenario | undefined;
let ns: string;

beforeAll(async () => {
  const ctx = e2eContext();
  // A run that died before its teardown may have left the CRDs behind.
  await removeEsoCrds(ctx);
  eso = await startEso(ctx);
  s = await startScenario({
    prefix: 'discpace',
    namespaces: ['discpace'],
    watchOwnNamespaces: true,
    values: ['--set', 'discovery.externalSecrets.enabled=true', '--set', 'rollouts.maxConcurrent=1'],
  });
  ns = s.namespaces[0];
  await createAwsSecretStore(s.ctx, ns, 'aws');
});

afterAll(async () => {
  try {
    await endScenario(s);
  } finally {
    await eso?.stop();
  }
});

interface SourceRollout {
  phase?: string;
  summary?: string;
  states?: string;
  workloads?: string[];
  versions?: Record<string, string>;
}

async function recordOn(name: string): Promise<SourceRollout | undefined> {
  const json = (await readExternalSecret(s!.ctx, ns, name)).metadata.annotations?.[SOURCE_ROLLOUT_ANNOTATION];
  return json === undefined ? undefined : (JSON.parse(json) as SourceRollout);
}

/** Whether the Deployment carries `version` and is not yet healthy by its own rule (kinds.ts, as kubectl rollout status decides). */
async function rollingOn(name: string, version: string): Promise<boolean> {
  const d = await s!.ctx.kube.readWorkload('Deployment', ns, name);
  const carries = Object.values(await s!.ctx.kube.appliedVersions('Deployment', ns, name)).includes(version);
  return carries && KINDS.Deployment.health(d as never) !== 'healthy';
}

test('the release may patch ExternalSecrets (force-sync, the rollout record) and nothing it may not', async () => {
  expect(await canI(s!.ctx, s!.release, 'patch', 'externalsecrets.external-secrets.io', ns)).toBe(true);
  expect(await canI(s!.ctx, s!.release, 'patch', 'externalsecrets.external-secrets.io', 'default')).toBe(false);
});

test('an ExternalSecret with 3 consumers under rollouts.maxConcurrent=1: recorded on the ExternalSecret, rolled one at a time, each once; the record ends Complete 3/3', async () => {
  const ctx = s!.ctx;
  const secret = await ctx.aws.createSecret(`discpace-${rand()}`, value());
  await createExternalSecret(ctx, ns, 'paced', { store: 'aws', remoteKey: secret.name, target: 'paced-config', refreshInterval: '1h' });
  const names = ['paced-0', 'paced-1', 'paced-2'];
  for (const n of names) await ctx.kube.createWorkload('Deployment', ns, n, { app: 'discpace' }, { envFromSecret: 'paced-config' });
  for (const n of names) await ctx.kube.waitForRunning(ns, n);
  // A change is routed to the sources the operator has discovered (a pass every 15 s): the ExternalSecret must be one of them first.
  await waitFor('the ExternalSecret discovered', async () => (await ctx.kube.eventsOn(ns, 'ExternalSecret', 'paced')).some((e) => e.reason === 'Discovered'), { timeoutMs: 60_000 });

  const rotated = await ctx.aws.putSecretValue(secret, value());
  await ctx.aws.sendLabelUpdated(rotated);

  // The intent is recorded on the ExternalSecret while the rollout is still under way.
  const first = await waitFor('the rollout is recorded on the ExternalSecret', async () => {
    const r = await recordOn('paced');
    return r && Object.values(r.versions ?? {}).includes(rotated.version) ? r : undefined;
  });
  expect(first.workloads).toEqual(names.map((n) => `Deployment/${n}`));
  expect(first.states).toMatch(/^[shp]{3}$/);
  expect(first.phase).not.toBe('Complete');
  let peak = 0;
  const seen = new Set<string>();
  await waitFor(
    'the rollout completes',
    async () => {
      const rolling = (await Promise.all(names.map((n) => rollingOn(n, rotated.version)))).filter(Boolean).length;
      peak = Math.max(peak, rolling);
      const r = await recordOn('paced');
      if (r?.summary) seen.add(r.summary);
      return r?.phase === 'Complete';
    },
    { timeoutMs: 180_000, intervalMs: 200 },
  );
  expect(peak).toBe(1);
  // One at a time: the record went through each count on its way.
  expect([...seen]).toEqual(expect.arrayContaining(['Rolling 1/3', 'Rolling 2/3', 'Complete 3/3']));
  expect(await recordOn('paced')).toMatchObject({ phase: 'Complete', summary: 'Complete 3/3', states: 'hhh', versions: { [Object.keys(first.versions!)[0]]: rotated.version } });
  await waitQueueEmpty(ctx);
  const stamps = await Promise.all(names.map(async (n) => (await ctx.kube.readWorkload('Deployment', ns, n)).spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]));
  await staysFalse(
    'a consumer restarted again',
    async () => (await Promise.all(names.map(async (n, i) => (await ctx.kube.readWorkload('Deployment', ns, n)).spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] !== stamps[i]))).some(Boolean),
    3_000,
  );
  for (const n of names) {
    expect({ n, replicaSets: await ctx.kube.replicaSetCount(ns, n), versions: Object.values(await ctx.kube.appliedVersions('Deployment', ns, n)) }).toEqual({ n, replicaSets: 2, versions: [rotated.version] });
  }
});
