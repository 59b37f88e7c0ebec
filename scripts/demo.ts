/**
 * npm run demo: the original proof of concept's walkthrough, on the local stack.
 *
 *   prerequisites (CloudFormation in the AWS emulator) → helm install → the sample
 *   secret, mapping and nginx Deployment → put-secret-value → the operator logs the
 *   rotation and restarts the Deployment → the old pod terminates, a new one runs →
 *   what the mapping recorded → (on the real node) the sample app's pods serve the new
 *   secret's fingerprint → clean up everything.
 *
 * Where the stack has a real node, the operator runs there in-cluster from its image
 * (npm run image, helm install) and its log is `kubectl logs -f`; otherwise a local
 * process stands in for the container.
 *
 *   npm run demo                  all of it, then clean up
 *   npm run demo -- --keep        leave everything running to explore (prints how)
 *   npm run demo -- --rotate      after --keep: change the secret again and watch
 *   npm run demo -- --cleanup     after --keep or an interrupted run: remove what the demo made
 *
 * The stack lives in $STACK_DIR (default .stack/). A stack that was already up is
 * used and left up; one the demo started is taken down again. What the demo made is
 * recorded in $STACK_DIR/demo.json as it goes, so --cleanup can always finish the job.
 */
import './quiet-sdk-warning';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DeleteSecretCommand, DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { labelUpdatedEvent, putEventsEntry, type Secret } from '../e2e/support/aws';
import { CHART_DIR, helm, localValues, readRelease } from '../e2e/support/chart';
import { e2eContext, type E2eContext } from '../e2e/support/context';
import { podIsRunning } from '../e2e/support/kube';
import {
  ensureImagesOnRealNode,
  fingerprintAppManifest,
  installInCluster,
  servedByPods,
  ServiceClient,
  waitRolledOut,
} from '../e2e/support/realnode';
import { freePort } from '../e2e/support/moto';
import { formatFieldErrors, GROUP, KIND, normaliseMapping, PLURAL, selectorToQuery, VERSION, type SecretsRotationMapping } from '../operator/src/mappings/model';
import { errorMessage } from '../operator/src/log';
import { METRIC_PREFIX } from '../operator/src/metrics';
import { currentVersionOf } from '../operator/src/secrets/describer';
import { DEFAULT_STACK_NAME, deletePrerequisites } from './aws/prerequisites';
import { FAKE_CREDENTIALS } from './stack/aws';
import { REPO_ROOT, readStackEnv, stackDir, stackDown, stackHealth, stackPaths, stackUp } from './stack';
import { httpGet } from './stack/kubeapi';
import { CHART_NAME } from './stack/paths';
import { AbortPoll, isRunning, pollUntil, spawnDetached, stopProcessGroup } from './stack/process';
import { getTable, headerCells, rowCells, shownColumns, watchTable, type Table } from './demo/kubeTable';
import { LogFollower, prettyLogLine, type LogLine } from './demo/operatorLog';
import { bold, columns, command, dim, green, note, output, println, red, section, seconds } from './demo/ui';

const RELEASE = CHART_NAME;
const OPERATOR_NAMESPACE = CHART_NAME;
const CRD_NAME = `${PLURAL}.${GROUP}`;
const EXAMPLE_FILES = ['examples/deployment.yaml', 'examples/secretsrotationmapping.yaml'];
const POC_EXAMPLE = 'examples/poc/secretsrotationmapping.yaml';
const FINGERPRINT_EXAMPLE = 'examples/fingerprint-app/deployment.yaml';
/** Lifetime of the operator's ServiceAccount token: long enough for a kept demo. */
const TOKEN_SECONDS = 24 * 3600;

// The emulator takes any credentials; a developer's real ones must never be used.
process.env.AWS_ACCESS_KEY_ID = FAKE_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = FAKE_CREDENTIALS.secretAccessKey;
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// ------------------------------------------------------------------ what the demo made

interface DemoState {
  startedAt: string;
  /** The demo brought the stack up, so it takes it (and its prerequisites) down. */
  stackStarted: boolean;
  releaseInstalled?: boolean;
  namespaceCreated?: boolean;
  crdCreated?: boolean;
  serviceAccountKubeconfig?: string;
  /** The local operator process, or (in-cluster) the `kubectl logs -f` that follows the pod. */
  operator?: { pid: number; startTime: string; logFile: string; httpPort: number; inCluster?: boolean };
  secretCreated?: boolean;
  examplesApplied?: boolean;
  fingerprintApplied?: boolean;
}

const stateFile = (): string => path.join(stackDir(), 'demo.json');

function loadState(): DemoState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(), 'utf8')) as DemoState;
  } catch {
    return undefined;
  }
}

function saveState(s: DemoState): void {
  fs.mkdirSync(stackDir(), { recursive: true });
  fs.writeFileSync(stateFile(), `${JSON.stringify(s, null, 2)}\n`);
}

/** A path as the user can type it from the repository root. */
function shown(p: string): string {
  const rel = path.relative(REPO_ROOT, p);
  return rel && !rel.startsWith('..') ? rel : p;
}

/** `STACK_DIR=… ` when the stack is not in the default place, so printed commands work as they are. */
function stackDirPrefix(): string {
  return stackDir() === path.join(REPO_ROOT, '.stack') ? '' : `STACK_DIR=${stackDir()} `;
}

// ------------------------------------------------------------------ interruption

class Interrupted extends Error {}
let interrupted: NodeJS.Signals | undefined;
/** The section being run, to say where a failure happened. */
let currentStep = '';

function begin(title: string): void {
  currentStep = title;
  section(title);
}

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    println(red(`\n${signal} again: stopping at once. Clean up with: ${stackDirPrefix()}npm run demo -- --cleanup`));
    process.exit(130);
  }
  interrupted = signal;
  println(red(`\n${signal}: stopping the demo, then cleaning up (${signal} again to stop at once)`));
}

function checkpoint(): void {
  if (interrupted) throw new Interrupted(`interrupted (${interrupted})`);
}

/** Waits for a condition with a deadline; an interruption ends the wait. */
function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 200): Promise<T> {
  return pollUntil(
    what,
    async () => {
      if (interrupted) throw new AbortPoll(new Interrupted(`interrupted (${interrupted})`));
      return check();
    },
    { timeoutMs, intervalMs },
  );
}

// ------------------------------------------------------------------ small helpers

function statusCode(err: unknown): number | undefined {
  const e = err as { statusCode?: number; response?: { statusCode?: number } };
  return e?.statusCode ?? e?.response?.statusCode;
}

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (err) {
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

/** kubectl's name for an object: `deployment.apps/operatortest`. */
function resourceName(o: k8s.KubernetesObject): string {
  const group = o.apiVersion?.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
  return `${o.kind!.toLowerCase()}${group}`;
}

function printTable(t: Table<unknown>): void {
  const cols = shownColumns(t);
  const rows = t.rows ?? [];
  if (rows.length === 0) return output('No resources found.');
  output(columns([headerCells(t, cols), ...rows.map((r) => rowCells(r, cols))]).lines.join('\n'));
}

/** A manifest of examples/, its namespace filled in as kubectl would. */
type Manifest = k8s.KubernetesObject & { metadata: { name: string; namespace: string } };

/** The sample manifests and what they name. */
interface Samples {
  docs: Manifest[];
  namespace: string;
  deployment: string;
  mapping: string;
  secretName: string;
  selector: string;
}

function readSamples(): Samples {
  const docs = EXAMPLE_FILES.flatMap((f) => k8s.loadAllYaml(fs.readFileSync(path.join(REPO_ROOT, f), 'utf8')) as k8s.KubernetesObject[])
    .filter((d) => d?.kind)
    .map((d): Manifest => ({ ...d, metadata: { ...d.metadata, name: d.metadata?.name ?? '', namespace: d.metadata?.namespace ?? 'default' } }));
  const deployment = docs.find((d) => d.kind === 'Deployment');
  const mapping = docs.find((d) => d.kind === KIND) as SecretsRotationMapping | undefined;
  if (!deployment || !mapping) throw new Error(`${EXAMPLE_FILES.join(' and ')} must hold a Deployment and a ${KIND}`);
  const n = normaliseMapping(mapping);
  if (!n.ok) throw new Error(`${EXAMPLE_FILES[1]}: ${formatFieldErrors(n.errors)}`);
  return {
    docs,
    namespace: n.mapping.namespace,
    deployment: deployment.metadata.name,
    mapping: n.mapping.name,
    secretName: n.mapping.secret.raw,
    selector: selectorToQuery(n.mapping.selector),
  };
}

function printOperatorLine(l: LogLine): void {
  if (l.level !== 'debug') println(`${dim('[operator]')} ${prettyLogLine(l)}`);
}

// ------------------------------------------------------------------ 1. the stack and the prerequisites

async function upStack(state: DemoState): Promise<void> {
  begin('The local stack and the prerequisites');
  if ((await stackHealth()).healthy) {
    note(`A local stack is already up in ${shown(stackDir())}: the demo uses it and leaves it up.`);
  } else {
    command('npm run stack:up');
    note(
      'Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a kwok fake node) and moto, the AWS emulator. ' +
        'The first run builds the toolchain from pinned Go modules: about 9 minutes on 2 cores, once ' +
        '(cached in ~/.cache/secrets-rotation-operator); later starts take about 15 s.',
    );
    state.stackStarted = true;
    saveState(state);
    await stackUp({ log: (line) => output(line) });
  }
  checkpoint();

  const env = readStackEnv();
  const cfn = new CloudFormationClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL, credentials: FAKE_CREDENTIALS });
  let stack;
  try {
    stack = (await cfn.send(new DescribeStacksCommand({ StackName: DEFAULT_STACK_NAME }))).Stacks?.[0];
  } finally {
    cfn.destroy();
  }
  if (!stack) throw new Error(`the emulator has no CloudFormation stack ${DEFAULT_STACK_NAME} (stack:up deploys it)`);
  const params = (stack.Parameters ?? []).filter((p) => ['IncludeCloudTrailEvents', 'RoleTrust', 'OidcIssuer'].includes(p.ParameterKey ?? ''));
  println();
  note('stack:up deployed the prerequisites (queue, dead-letter queue, EventBridge rule, queue policy, IAM role) into the emulator, as you would into your account:');
  command(
    'aws cloudformation deploy --template-file scripts/cloudformation.yaml',
    `--stack-name ${DEFAULT_STACK_NAME} --capabilities CAPABILITY_IAM`,
    `--parameter-overrides ${params.map((p) => `${p.ParameterKey}=${p.ParameterValue}`).join(' ')}`,
  );
  command(`aws cloudformation describe-stacks --stack-name ${DEFAULT_STACK_NAME} --query 'Stacks[0].Outputs'`);
  output(columns([['OutputKey', 'OutputValue'], ...(stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])]).lines.join('\n'));
  note(`The emulator serves that queue at ${env.SQS_QUEUE_URL}.`);
  if (params.some((p) => p.ParameterKey === 'IncludeCloudTrailEvents' && p.ParameterValue === 'true')) {
    note('IncludeCloudTrailEvents=true lets the tests send every event path; the default (false) routes the native "Secret Label Updated" event only, the one this demo sends.');
  }
}

// ------------------------------------------------------------------ 2. the operator

function buildIfStale(): void {
  const main = path.join(REPO_ROOT, 'dist', 'main.js');
  const built = fs.existsSync(main) ? fs.statSync(main).mtimeMs : 0;
  const sources = [
    ...(fs.readdirSync(path.join(REPO_ROOT, 'operator', 'src'), { recursive: true }) as string[]).map((f) => path.join(REPO_ROOT, 'operator', 'src', f)),
    ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((f) => path.join(REPO_ROOT, f)),
  ];
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (built >= newest) {
    note('dist/ is newer than operator/src: no build needed.');
    return;
  }
  command('npm run build');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

async function installOperator(ctx: E2eContext, state: DemoState): Promise<LogFollower> {
  begin('Install the operator with its Helm chart');
  if (ctx.env.STACK_REAL_NODE) return installInClusterOperator(ctx, state);
  buildIfStale();
  const crdExisted = await exists(() => ctx.kube.ext.readCustomResourceDefinition(CRD_NAME));
  const namespaceExisted = await exists(() => ctx.kube.core.readNamespace(OPERATOR_NAMESPACE));
  const values = [...localValues(ctx), '--set', 'replicaCount=1'];
  const pairs: string[] = [];
  for (let i = 0; i < values.length; i += 2) pairs.push(`${values[i]} ${values[i + 1]}`);
  command(`helm install ${RELEASE} ${shown(CHART_DIR)}`, `--namespace ${OPERATOR_NAMESPACE} --create-namespace`, ...pairs);
  Object.assign(state, { releaseInstalled: true, namespaceCreated: !namespaceExisted, crdCreated: !crdExisted });
  saveState(state);
  const { stdout } = await helm(ctx, ['install', RELEASE, CHART_DIR, '--namespace', OPERATOR_NAMESPACE, '--create-namespace', ...values]);
  const lines = stdout.split('\n');
  const notes = lines.findIndex((l) => l.startsWith('NOTES:'));
  const shownLines = notes >= 0 ? notes + 2 : lines.length;
  output(lines.slice(0, shownLines).join('\n'));
  if (notes >= 0) output(dim(`… (${lines.length - shownLines} more lines of notes: helm get notes ${RELEASE} -n ${OPERATOR_NAMESPACE})`));
  command(`kubectl wait --for condition=established crd/${CRD_NAME}`);
  await until(
    'the CRD to be established and served',
    async () => {
      const crd = (await ctx.kube.ext.readCustomResourceDefinition(CRD_NAME)).body;
      if (!crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
      await ctx.kube.custom.listClusterCustomObject(GROUP, VERSION, PLURAL); // refused while its storage initialises
      return true;
    },
    60_000,
  );
  output(`customresourcedefinition.apiextensions.k8s.io/${CRD_NAME} condition met`);

  const release = await readRelease(ctx, RELEASE, OPERATOR_NAMESPACE, { podName: `${RELEASE}-local`, tokenExpirationSeconds: TOKEN_SECONDS });
  state.serviceAccountKubeconfig = release.kubeconfig;
  saveState(state);
  const httpPort = await freePort();
  const logFile = path.join(stackPaths().logs, 'demo-operator.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  println();
  note(
    `kwok's fake node now "runs" the chart's pod but cannot run its image, so a local process stands in for the container: ` +
      `the Deployment's environment and a token of its ServiceAccount ${OPERATOR_NAMESPACE}/${release.serviceAccount}, hence exactly the chart's RBAC.`,
  );
  command(`node dist/main.js >> ${shown(logFile)}`);
  const follower = new LogFollower(logFile, printOperatorLine);
  const proc = spawnDetached(process.execPath, [path.join(REPO_ROOT, 'dist', 'main.js')], {
    logFile,
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...release.env,
      HTTP_PORT: String(httpPort),
      KUBECONFIG: release.kubeconfig,
      AWS_ACCESS_KEY_ID: ctx.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: ctx.env.AWS_SECRET_ACCESS_KEY,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  state.operator = { pid: proc.pid, startTime: proc.startTime, logFile, httpPort };
  saveState(state);
  follower.start();
  await until(
    'the operator to lead (consuming SQS) and be ready (/readyz)',
    async () => {
      if (!isRunning(proc.pid, proc.startTime)) throw new AbortPoll(new Error(`the operator exited:\n${follower.tail(10)}`));
      return follower.lines.some((l) => l.message === 'consuming SQS') && (await httpGet(`http://127.0.0.1:${httpPort}/readyz`)).status === 200;
    },
    60_000,
  );
  return follower;
}

/** The operator as users run it: its image, the chart's Deployment, on the real node. */
async function installInClusterOperator(ctx: E2eContext, state: DemoState): Promise<LogFollower> {
  command('npm run image    # the operator and sample app images, from the Dockerfiles, with buildah');
  ensureImagesOnRealNode();
  command(`ctr -n k8s.io images import .image/secrets-rotation-operator-0.1.0.oci.tar    # on the node; a cluster pulls from your registry`);
  const crdExisted = await exists(() => ctx.kube.ext.readCustomResourceDefinition(CRD_NAME));
  const namespaceExisted = await exists(() => ctx.kube.core.readNamespace(OPERATOR_NAMESPACE));
  command(
    `helm install ${RELEASE} ${shown(CHART_DIR)}`,
    `--namespace ${OPERATOR_NAMESPACE} --create-namespace --set replicaCount=1 --wait`,
    `--set-string sqs.queueUrl=${ctx.env.SQS_QUEUE_URL} --set-string aws.region=${ctx.env.AWS_REGION}`,
    `--set-string aws.endpointUrl=${ctx.env.STACK_POD_AWS_ENDPOINT_URL}    # moto, as pods reach it`,
    '--set image.pullPolicy=Never  # + a toleration of the real node\'s taint, and fake AWS keys for the emulator (IRSA in EKS)',
  );
  Object.assign(state, { releaseInstalled: true, namespaceCreated: !namespaceExisted, crdCreated: !crdExisted });
  saveState(state);
  const r = await installInCluster(ctx, RELEASE, OPERATOR_NAMESPACE, ['--set', 'replicaCount=1']);
  const pods = (await getTable<k8s.V1Pod>(ctx.kube.kc, `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, { labelSelector: r.selector })).rows ?? [];
  command(`kubectl get pods -n ${OPERATOR_NAMESPACE} -o wide`);
  printTable(await getTable(ctx.kube.kc, `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, { labelSelector: r.selector }));
  const pod = pods[0]?.object.metadata?.name;
  if (!pod) throw new Error('the chart made no operator pod');
  note(`The chart's pod runs on the real node ${ctx.env.STACK_REAL_NODE}: its image, read-only root, UID 65532, in-cluster config with its ServiceAccount's projected token.`);
  const logFile = path.join(stackPaths().logs, 'demo-operator.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  command(`kubectl logs -f -n ${OPERATOR_NAMESPACE} ${pod}`);
  const follower = new LogFollower(logFile, printOperatorLine);
  const proc = spawnDetached('kubectl', ['logs', '-f', '-n', OPERATOR_NAMESPACE, pod, '-c', 'operator'], { logFile, cwd: REPO_ROOT, env: { ...process.env, KUBECONFIG: ctx.env.KUBECONFIG } });
  state.operator = { pid: proc.pid, startTime: proc.startTime, logFile, httpPort: 0, inCluster: true };
  saveState(state);
  follower.start();
  await until('the operator to lead (consuming SQS)', () => follower.lines.some((l) => l.message === 'consuming SQS'), 60_000);
  return follower;
}

// ------------------------------------------------------------------ 3. the samples

async function createSamples(ctx: E2eContext, state: DemoState, s: Samples): Promise<void> {
  begin('The sample secret, mapping and Deployment');
  command(`aws secretsmanager create-secret --name ${s.secretName} --secret-string '<initial value>'`);
  state.secretCreated = true;
  saveState(state);
  let secret: Secret;
  try {
    secret = await ctx.aws.createSecret(s.secretName);
  } catch (err) {
    if ((err as Error).name !== 'ResourceExistsException') throw err;
    state.secretCreated = false;
    saveState(state);
    note('It exists already (made before the demo): the demo uses it and leaves it.');
    const d = await ctx.aws.sm.send(new DescribeSecretCommand({ SecretId: s.secretName }));
    secret = { name: d.Name!, arn: d.ARN!, version: currentVersionOf(d.VersionIdsToStages) ?? '' };
  }
  output(JSON.stringify({ ARN: secret.arn, Name: secret.name, VersionId: secret.version }, null, 4));

  command(`kubectl apply ${EXAMPLE_FILES.map((f) => `-f ${f}`).join(' ')}`);
  state.examplesApplied = true;
  saveState(state);
  for (const doc of s.docs) {
    const existed = await exists(() => ctx.kube.objects.read(doc));
    await ctx.kube.objects.patch(doc, undefined, undefined, 'secrets-rotation-demo', true, { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } });
    output(`${resourceName(doc)}/${doc.metadata.name} ${existed ? 'configured' : 'created'}`);
  }
  note(
    `The mapping: when secret ${s.secretName} gets a new current version, restart the workloads labelled ${s.selector} in ${s.namespace}. ` +
      `(${POC_EXAMPLE} is the same mapping in the proof of concept's form, SecretID and Labels, which the CRD still accepts.)`,
  );

  command(`kubectl rollout status deployment/${s.deployment}`);
  await until(
    `deployment ${s.deployment} to roll out`,
    async () => {
      const d = (await ctx.kube.apps.readNamespacedDeployment(s.deployment, s.namespace)).body;
      const want = d.spec?.replicas ?? 1;
      const st = d.status;
      return (st?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && st?.updatedReplicas === want && st?.availableReplicas === want && st?.replicas === want;
    },
    90_000,
  );
  output(`deployment "${s.deployment}" successfully rolled out`);
  command(`kubectl get pods --selector ${s.selector}`);
  printTable(await getTable(ctx.kube.kc, `/api/v1/namespaces/${s.namespace}/pods`, { labelSelector: s.selector }));

  await until(
    `mapping ${s.mapping} to be Ready`,
    async () => (await ctx.kube.mapping(s.namespace, s.mapping)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    60_000,
  );
  command('kubectl get srm');
  printTable(await getTable(ctx.kube.kc, `/apis/${GROUP}/${VERSION}/namespaces/${s.namespace}/${PLURAL}`));
  note("Ready: the operator indexed the mapping and recorded the secret's current version (restarting nothing). Workloads: what its selector matches.");
}

// ------------------------------------------------------------------ 4. the change

interface Rotation {
  changedAt: number;
  restartedAt?: number;
  runningAt: number;
  oldGoneAt: number;
  newPod: string;
  oldPods: string[];
}

async function rotateAndWatch(ctx: E2eContext, s: Samples, follower: LogFollower): Promise<Rotation> {
  begin('Change the secret and watch');
  note('As in two terminals, interleaved: [operator] is its log (kubectl logs -f; time, message and a few fields of each JSON line), [pods -w] is:');
  command(`kubectl get pods --selector ${s.selector} --watch`);
  const podsPath = `/api/v1/namespaces/${s.namespace}/pods`;
  const initial = await getTable<k8s.V1Pod>(ctx.kube.kc, podsPath, { labelSelector: s.selector });
  const cols = shownColumns(initial);
  const header = headerCells(initial, cols);
  const rows = [header, ...(initial.rows ?? []).map((r) => rowCells(r, cols))];
  const { widths } = columns(rows);
  // Room for the longest status a rollout shows, so later rows stay aligned.
  const status = header.indexOf('STATUS');
  if (status >= 0) widths[status] = Math.max(widths[status], 'Terminating'.length);
  const tag = dim('[pods -w]');
  for (const line of columns(rows, widths).lines) println(`${tag}   ${line}`);

  const oldPods = (initial.rows ?? []).map((r) => r.object.metadata!.name!);
  const seen = new Map<string, { runningAt?: number; deletedAt?: number }>();
  let watchError: Error | undefined;
  const watch = await watchTable<k8s.V1Pod>(
    ctx.kube.kc,
    podsPath,
    { labelSelector: s.selector, resourceVersion: initial.metadata?.resourceVersion ?? '' },
    (type, row) => {
      println(`${tag}   ${columns([rowCells(row, cols)], widths).lines[0]}`);
      const name = row.object.metadata!.name!;
      const at = seen.get(name) ?? {};
      seen.set(name, at);
      if (type === 'DELETED') at.deletedAt ??= Date.now();
      else if (podIsRunning(row.object)) at.runningAt ??= Date.now();
    },
    (err) => (watchError = err),
  );

  try {
    const changedAt = Date.now();
    command(`aws secretsmanager put-secret-value --secret-id ${s.secretName} --secret-string '<new value>'`);
    const rotated = await ctx.aws.putSecretValue(s.secretName);
    output(JSON.stringify({ ARN: rotated.arn, Name: rotated.name, VersionId: rotated.version }, null, 4));
    note('AWS would now send EventBridge its native "Secret Label Updated" event (AWSCURRENT moved); the emulator sends none by itself, so the demo puts that event, through the same rule into the same queue:');
    const event = labelUpdatedEvent(rotated);
    const entry = JSON.stringify([putEventsEntry(event)], null, 2).split('\n');
    command(`aws events put-events --entries '${entry[0]}`);
    output(`${entry.slice(1).join('\n')}'`);
    await ctx.aws.put(event);

    const mine = (l: LogLine) => l.version === rotated.version;
    const [newPod, runningAt] = await until(
      'the operator to report the rotation, the old pod to go and a new one to run',
      () => {
        if (watchError) throw new AbortPoll(watchError);
        const failed = follower.lines.find((l) => mine(l) && (l.level === 'error' || (l.message === 'rotation handled' && l.result !== 'Rotated')));
        if (failed) throw new AbortPoll(new Error(`the operator reported: ${prettyLogLine(failed)}`));
        if (!follower.lines.some((l) => mine(l) && l.message === 'rotation handled')) return undefined;
        if (!oldPods.every((p) => seen.get(p)?.deletedAt)) return undefined;
        const running = [...seen].filter(([name, at]) => !oldPods.includes(name) && at.runningAt && !at.deletedAt);
        return running.length === 1 ? ([running[0][0], running[0][1].runningAt!] as const) : undefined;
      },
      120_000,
      100,
    );
    const restarted = follower.lines.find((l) => mine(l) && l.message === 'workload restarted');
    return {
      changedAt,
      restartedAt: restarted ? Date.parse(restarted.timestamp) : undefined,
      runningAt,
      oldGoneAt: Math.max(...oldPods.map((p) => seen.get(p)!.deletedAt!)),
      newPod,
      oldPods,
    };
  } finally {
    watch.stop();
  }
}

// ------------------------------------------------------------------ 5. the result

async function showResult(ctx: E2eContext, s: Samples, r: Rotation): Promise<void> {
  begin('What the mapping recorded');
  command('kubectl get srm');
  printTable(await getTable(ctx.kube.kc, `/apis/${GROUP}/${VERSION}/namespaces/${s.namespace}/${PLURAL}`));
  command(`kubectl get srm ${s.mapping} -o yaml    # its status`);
  const m = await ctx.kube.mapping(s.namespace, s.mapping);
  output(k8s.dumpYaml({ status: m.status }, { lineWidth: -1 }));
  command(`kubectl get events --field-selector involvedObject.name=${s.mapping}`);
  printTable(await getTable(ctx.kube.kc, `/api/v1/namespaces/${s.namespace}/events`, { fieldSelector: `involvedObject.name=${s.mapping}` }));
  command(`kubectl get deployment ${s.deployment} -o jsonpath='{.spec.template.metadata.annotations}'`);
  const d = (await ctx.kube.apps.readNamespacedDeployment(s.deployment, s.namespace)).body;
  output(JSON.stringify(d.spec?.template.metadata?.annotations ?? {}));
  note('A rolling restart through the pod template, like kubectl rollout restart; the versions annotation makes a redelivered event a no-op.');
  println();
  const at = (t: number) => `+${seconds(t - r.changedAt)}`;
  println(bold(`From put-secret-value to the new pod running: ${seconds(r.runningAt - r.changedAt)}`));
  note(
    `${r.restartedAt ? `Deployment patched ${at(r.restartedAt)}, ` : ''}new pod ${r.newPod} running ${at(r.runningAt)}, ` +
      `old pod ${r.oldPods.join(', ')} gone ${at(r.oldGoneAt)}.`,
  );
}

// ------------------------------------------------------------------ 5b. the sample app on the real node

const fingerprintOf = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 16);

/**
 * The point of it all, with real containers: the sample app reads the secret at start
 * and serves its fingerprint; after put-secret-value and the event, every pod serves
 * the new fingerprint and a client sending requests through the roll saw no failure.
 */
async function fingerprintApp(ctx: E2eContext, state: DemoState, s: Samples, follower: LogFollower): Promise<number> {
  begin('The sample app on the real node: pods really get the new value');
  note(`${FINGERPRINT_EXAMPLE}: two replicas (readiness probe, maxUnavailable 0) that read ${s.secretName} from Secrets Manager when they start and serve a fingerprint of it (a hash, never the value), a Service, and their mapping.`);
  command(`kubectl apply -f ${FINGERPRINT_EXAMPLE}    # image, moto's address and a toleration of the node's taint filled in`);
  const docs = (k8s.loadAllYaml(fs.readFileSync(path.join(REPO_ROOT, FINGERPRINT_EXAMPLE), 'utf8')) as k8s.KubernetesObject[]).filter((d) => d?.kind);
  const dep = fingerprintAppManifest(ctx.env, s.namespace, s.secretName);
  state.fingerprintApplied = true;
  saveState(state);
  for (const doc of docs.map((d) => (d.kind === 'Deployment' ? dep : { ...d, metadata: { ...d.metadata, namespace: s.namespace } }))) {
    await ctx.kube.objects.patch(doc, undefined, undefined, 'secrets-rotation-demo', true, { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } });
    output(`${resourceName(doc)}/${doc.metadata!.name} created`);
  }
  const name = dep.metadata!.name!;
  const selector = `app=${dep.spec!.selector.matchLabels!.app}`;
  command(`kubectl rollout status deployment/${name}`);
  await waitRolledOut(ctx, s.namespace, name, 2);
  output(`deployment "${name}" successfully rolled out`);
  await until(`mapping ${name} to be Ready`, async () => (await ctx.kube.mapping(s.namespace, name)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 60_000);
  const showServed = async (): Promise<string[]> => {
    const served = await servedByPods(ctx, s.namespace, name);
    for (const x of served) {
      command(`curl -s http://<${x.pod} IP>:8080/`);
      output(JSON.stringify(x.served));
    }
    return served.map((x) => x.served.fingerprint);
  };
  const before = await showServed();

  note('Now a client sends requests to the Service\'s ready endpoints (as kube-proxy routes them) through the whole change; [pods -w] is:');
  command(`kubectl get pods --selector ${selector} --watch`);
  const podsPath = `/api/v1/namespaces/${s.namespace}/pods`;
  const initial = await getTable<k8s.V1Pod>(ctx.kube.kc, podsPath, { labelSelector: selector });
  const cols = shownColumns(initial);
  const { widths } = columns([headerCells(initial, cols), ...(initial.rows ?? []).map((r) => rowCells(r, cols))]);
  const status = headerCells(initial, cols).indexOf('STATUS');
  if (status >= 0) widths[status] = Math.max(widths[status], 'Terminating'.length);
  for (const line of columns([headerCells(initial, cols), ...(initial.rows ?? []).map((r) => rowCells(r, cols))], widths).lines) println(`${dim('[pods -w]')}   ${line}`);
  let watchError: Error | undefined;
  const watch = await watchTable<k8s.V1Pod>(ctx.kube.kc, podsPath, { labelSelector: selector, resourceVersion: initial.metadata?.resourceVersion ?? '' }, (_t, row) => println(`${dim('[pods -w]')}   ${columns([rowCells(row, cols)], widths).lines[0]}`), (err) => (watchError = err));
  const client = new ServiceClient(ctx, s.namespace, name, 240_000).start();
  try {
    await until('the client to get answers', () => client.requests > 10, 30_000);
    const value = `rotated-${randomUUID()}`;
    const changedAt = Date.now();
    command(`aws secretsmanager put-secret-value --secret-id ${s.secretName} --secret-string '<new value B>'`);
    const rotated = await ctx.aws.putSecretValue(s.secretName, value);
    command(`aws events put-events --entries '[{"Source":"aws.secretsmanager","DetailType":"Secret Label Updated",...}]'`);
    await ctx.aws.put(labelUpdatedEvent(rotated));
    const want = fingerprintOf(value);
    await until(
      'every pod of the sample app to serve the new fingerprint',
      async () => {
        if (watchError) throw new AbortPoll(watchError);
        const served = await servedByPods(ctx, s.namespace, name);
        return served.length === 2 && served.every((x) => x.served.fingerprint === want);
      },
      180_000,
      250,
    );
    const tookMs = Date.now() - changedAt;
    await waitRolledOut(ctx, s.namespace, name, 2);
    const n = client.requests;
    await until('a few more answers after the roll', () => client.requests > n + 10, 30_000);
    await client.stop();
    watch.stop();
    follower.poll();
    const after = await showServed();
    const stale = after.filter((f) => before.includes(f));
    println();
    println(bold(`From put-secret-value to every pod serving the new value: ${seconds(tookMs)}`));
    note(`${client.requests} requests during the roll, ${client.failures.length} failed; answers: ${[...client.seen].map(([f, c]) => `${f === want ? 'new' : 'old'} fingerprint ${c}`).join(', ')}.`);
    if (client.failures.length || stale.length) throw new Error(`the roll was not clean: ${client.failures.length} failed request(s) (${client.failures.slice(0, 3).join('; ')}), ${stale.length} pod(s) still on the old value`);
    return tookMs;
  } finally {
    await client.stop();
    watch.stop();
  }
}

// ------------------------------------------------------------------ 6. clean up

async function cleanup(state: DemoState, follower?: LogFollower): Promise<boolean> {
  begin("Clean up (the proof of concept's make delete)");
  const failures: string[] = [];
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      failures.push(`${what}: ${errorMessage(err)}`);
      output(red(`failed: ${errorMessage(err)}`));
    }
    saveState(state);
  };
  const ctx = (await stackHealth()).healthy ? e2eContext() : undefined;
  if (!ctx) note(`The local stack in ${shown(stackDir())} is not up: only local processes and files are left to clean up.`);
  const samples = readSamples();

  if (ctx && state.examplesApplied) {
    await step('kubectl delete', async () => {
      command(`kubectl delete ${EXAMPLE_FILES.map((f) => `-f ${f}`).join(' ')}`);
      for (const doc of samples.docs) {
        if (!(await exists(() => ctx.kube.objects.delete(doc)))) continue;
        await pollUntil(`${resourceName(doc)}/${doc.metadata.name} to be deleted`, async () => !(await exists(() => ctx.kube.objects.read(doc))), { timeoutMs: 60_000 });
        output(`${resourceName(doc)} "${doc.metadata.name}" deleted`);
      }
      state.examplesApplied = false;
    });
  }
  if (ctx && state.fingerprintApplied) {
    await step('kubectl delete (sample app)', async () => {
      command(`kubectl delete -f ${FINGERPRINT_EXAMPLE}`);
      const docs = (k8s.loadAllYaml(fs.readFileSync(path.join(REPO_ROOT, FINGERPRINT_EXAMPLE), 'utf8')) as k8s.KubernetesObject[]).filter((d) => d?.kind);
      for (const d of docs) {
        const doc = { ...d, metadata: { ...d.metadata, name: d.metadata?.name ?? '', namespace: samples.namespace } };
        if (!(await exists(() => ctx.kube.objects.delete(doc)))) continue;
        await pollUntil(`${resourceName(doc)}/${doc.metadata.name} to be deleted`, async () => !(await exists(() => ctx.kube.objects.read(doc))), { timeoutMs: 60_000 });
        output(`${resourceName(doc)} "${doc.metadata.name}" deleted`);
      }
      state.fingerprintApplied = false;
    });
  }
  if (state.operator?.inCluster) {
    const op = state.operator;
    if (isRunning(op.pid, op.startTime)) await stopProcessGroup(op.pid, op.startTime, { name: 'kubectl logs -f', graceMs: 2_000 });
    follower?.poll();
    note(`The operator pod goes with the release (helm uninstall below); its log stays in ${shown(op.logFile)}.`);
    state.operator = undefined;
  }
  if (state.operator) {
    const op = state.operator;
    await step('stopping the operator', async () => {
      if (!isRunning(op.pid, op.startTime)) {
        note(`The operator process (pid ${op.pid}) has exited; its log stays in ${shown(op.logFile)}.`);
        state.operator = undefined;
        return;
      }
      command(`kill ${op.pid}    # the operator process: SIGTERM, it finishes in-flight work and gives up its Lease`);
      const t = Date.now();
      await stopProcessGroup(op.pid, op.startTime, { name: 'the operator', graceMs: 30_000 });
      follower?.poll();
      note(`The operator stopped in ${seconds(Date.now() - t)}; its log stays in ${shown(op.logFile)}.`);
      state.operator = undefined;
    });
  }
  follower?.stop();
  if (ctx && state.releaseInstalled) {
    await step('helm uninstall', async () => {
      command(`helm uninstall ${RELEASE} --namespace ${OPERATOR_NAMESPACE} --wait`);
      try {
        output((await helm(ctx, ['uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait'])).stdout);
      } catch (err) {
        if (!/not found/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
        output('(no such release)');
      }
      state.releaseInstalled = false;
    });
  }
  if (ctx && state.namespaceCreated) {
    await step('deleting the namespace', async () => {
      command(`kubectl delete namespace ${OPERATOR_NAMESPACE}`);
      if (await exists(() => ctx.kube.core.deleteNamespace(OPERATOR_NAMESPACE))) {
        // Wait only when the stack stays up: a rerun must not meet a Terminating namespace.
        if (!state.stackStarted) await pollUntil('the namespace to be gone', async () => !(await exists(() => ctx.kube.core.readNamespace(OPERATOR_NAMESPACE))), { timeoutMs: 120_000 });
        output(`namespace "${OPERATOR_NAMESPACE}" deleted`);
      }
      state.namespaceCreated = false;
    });
  }
  if (ctx && state.crdCreated) {
    await step('deleting the CRD', async () => {
      command(`kubectl delete crd ${CRD_NAME}    # helm never deletes a chart's crds/`);
      if (await exists(() => ctx.kube.ext.deleteCustomResourceDefinition(CRD_NAME))) {
        // As for the namespace: a CRD being deleted cannot be created again.
        if (!state.stackStarted) await pollUntil('the CRD to be gone', async () => !(await exists(() => ctx.kube.ext.readCustomResourceDefinition(CRD_NAME))), { timeoutMs: 120_000 });
        output(`customresourcedefinition.apiextensions.k8s.io "${CRD_NAME}" deleted`);
      }
      state.crdCreated = false;
    });
  }
  if (ctx && state.secretCreated) {
    await step('deleting the secret', async () => {
      command(`aws secretsmanager delete-secret --secret-id ${samples.secretName} --force-delete-without-recovery`);
      try {
        const out = await ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: samples.secretName, ForceDeleteWithoutRecovery: true }));
        output(JSON.stringify({ ARN: out.ARN, Name: out.Name, DeletionDate: out.DeletionDate }, null, 4));
      } catch (err) {
        if ((err as Error).name !== 'ResourceNotFoundException') throw err;
      }
      state.secretCreated = false;
    });
  }
  if (state.serviceAccountKubeconfig) {
    fs.rmSync(state.serviceAccountKubeconfig, { force: true });
    state.serviceAccountKubeconfig = undefined;
  }
  if (state.stackStarted) {
    if (ctx) {
      await step('deleting the prerequisites', async () => {
        command(`aws cloudformation delete-stack --stack-name ${DEFAULT_STACK_NAME}`);
        command(`aws cloudformation wait stack-delete-complete --stack-name ${DEFAULT_STACK_NAME}`);
        await deletePrerequisites({ endpoint: ctx.env.AWS_ENDPOINT_URL, region: ctx.env.AWS_REGION, stackName: DEFAULT_STACK_NAME });
      });
    }
    await step('npm run stack:down', async () => {
      command('npm run stack:down');
      await stackDown({ log: (line) => output(line) });
      state.stackStarted = false;
    });
  } else {
    note(`The local stack in ${shown(stackDir())} was up before the demo: it stays up, with its prerequisites.`);
  }
  if (failures.length === 0) {
    fs.rmSync(stateFile(), { force: true });
    return true;
  }
  println(red(`Clean-up left something behind (${failures.join('; ')}); try again with: ${stackDirPrefix()}npm run demo -- --cleanup`));
  return false;
}

// ------------------------------------------------------------------ commands

function printKept(state: DemoState): void {
  begin('Kept running');
  const operator = state.operator?.inCluster ? 'the operator pod' : `the operator (pid ${state.operator?.pid})`;
  note(`Everything stays up: ${state.stackStarted ? 'the stack, ' : ''}the release, ${operator}, the secret, the mapping and the Deployment. Explore:`);
  command(`. ${shown(stackPaths().envFile)}    # KUBECONFIG and the emulator's AWS_* for kubectl and aws; helm is $HELM_BIN`);
  command('kubectl get srm -A');
  command(`kubectl get pods --selector ${readSamples().selector} --watch`);
  command(`tail -f ${shown(state.operator!.logFile)}    # the operator's JSON log`);
  if (state.operator?.inCluster) {
    command(`kubectl -n ${OPERATOR_NAMESPACE} get pods -o wide    # the operator's pod on the real node`);
    command(`kubectl get pods -l app=fingerprint-app -o wide    # the sample app; curl http://<pod IP>:8080/ for its fingerprint`);
  } else {
    command(`curl -s http://127.0.0.1:${state.operator!.httpPort}/metrics | grep ^${METRIC_PREFIX}`);
  }
  command(`${stackDirPrefix()}npm run demo -- --rotate    # change the secret again and watch the roll`);
  note('Clean up later (the operator process is the demo\'s: use this rather than stack:down alone):');
  command(`${stackDirPrefix()}npm run demo -- --cleanup`);
}

function failed(err: unknown, follower?: LogFollower): void {
  println();
  println(red(`✗ ${err instanceof Interrupted ? err.message : `failed (${currentStep}): ${errorMessage(err)}`}`));
  const tail = follower?.tail(15);
  if (tail && !(err instanceof Interrupted)) {
    note("the operator's last log lines:");
    output(tail);
  }
}

async function runDemo(keep: boolean): Promise<number> {
  const began = Date.now();
  const previous = loadState();
  if (previous) {
    println(red(`A demo started at ${previous.startedAt} is still up in ${shown(stackDir())} (kept or interrupted).`));
    println(red(`Clean it up first: ${stackDirPrefix()}npm run demo -- --cleanup`));
    return 1;
  }
  println(bold('secrets-rotation-operator: the proof of concept\'s walkthrough, on a local stack'));
  note('A real Kubernetes control plane with a fake (kwok) node, and moto in place of AWS. The $ lines are what you would type against a real cluster and account (examples/README.md).');
  const state: DemoState = { startedAt: new Date().toISOString(), stackStarted: false };
  saveState(state);
  let follower: LogFollower | undefined;
  let ok = true;
  try {
    await upStack(state);
    const ctx = e2eContext();
    const samples = readSamples();
    follower = await installOperator(ctx, state);
    checkpoint();
    await createSamples(ctx, state, samples);
    checkpoint();
    const rotation = await rotateAndWatch(ctx, samples, follower);
    checkpoint();
    await showResult(ctx, samples, rotation);
    checkpoint();
    if (ctx.env.STACK_REAL_NODE) await fingerprintApp(ctx, state, samples, follower);
    else note(`No real node in this stack (${ctx.env.STACK_REAL_NODE_SKIP_REASON}): the sample app's part is left out.`);
  } catch (err) {
    ok = false;
    failed(err, follower);
  }
  if (ok && keep && !interrupted) {
    follower?.stop();
    printKept(state);
    println();
    println(green(`Demo done in ${seconds(Date.now() - began)}; kept running.`));
    return 0;
  }
  const cleaned = await cleanup(state, follower);
  println();
  if (ok && cleaned) println(green(`Demo done in ${seconds(Date.now() - began)}; everything cleaned up.`));
  return ok && cleaned ? 0 : 1;
}

async function runRotate(): Promise<number> {
  const state = loadState();
  if (!state?.operator || !isRunning(state.operator.pid, state.operator.startTime) || !(await stackHealth()).healthy) {
    println(red(`No demo is running in ${shown(stackDir())}: start one with ${stackDirPrefix()}npm run demo -- --keep`));
    return 1;
  }
  const ctx = e2eContext();
  const samples = readSamples();
  const follower = new LogFollower(state.operator.logFile, printOperatorLine).start();
  try {
    await showResult(ctx, samples, await rotateAndWatch(ctx, samples, follower));
    return 0;
  } catch (err) {
    failed(err, follower);
    return 1;
  } finally {
    follower.stop();
  }
}

async function runCleanup(): Promise<number> {
  const state = loadState();
  if (!state) {
    println(`No demo to clean up in ${shown(stackDir())}.`);
    return 0;
  }
  return (await cleanup(state)) ? 0 : 1;
}

const USAGE = `Usage: npm run demo [-- --keep | --rotate | --cleanup]
  (no flag)   the walkthrough on the local stack, then clean up everything
  --keep      leave everything running to explore
  --rotate    after --keep: change the secret again and watch the roll
  --cleanup   after --keep or an interrupted run: remove what the demo made
The stack lives in $STACK_DIR (default .stack/).`;

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv);
  const known = ['--keep', '--rotate', '--cleanup', '--help', '-h'];
  const unknown = argv.filter((a) => !known.includes(a));
  if (unknown.length > 0 || flags.size > 1) {
    println(unknown.length ? `unknown argument: ${unknown.join(' ')}` : 'one flag at a time');
    println(USAGE);
    return 2;
  }
  if (flags.has('--help') || flags.has('-h')) {
    println(USAGE);
    return 0;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (flags.has('--cleanup')) return runCleanup();
  if (flags.has('--rotate')) return runRotate();
  return runDemo(flags.has('--keep'));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    println(red(`demo: ${errorMessage(err)}`));
    process.exit(1);
  },
);
