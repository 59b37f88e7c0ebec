/**
 * npm run demo -- --bad-secret: the same stack and operator, and a rotation that writes a
 * value the applications refuse. Four Deployments of the sample app share one secret and,
 * in READY_ONLY_IF_OK mode, are never ready unless the value is JSON with "ok": true (as an
 * app refuses a wrong password); their mapping names one of them the canary. The bad value:
 * the canary's new pod never becomes ready, the rollout halts, the other three are never
 * restarted and keep serving. A good value: the canary first, then the rest, each once.
 * Needs the real node: only real containers can refuse a value.
 */
import * as k8s from '@kubernetes/client-node';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { labelUpdatedEvent } from '../kit/aws';
import { badSecretValue, canaryFleet, goodSecretValue, type CanaryFleet } from '../kit/canary';
import type { E2eContext } from '../kit/context';
import { httpGet, promSample } from '../kit/operator';
import { deploymentPods, fingerprintOf, servedByPods, ServiceClient, waitRolledOut } from '../kit/realnode';
import { AbortPoll, waitFor } from '../kit/wait';
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { GROUP, PLURAL, VERSION } from '../../operator/src/mappings/model';
import { getTable, headerCells, rowCells, shownColumns, watchTable, type TableWatch } from './kubeTable';
import type { LogFollower } from './operatorLog';
import { bold, columns, command, dim, note, output, println, seconds } from './ui';
import { begin, until } from './interrupt';
import { exists, printTable } from './samples';
import { OPERATOR_NAMESPACE, saveState, type DemoState } from './state';

export const CANARY_NAMESPACE = 'canary-demo';
const FLEET = 'shop';
/** The chart values the --bad-secret demo adds to the operator's release. */
export const BAD_SECRET_DEMO_VALUES = ['--set-string', `watchNamespaces[0]=${CANARY_NAMESPACE}`];

interface RolloutStatus {
  phase?: string;
  summary?: string;
}

/** Before the operator: its release (watchNamespaces) binds its Role in the namespace. */
export async function createCanaryNamespace(ctx: E2eContext, state: DemoState): Promise<void> {
  if (!ctx.env.STACK_REAL_NODE) throw new Error(`--bad-secret needs the real node (only real containers can refuse a value): ${ctx.env.STACK_REAL_NODE_SKIP_REASON}`);
  command(`kubectl create namespace ${CANARY_NAMESPACE}`);
  state.canaryNamespace = CANARY_NAMESPACE;
  saveState(state);
  await ctx.kube.core.createNamespace({ metadata: { name: CANARY_NAMESPACE } });
}

/** Step 3: the secret (a value the apps accept), four Deployments, a Service and the mapping with its canary. */
export async function createFleet(ctx: E2eContext, state: DemoState): Promise<CanaryFleet> {
  begin('Four apps share one secret; one of them is the canary');
  const secretName = `demo/${FLEET}-db`;
  command(`aws secretsmanager create-secret --name ${secretName} --secret-string '{"ok": true, "password": "<good>"}'`);
  state.canarySecret = secretName;
  saveState(state);
  const secret = await ctx.aws.createSecret(secretName, goodSecretValue());
  output(JSON.stringify({ ARN: secret.arn, Name: secret.name, VersionId: secret.version }, null, 4));
  const fleet = canaryFleet(ctx.env, CANARY_NAMESPACE, FLEET, secretName, { healthTimeoutSeconds: 30 });
  note(`Four Deployments of the sample app (two replicas each, maxUnavailable 0), with READY_ONLY_IF_OK=true: /readyz answers 503 unless the secret is JSON with "ok": true. ${fleet.canary} carries the label the mapping's canary selector names.`);
  command(`kubectl apply -n ${CANARY_NAMESPACE} -f -    # the Deployments ${[fleet.canary, ...fleet.others].join(', ')}, Service ${fleet.name}, and:`);
  output(k8s.dumpYaml({ apiVersion: `${GROUP}/${VERSION}`, kind: 'SecretsRotationMapping', metadata: { name: FLEET }, spec: fleet.mappingSpec }));
  for (const dep of fleet.deployments) {
    await ctx.kube.apps.createNamespacedDeployment(CANARY_NAMESPACE, dep);
    output(`deployment.apps/${dep.metadata!.name} created`);
  }
  await ctx.kube.core.createNamespacedService(CANARY_NAMESPACE, fleet.service);
  output(`service/${fleet.name} created`);
  await ctx.kube.createMapping(CANARY_NAMESPACE, FLEET, fleet.mappingSpec);
  output(`secretsrotationmapping.${GROUP}/${FLEET} created`);
  for (const dep of fleet.deployments) await waitRolledOut(ctx, CANARY_NAMESPACE, dep.metadata!.name!, 2);
  await until(`mapping ${FLEET} to be Ready`, async () => (await ctx.kube.mapping(CANARY_NAMESPACE, FLEET)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 60_000);
  command(`kubectl get deployments -n ${CANARY_NAMESPACE}`);
  printTable(await getTable(ctx.kube.kc, `/apis/apps/v1/namespaces/${CANARY_NAMESPACE}/deployments`));
  return fleet;
}

/** `kubectl get srm <name> --watch`: a row each time what it shows changes. */
async function watchMapping(ctx: E2eContext, onError: (err: Error) => void): Promise<TableWatch> {
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${CANARY_NAMESPACE}/${PLURAL}`;
  const query = { fieldSelector: `metadata.name=${FLEET}` };
  const initial = await getTable(ctx.kube.kc, path, query);
  const cols = shownColumns(initial);
  const rows = [headerCells(initial, cols), ...(initial.rows ?? []).map((r) => rowCells(r, cols))];
  const { widths } = columns(rows);
  // Room for the longest ROLLOUT this rollout shows, so later rows stay aligned.
  const rolloutColumn = rows[0].indexOf('ROLLOUT');
  if (rolloutColumn >= 0) widths[rolloutColumn] = Math.max(widths[rolloutColumn], 'Complete 4/4'.length);
  const tag = dim('[srm -w]');
  command(`kubectl get srm ${FLEET} -n ${CANARY_NAMESPACE} --watch`);
  let last = '';
  const show = (cells: string[]) => {
    const line = columns([cells], widths).lines[0];
    if (line !== last) println(`${tag}   ${line}`);
    last = line;
  };
  println(`${tag}   ${columns([rows[0]], widths).lines[0]}`);
  for (const r of rows.slice(1)) show(r);
  return watchTable(ctx.kube.kc, path, { ...query, resourceVersion: initial.metadata?.resourceVersion ?? '' }, (_t, row) => show(rowCells(row, cols)), onError);
}

async function operatorMetric(ctx: E2eContext, name: string): Promise<number> {
  const pods = (await ctx.kube.core.listNamespacedPod(OPERATOR_NAMESPACE)).body.items.filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp);
  const texts = await Promise.all(pods.map(async (p) => (await httpGet(8080, '/metrics', 5_000, p.status!.podIP!)).body));
  return texts.reduce((sum, t) => sum + promSample(t, name), 0);
}

/** put-secret-value, and the event AWS would send (moto sends none). */
async function change(ctx: E2eContext, fleet: CanaryFleet, shown: string, value: string): Promise<string> {
  const secretId = String(fleet.mappingSpec.secretId);
  command(`aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string '${shown}'`);
  const rotated = await ctx.aws.putSecretValue(secretId, value);
  command(`aws events put-events --entries '[{"Source":"aws.secretsmanager","DetailType":"Secret Label Updated",...}]'    # what AWS sends; moto does not`);
  await ctx.aws.put(labelUpdatedEvent(rotated));
  return rotated.version;
}

/** Steps 4 and 5: the bad value halts at the canary while the rest keep serving; the good value rolls all four. */
export async function badThenGood(ctx: E2eContext, fleet: CanaryFleet, follower: LogFollower): Promise<void> {
  begin('A value the apps refuse: the canary halts the rollout');
  const fpOld = (await servedByPods(ctx, CANARY_NAMESPACE, fleet.canary))[0].served.fingerprint;
  note(`A client sends requests to Service ${fleet.name} (every ready pod of the four, as kube-proxy routes them) through both changes. [srm -w] is:`);
  let watchError: Error | undefined;
  const watch = await watchMapping(ctx, (err) => (watchError = err));
  const client = new ServiceClient(ctx, CANARY_NAMESPACE, fleet.name, 600_000).start();
  const rollout = async () => (await ctx.kube.mapping(CANARY_NAMESPACE, FLEET)).status?.rollout as RolloutStatus | undefined;
  try {
    await until('the client to get answers', () => client.requests > 10, 30_000);
    const badValue = badSecretValue();
    const t0 = Date.now();
    await change(ctx, fleet, '{"ok": false, "password": "<wrong>"}', badValue);
    await until(
      'the rollout to halt at its canary',
      async () => {
        if (watchError) throw new AbortPoll(watchError);
        return (await rollout())?.phase === 'Halted';
      },
      180_000,
      500,
    );
    const haltedAfter = Date.now() - t0;
    follower.poll();
    println();
    println(bold(`Halted ${seconds(haltedAfter)} after put-secret-value: the canary was not healthy within healthTimeoutSeconds (30).`));
    command(`kubectl get srm -n ${CANARY_NAMESPACE}`);
    printTable(await getTable(ctx.kube.kc, `/apis/${GROUP}/${VERSION}/namespaces/${CANARY_NAMESPACE}/${PLURAL}`));
    command(`kubectl get srm ${FLEET} -n ${CANARY_NAMESPACE} -o jsonpath='{.status.conditions[?(@.type=="RolloutHalted")]}'`);
    const halted = (await ctx.kube.mapping(CANARY_NAMESPACE, FLEET)).status?.conditions?.find((c) => c.type === 'RolloutHalted');
    output(JSON.stringify({ type: halted?.type, status: halted?.status, reason: halted?.reason, message: halted?.message }));
    command(`kubectl get events -n ${CANARY_NAMESPACE} --field-selector involvedObject.name=${FLEET},type=Warning`);
    printTable(await getTable(ctx.kube.kc, `/api/v1/namespaces/${CANARY_NAMESPACE}/events`, { fieldSelector: `involvedObject.name=${FLEET},type=Warning` }));
    command(`kubectl get deployments -n ${CANARY_NAMESPACE}`);
    printTable(await getTable(ctx.kube.kc, `/apis/apps/v1/namespaces/${CANARY_NAMESPACE}/deployments`));
    const unready = (await deploymentPods(ctx, CANARY_NAMESPACE, fleet.canary)).filter((p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    note(`${fleet.canary}'s new pod ${unready.map((p) => p.metadata!.name).join(', ')} got the bad value and is not ready; its two old pods still serve. The operator never rolls back: the secret is the thing to fix.`);
    for (const n of fleet.others) {
      const served = await servedByPods(ctx, CANARY_NAMESPACE, n);
      command(`curl -s http://<${served[0].pod} IP>:8080/    # ${n}: never restarted`);
      output(JSON.stringify(served[0].served));
    }
    command(`curl -s http://<operator pod IP>:8080/metrics | grep ^${METRIC_PREFIX}rollouts_halted`);
    output(`${METRIC_PREFIX}rollouts_halted ${await operatorMetric(ctx, `${METRIC_PREFIX}rollouts_halted`)}\n${METRIC_PREFIX}rollouts_halted_total ${await operatorMetric(ctx, `${METRIC_PREFIX}rollouts_halted_total`)}`);
    note('The chart\'s alert SecretsRotationRolloutHalted fires on rollouts_halted > 0 (docs/runbook.md#secretsrotationrollouthalted).');
    const staleOrFailed = client.failures.length > 0 || [...client.seen.keys()].some((f) => f !== fpOld);
    println(bold(`${client.requests} requests so far, ${client.failures.length} failed; every answer the old fingerprint: ${staleOrFailed ? 'no' : 'yes'}`));
    if (staleOrFailed) throw new Error(`the halt was not clean: ${client.failures.length} failed request(s) (${client.failures.slice(0, 3).join('; ')}), fingerprints seen ${[...client.seen.keys()].join(', ')}`);

    begin('A good value: the rollout starts again with the canary, then the rest, each once');
    const goodValue = goodSecretValue();
    const want = fingerprintOf(goodValue);
    const t1 = Date.now();
    await change(ctx, fleet, '{"ok": true, "password": "<right>"}', goodValue);
    const all = [fleet.canary, ...fleet.others];
    await until(
      'the rollout to complete and every pod of the four to serve the new value',
      async () => {
        if (watchError) throw new AbortPoll(watchError);
        if ((await rollout())?.phase !== 'Complete') return false;
        const served = await Promise.all(all.map((n) => servedByPods(ctx, CANARY_NAMESPACE, n)));
        return served.every((s) => s.length === 2 && s.every((x) => x.served.fingerprint === want));
      },
      300_000,
      500,
    );
    const tookMs = Date.now() - t1;
    for (const n of all) await waitRolledOut(ctx, CANARY_NAMESPACE, n, 2);
    const n = client.requests;
    await until('a few more answers after the roll', () => client.requests > n + 10, 30_000);
    await client.stop();
    watch.stop();
    follower.poll();
    command(`kubectl get srm -n ${CANARY_NAMESPACE}`);
    printTable(await getTable(ctx.kube.kc, `/apis/${GROUP}/${VERSION}/namespaces/${CANARY_NAMESPACE}/${PLURAL}`));
    command(`kubectl get deployments -n ${CANARY_NAMESPACE}`);
    printTable(await getTable(ctx.kube.kc, `/apis/apps/v1/namespaces/${CANARY_NAMESPACE}/deployments`));
    println();
    println(bold(`From the good put-secret-value to all four serving the new value: ${seconds(tookMs)}`));
    note(`${client.requests} requests through both changes, ${client.failures.length} failed; answers: ${[...client.seen].map(([f, c]) => `${f === want ? 'new' : f === fpOld ? 'old' : 'bad(!)'} fingerprint ${c}`).join(', ')}.`);
    if (client.failures.length || [...client.seen.keys()].some((f) => f !== fpOld && f !== want)) throw new Error(`the roll was not clean: ${client.failures.length} failed request(s) (${client.failures.slice(0, 3).join('; ')})`);
  } finally {
    await client.stop();
    watch.stop();
  }
}

/** Clean-up of what the --bad-secret demo made: its namespace and its AWS secret. */
export async function cleanupCanary(ctx: E2eContext | undefined, state: DemoState, step: (what: string, fn: () => Promise<void>) => Promise<void>): Promise<void> {
  if (ctx && state.canaryNamespace) {
    await step('deleting the --bad-secret demo namespace', async () => {
      const ns = state.canaryNamespace!;
      command(`kubectl delete namespace ${ns}`);
      await ctx.kube.deleteNamespace(ns);
      // Wait only when the stack stays up: a rerun must not meet a Terminating namespace.
      if (!state.stackStarted) await waitFor(`namespace ${ns} to be gone`, async () => !(await exists(() => ctx.kube.core.readNamespace(ns))), { timeoutMs: 120_000 });
      output(`namespace "${ns}" deleted`);
      state.canaryNamespace = undefined;
    });
  }
  if (ctx && state.canarySecret) {
    await step('deleting the --bad-secret demo secret', async () => {
      command(`aws secretsmanager delete-secret --secret-id ${state.canarySecret} --force-delete-without-recovery`);
      await ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: state.canarySecret, ForceDeleteWithoutRecovery: true })).catch((err: Error) => {
        if (err.name !== 'ResourceNotFoundException') throw err;
      });
      state.canarySecret = undefined;
    });
  }
}
