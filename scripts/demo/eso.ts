/**
 * npm run demo -- --eso: the same stack and operator, for an application that gets its
 * secret through External Secrets Operator, with no SecretsRotationMapping. ESO (its
 * controller built from its Go module, run as a local process against the stack, moto as
 * its Secrets Manager) syncs the AWS secret into a Kubernetes Secret; the operator, with
 * discovery.externalSecrets.enabled, finds the ExternalSecret and the Deployment that uses
 * its Secret. On a change it asks ESO to sync now (force-sync), waits for it, then rolls
 * the Deployment once. On the real node the sample app's new pods serve the new value.
 */
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { labelUpdatedEvent } from '../kit/aws';
import type { E2eContext } from '../kit/context';
import { createAwsSecretStore, createExternalSecret, readExternalSecret, removeEsoCrds, startEso, type Eso } from '../kit/eso';
import { fingerprintAppManifest, fingerprintOf, servedByPods, waitRolledOut } from '../kit/realnode';
import { ESO_GROUP, FORCE_SYNC_ANNOTATION } from '../../operator/src/discovery/model';
import { RESTARTED_AT_ANNOTATION } from '../../operator/src/workloads/workload';
import { isRunning, stopProcessGroup } from '../stack/process';
import { getTable } from './kubeTable';
import type { LogFollower } from './operatorLog';
import { bold, command, note, output, println, seconds } from './ui';
import { begin, until } from './interrupt';
import { printTable } from './samples';
import { saveState, type DemoState } from './state';

export const ESO_NAMESPACE = 'eso-demo';
const STORE = 'aws-secrets-manager';
const EXTERNAL_SECRET = 'app-db';
const DEPLOYMENT = 'app';
/** The chart values the ESO demo adds to the operator's release. */
export const ESO_DEMO_VALUES = ['--set', 'discovery.externalSecrets.enabled=true', '--set-string', `watchNamespaces[0]=${ESO_NAMESPACE}`];

/** Step 2 of the ESO demo: External Secrets Operator itself, as a cluster that uses it runs it. */
export async function startExternalSecrets(ctx: E2eContext, state: DemoState): Promise<Eso> {
  begin('External Secrets Operator');
  command('helm install external-secrets external-secrets/external-secrets -n external-secrets --create-namespace');
  note(
    "Here: ESO v0.16.2's controller, built from its Go module (scripts/toolchain, cached), runs as a local process with the stack's kubeconfig, " +
      "and its CRDs from the same module are applied server-side. Its AWS provider reads from moto (AWS_SECRETSMANAGER_ENDPOINT).",
  );
  await removeEsoCrds(ctx);
  const eso = await startEso(ctx);
  state.eso = { pid: eso.pid, startTime: eso.startTime, logFile: eso.logFile };
  saveState(state);
  command(`kubectl get crd | grep ${ESO_GROUP}`);
  const crds = (await ctx.kube.ext.listCustomResourceDefinition()).body.items.filter((c) => c.spec.group === ESO_GROUP).map((c) => c.metadata!.name!);
  output(crds.sort().join('\n'));
  note(`ESO is running (its log: ${eso.logFile}); it validated a probe SecretStore against moto.`);
  // The application's namespace first: the operator's release (watchNamespaces) binds its Role there.
  command(`kubectl create namespace ${ESO_NAMESPACE}`);
  state.esoNamespace = ESO_NAMESPACE;
  saveState(state);
  await ctx.kube.core.createNamespace({ metadata: { name: ESO_NAMESPACE } });
  return eso;
}

/** Step 3: the AWS secret, a SecretStore, an ExternalSecret and a Deployment using its Secret — no mapping. */
export async function createEsoSamples(ctx: E2eContext, state: DemoState): Promise<{ secretName: string; value: string }> {
  begin('An application that reads its secret through ESO (no mapping)');
  const secretName = `demo/eso-app-${randomUUID().slice(0, 6)}`;
  const value = `initial-${randomUUID()}`;
  command(`aws secretsmanager create-secret --name ${secretName} --secret-string '<initial value>'`);
  state.esoSecret = secretName;
  saveState(state);
  const secret = await ctx.aws.createSecret(secretName, value);
  output(JSON.stringify({ ARN: secret.arn, Name: secret.name, VersionId: secret.version }, null, 4));

  command(`kubectl apply -n ${ESO_NAMESPACE} -f examples/external-secrets.yaml    # its SecretStore with static keys for moto here (IRSA in EKS), refreshInterval: 1h`);
  await createAwsSecretStore(ctx, ESO_NAMESPACE, STORE);
  output(`secretstore.external-secrets.io/${STORE} created (Ready: ESO validated it)`);
  await createExternalSecret(ctx, ESO_NAMESPACE, EXTERNAL_SECRET, { store: STORE, remoteKey: secretName, target: EXTERNAL_SECRET, secretKey: 'password', refreshInterval: '1h' });
  output(`externalsecret.external-secrets.io/${EXTERNAL_SECRET} created (synced: ESO wrote Secret ${EXTERNAL_SECRET})`);

  const dep = ctx.env.STACK_REAL_NODE ? fingerprintAppManifest(ctx.env, ESO_NAMESPACE, secretName, { fromSecret: { name: EXTERNAL_SECRET, key: 'password' } }) : placeholderDeployment();
  dep.metadata = { ...dep.metadata, name: DEPLOYMENT, namespace: ESO_NAMESPACE, labels: { app: DEPLOYMENT } };
  dep.spec!.selector = { matchLabels: { app: DEPLOYMENT } };
  dep.spec!.template.metadata = { ...dep.spec!.template.metadata, labels: { app: DEPLOYMENT } };
  await ctx.kube.apps.createNamespacedDeployment(ESO_NAMESPACE, dep);
  output(`deployment.apps/${DEPLOYMENT} created (its container reads Secret ${EXTERNAL_SECRET} through secretKeyRef)`);
  command(`kubectl rollout status -n ${ESO_NAMESPACE} deployment/${DEPLOYMENT}`);
  await waitRolledOut(ctx, ESO_NAMESPACE, DEPLOYMENT, dep.spec!.replicas ?? 1, 120_000);
  output(`deployment "${DEPLOYMENT}" successfully rolled out`);

  command(`kubectl get externalsecret -n ${ESO_NAMESPACE}`);
  printTable(await getTable(ctx.kube.kc, `/apis/${ESO_GROUP}/v1/namespaces/${ESO_NAMESPACE}/externalsecrets`));
  command(`kubectl get events -n ${ESO_NAMESPACE} --field-selector reason=Discovered`);
  const discovered = await until('the operator to report what it discovered', async () => (await ctx.kube.core.listNamespacedEvent(ESO_NAMESPACE, undefined, undefined, undefined, 'reason=Discovered')).body.items[0], 90_000, 500);
  output(`${discovered.involvedObject.kind}/${discovered.involvedObject.name}  Discovered  ${discovered.message}`);
  note('The operator found the ExternalSecret (its store is AWS Secrets Manager) and will roll the workloads whose pod template uses its Secret. It never reads the Secret.');
  return { secretName, value };
}

/** Step 4: the change. The operator asks ESO to sync, waits, then rolls the Deployment once. */
export async function rotateThroughEso(ctx: E2eContext, s: { secretName: string }, follower: LogFollower): Promise<void> {
  begin('Change the secret: ESO syncs because the operator asks, then one roll');
  const before = await readExternalSecret(ctx, ESO_NAMESPACE, EXTERNAL_SECRET);
  const restartedBefore = (await ctx.kube.apps.readNamespacedDeployment(DEPLOYMENT, ESO_NAMESPACE)).body.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION];
  const fpBefore = ctx.env.STACK_REAL_NODE ? (await servedByPods(ctx, ESO_NAMESPACE, DEPLOYMENT)).map((p) => p.served.fingerprint) : [];
  const value = `rotated-${randomUUID()}`;
  const t0 = Date.now();
  command(`aws secretsmanager put-secret-value --secret-id ${s.secretName} --secret-string '<new value>'`);
  const rotated = await ctx.aws.putSecretValue(s.secretName, value);
  command(`aws events put-events --entries '[{"Source":"aws.secretsmanager","DetailType":"Secret Label Updated",...}]'    # what AWS sends; moto does not`);
  await ctx.aws.put(labelUpdatedEvent(rotated));

  const synced = await until(
    'ESO to sync the ExternalSecret on the operator\'s request',
    async () => {
      const es = await readExternalSecret(ctx, ESO_NAMESPACE, EXTERNAL_SECRET);
      return es.status?.syncedResourceVersion !== before.status?.syncedResourceVersion ? es : undefined;
    },
    60_000,
    100,
  );
  const syncedAt = Date.now();
  await until(
    'the Deployment to be rolled',
    async () => (await ctx.kube.apps.readNamespacedDeployment(DEPLOYMENT, ESO_NAMESPACE)).body.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] !== restartedBefore,
    60_000,
    100,
  );
  const rolledAt = Date.now();
  follower.poll();
  command(`kubectl get externalsecret -n ${ESO_NAMESPACE} ${EXTERNAL_SECRET} -o jsonpath='{.metadata.annotations.${FORCE_SYNC_ANNOTATION}} {.status.refreshTime} {.status.syncedResourceVersion}'`);
  output(`${synced.metadata.annotations?.[FORCE_SYNC_ANNOTATION]} ${synced.status?.refreshTime} ${synced.status?.syncedResourceVersion}`);
  note(`force-sync is the annotation the operator set (ESO's documented way to ask for a sync); syncedResourceVersion moved from ${before.status?.syncedResourceVersion}: ESO wrote the new value into Secret ${EXTERNAL_SECRET}.`);
  command(`kubectl get events -n ${ESO_NAMESPACE} --field-selector reportingComponent=secrets-rotation-operator`);
  // The rotation writes its Events after the roll: wait for both (the ExternalSecret's and the Deployment's) before showing them.
  let events: k8s.CoreV1Event[] = [];
  await until(
    "the operator's Events on the ExternalSecret and the Deployment",
    async () => {
      events = (await ctx.kube.core.listNamespacedEvent(ESO_NAMESPACE)).body.items.filter((e) => e.reportingComponent === 'secrets-rotation-operator' && e.reason !== 'Discovered');
      return ['ExternalSecret', 'Deployment'].every((kind) => events.some((e) => e.involvedObject.kind === kind));
    },
    30_000,
    100,
  );
  for (const e of events) output(`${e.involvedObject.kind}/${e.involvedObject.name}  ${e.type}  ${e.reason}  ${e.message}`);
  await waitRolledOut(ctx, ESO_NAMESPACE, DEPLOYMENT, ctx.env.STACK_REAL_NODE ? 2 : 1, 180_000);
  println();
  println(bold(`put-secret-value → ESO synced (asked by the operator): ${seconds(syncedAt - t0)}; → Deployment rolled: ${seconds(rolledAt - t0)}`));
  note("Without the operator, ESO would have synced at its next refreshInterval (1h), and nothing would have restarted the pods.");
  if (ctx.env.STACK_REAL_NODE) {
    const want = fingerprintOf(value);
    const served = await until('every new pod to serve the new value', async () => {
      const p = await servedByPods(ctx, ESO_NAMESPACE, DEPLOYMENT);
      return p.length === 2 && p.every((x) => x.served.fingerprint === want) ? p : undefined;
    }, 120_000, 500);
    for (const x of served) {
      command(`curl -s http://<${x.pod} IP>:8080/`);
      output(JSON.stringify(x.served));
    }
    note(`The new pods serve the new value's fingerprint (${want}; before: ${[...new Set(fpBefore)].join(', ')}): they started after ESO had updated the Secret.`);
  } else note('No real node in this stack: the pods are kwok\'s (nothing runs); on the real node the sample app shows the new value.');
}

/** Clean-up of what the ESO demo made: its namespace, its AWS secret, ESO itself (process and CRDs). */
export async function cleanupEso(ctx: E2eContext | undefined, state: DemoState, step: (what: string, fn: () => Promise<void>) => Promise<void>): Promise<void> {
  if (ctx && state.esoNamespace) {
    await step('deleting the ESO demo namespace', async () => {
      command(`kubectl delete namespace ${state.esoNamespace}`);
      await ctx.kube.deleteNamespace(state.esoNamespace!);
      state.esoNamespace = undefined;
    });
  }
  if (ctx && state.esoSecret) {
    await step('deleting the ESO demo secret', async () => {
      command(`aws secretsmanager delete-secret --secret-id ${state.esoSecret} --force-delete-without-recovery`);
      await ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: state.esoSecret, ForceDeleteWithoutRecovery: true })).catch((err: Error) => {
        if (err.name !== 'ResourceNotFoundException') throw err;
      });
      state.esoSecret = undefined;
    });
  }
  if (state.eso) {
    const e = state.eso;
    await step('stopping External Secrets Operator', async () => {
      command('helm uninstall external-secrets -n external-secrets    # here: the local controller process and its CRDs');
      if (isRunning(e.pid, e.startTime)) await stopProcessGroup(e.pid, e.startTime, { graceMs: 10_000, name: 'external-secrets controller' });
      if (ctx) await removeEsoCrds(ctx);
      state.eso = undefined;
    });
  }
}

/** Where there is no real node: a Deployment for kwok's fake node that uses the Secret as the app would. */
function placeholderDeployment(): k8s.V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {},
    spec: {
      replicas: 1,
      selector: {},
      template: {
        metadata: {},
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1', env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: EXTERNAL_SECRET, key: 'password' } } }] }] },
      },
    },
  };
}
