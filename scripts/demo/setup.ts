/** Steps 1–3 of the demo: the stack and the prerequisites, the operator (helm install), the samples. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Secret } from '../kit/aws';
import { chartSource, helm, localValues, readRelease } from '../kit/chart';
import type { E2eContext } from '../kit/context';
import { installInCluster, publishWithImages } from '../kit/realnode';
import { launchOperatorDetached, operatorReady } from '../kit/operator';
import { GROUP, PLURAL, VERSION } from '../../operator/src/mappings/model';
import { NODE_FLAGS } from '../../operator/src/nodeFlags';
import { currentVersionOf } from '../../operator/src/secrets/describer';
import { DEFAULT_STACK_NAME } from '../aws/prerequisites';
import { FAKE_CREDENTIALS } from '../stack/aws';
import { REPO_ROOT, readStackEnv, stackDir, stackHealth, stackPaths, stackUp } from '../stack';
import { CHART_DIR, CHART_NAME } from '../stack/paths';
import { publish, type Published } from '../stack/publish';
import { CHART_REPOSITORY } from '../stack/registry';
import { releaseVersion } from '../version';
import { isRunning, spawnDetached } from '../stack/process';
import { getTable } from './kubeTable';
import { LogFollower } from './operatorLog';
import { columns, command, dim, note, output, println } from './ui';
import { RELEASE, OPERATOR_NAMESPACE, CRD_NAME, EXAMPLE_FILES, POC_EXAMPLE, TOKEN_SECONDS, saveState, shown, type DemoState } from './state';
import { begin, checkpoint, until } from './interrupt';
import { exists, resourceName, printTable, printOperatorLine, type Samples } from './samples';

// ------------------------------------------------------------------ 1. the stack and the prerequisites

export async function upStack(state: DemoState): Promise<void> {
  begin('The local stack and the prerequisites');
  if ((await stackHealth()).healthy) {
    note(`A local stack is already up in ${shown(stackDir())}: the demo uses it and leaves it up.`);
  } else {
    command('npm run stack:up');
    note(
      'Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a kwok fake node) and moto, the AWS emulator. ' +
        "The first run builds the stack's tools (control plane, kwok, helm, the registry, the real node's kubelet) from pinned Go modules, once " +
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

/** `extra`: chart values beyond the walkthrough's (the ESO demo turns discovery on). */
export async function installOperator(ctx: E2eContext, state: DemoState, extra: readonly string[] = []): Promise<LogFollower> {
  begin('Install the operator with its Helm chart');
  if (ctx.env.STACK_REAL_NODE) return installInClusterOperator(ctx, state, extra);
  buildIfStale();
  const published = await publishChart(ctx);
  const crdExisted = await exists(() => ctx.kube.ext.readCustomResourceDefinition(CRD_NAME));
  const namespaceExisted = await exists(() => ctx.kube.core.readNamespace(OPERATOR_NAMESPACE));
  const values = [...localValues(ctx), '--set', 'replicaCount=1', ...extra];
  const pairs: string[] = [];
  for (let i = 0; i < values.length; i += 2) pairs.push(`${values[i]} ${values[i + 1]}`);
  command(`helm install ${RELEASE} ${published.chart.ref} --version ${published.version} --ca-file $STACK_REGISTRY_CA_FILE`, `--namespace ${OPERATOR_NAMESPACE} --create-namespace`, ...pairs);
  Object.assign(state, { releaseInstalled: true, namespaceCreated: !namespaceExisted, crdCreated: !crdExisted });
  saveState(state);
  const { stdout } = await helm(ctx, ['install', RELEASE, ...chartSource(ctx), '--namespace', OPERATOR_NAMESPACE, '--create-namespace', ...values]);
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
  const logFile = path.join(stackPaths().logs, 'demo-operator.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  println();
  note(
    `kwok's fake node now "runs" the chart's pod but cannot run its image, so a local process stands in for the container: ` +
      `the Deployment's environment and a token of its ServiceAccount ${OPERATOR_NAMESPACE}/${release.serviceAccount}, hence exactly the chart's RBAC.`,
  );
  command(`node ${NODE_FLAGS.join(' ')} dist/main.js >> ${shown(logFile)}`);
  const follower = new LogFollower(logFile, printOperatorLine);
  const proc = await launchOperatorDetached({
    logFile,
    env: {
      ...release.env,
      KUBECONFIG: release.kubeconfig,
      AWS_ACCESS_KEY_ID: ctx.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: ctx.env.AWS_SECRET_ACCESS_KEY,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  state.operator = { pid: proc.pid, startTime: proc.startTime, logFile, httpPort: proc.httpPort };
  saveState(state);
  follower.start();
  const ready = operatorReady(proc.httpPort, () => (isRunning(proc.pid, proc.startTime) ? undefined : `the operator exited:\n${follower.tail(10)}`));
  await until('the operator to lead (consuming SQS) and be ready (/readyz)', async () => follower.lines.some((l) => l.message === 'consuming SQS') && (await ready()), 60_000);
  return follower;
}

/** `helm package` + `helm push` of the chart to the stack's registry, shown as the commands a release runs. */
async function publishChart(ctx: E2eContext, images?: Published): Promise<Published> {
  const version = images?.version ?? releaseVersion();
  command(`helm package ${shown(CHART_DIR)}`);
  output(`Successfully packaged chart and saved it to: ${CHART_NAME}-${version}.tgz`);
  command(`helm push ${CHART_NAME}-${version}.tgz oci://${ctx.env.STACK_REGISTRY}/${CHART_REPOSITORY} --ca-file $STACK_REGISTRY_CA_FILE`);
  const published = images ?? (await publish({ log: () => undefined }));
  output(`Pushed: ${published.chart.ref.replace(/^oci:\/\//, '')}:${version}\nDigest: ${published.chart.digest}`);
  note(`The stack's registry (the CNCF distribution registry, on ${ctx.env.STACK_REGISTRY}) serves TLS with a certificate of the stack's CA: helm, skopeo and containerd verify it with that CA (. .stack/env sets STACK_REGISTRY_CA_FILE and STACK_REGISTRY_CERT_DIR).`);
  return published;
}

/** The operator as users run it: its image, the chart's Deployment, on the real node. */
async function installInClusterOperator(ctx: E2eContext, state: DemoState, extra: readonly string[]): Promise<LogFollower> {
  command('npm run image    # the operator and sample app images, from the Dockerfiles, with buildah');
  const published = await publishWithImages(() => undefined);
  for (const img of [published.operator!, published.app!]) {
    const name = img.repository.slice(ctx.env.STACK_REGISTRY.length + 1);
    command(`skopeo copy --dest-cert-dir $STACK_REGISTRY_CERT_DIR oci-archive:.image/${name}-${img.tag}.oci.tar docker://${img.repository}:${img.tag}`);
    output(`pushed in ${img.seconds.toFixed(1)}s: ${img.repository}@${img.digest}`);
  }
  await publishChart(ctx, published);
  const crdExisted = await exists(() => ctx.kube.ext.readCustomResourceDefinition(CRD_NAME));
  const namespaceExisted = await exists(() => ctx.kube.core.readNamespace(OPERATOR_NAMESPACE));
  command(
    `helm install ${RELEASE} ${published.chart.ref} --version ${published.version} --ca-file $STACK_REGISTRY_CA_FILE`,
    `--namespace ${OPERATOR_NAMESPACE} --create-namespace --set replicaCount=1 --wait`,
    `--set image.repository=${published.operator!.repository} --set image.digest=${published.operator!.digest}    # the node pulls it from the registry`,
    `--set-string sqs.queueUrl=${ctx.env.SQS_QUEUE_URL} --set-string aws.region=${ctx.env.AWS_REGION}`,
    `--set-string aws.endpointUrl=${ctx.env.STACK_POD_AWS_ENDPOINT_URL}    # moto, as pods reach it`,
    ...(extra.length > 0 ? [extra.join(' ')] : []),
    '# + a toleration of the real node\'s taint, and fake AWS keys for the emulator (IRSA in EKS)',
  );
  Object.assign(state, { releaseInstalled: true, namespaceCreated: !namespaceExisted, crdCreated: !crdExisted });
  saveState(state);
  const r = await installInCluster(ctx, RELEASE, OPERATOR_NAMESPACE, ['--set', 'replicaCount=1', ...extra]);
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

export async function createSamples(ctx: E2eContext, state: DemoState, s: Samples): Promise<void> {
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
