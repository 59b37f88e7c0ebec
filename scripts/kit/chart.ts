/**
 * The operator as users install it: `helm install oci://…` of our chart, as the e2e
 * globalSetup pushed it to the stack's registry (scripts/stack/publish.ts), into the
 * local API server, then the operator process run with exactly the environment the chart's
 * Deployment gives its container, authenticated with a token of the chart's own
 * ServiceAccount (TokenRequest). So the chart's RBAC and env wiring are what is tested.
 * (kwok's fake pods cannot run our image; this process stands in for the container.)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { stackPaths } from '../stack/paths';
import { chartSourceArgs, readPublished } from '../stack/publish';
import type { E2eContext } from './context';
import type { OperatorProcess } from './operator';

const run = promisify(execFile);

/**
 * The chart as `helm install <name> …` names it: `oci://<registry>/charts/<chart>
 * --version <v> --ca-file <stack CA>`, pushed from this tree by the globalSetup.
 */
export function chartSource(ctx: Pick<E2eContext, 'env'>): string[] {
  return chartSourceArgs(readPublished(), ctx.env as unknown as { STACK_REGISTRY_CA_FILE: string });
}

export interface Release {
  readonly name: string;
  readonly namespace: string;
  readonly deploymentName: string;
  readonly serviceAccount: string;
  /** Environment of the chart's operator container, with downward-API fields resolved. */
  readonly env: Record<string, string>;
  /** Kubeconfig authenticating as the chart's ServiceAccount. */
  readonly kubeconfig: string;
}

export async function helm(ctx: Pick<E2eContext, 'env'>, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(ctx.env.HELM_BIN, args, { env: { ...process.env, KUBECONFIG: ctx.env.KUBECONFIG }, maxBuffer: 10 * 1024 * 1024 });
}

/** The values every e2e install needs to point the chart at the local emulator. */
export function localValues(ctx: Pick<E2eContext, 'env'>): string[] {
  return [
    '--set-string', `sqs.queueUrl=${ctx.env.SQS_QUEUE_URL}`,
    '--set-string', `aws.region=${ctx.env.AWS_REGION}`,
    '--set-string', `aws.endpointUrl=${ctx.env.AWS_ENDPOINT_URL}`,
    ...(ctx.env.AWS_ENDPOINT_URL_SQS ? ['--set-string', `aws.endpointUrlSqs=${ctx.env.AWS_ENDPOINT_URL_SQS}`] : []),
  ];
}

export async function installChart(ctx: E2eContext, name: string, namespace: string, extraArgs: string[] = []): Promise<Release> {
  await helm(ctx, ['install', name, ...chartSource(ctx), '--namespace', namespace, '--create-namespace', ...localValues(ctx), ...extraArgs]);
  return readRelease(ctx, name, namespace);
}

export interface ReadReleaseOptions {
  /** POD_NAME the process gets (the Lease holder's identity); default `<deployment>-e2e`. */
  podName?: string;
  /** Lifetime of the ServiceAccount token; default 3600 s. */
  tokenExpirationSeconds?: number;
}

/** An installed release as its operator container sees it: the Deployment's env and a kubeconfig as its ServiceAccount. */
export async function readRelease(ctx: Pick<E2eContext, 'env' | 'kube'>, name: string, namespace: string, opts: ReadReleaseOptions = {}): Promise<Release> {
  const deploymentName = (await helm(ctx, ['get', 'manifest', name, '--namespace', namespace])).stdout
    .split('\n---')
    .map((d) => k8s.loadYaml<k8s.KubernetesObject>(d))
    .find((o) => o?.kind === 'Deployment')?.metadata?.name;
  if (!deploymentName) throw new Error(`release ${name} has no Deployment`);
  return readOperatorDeployment(ctx, name, deploymentName, namespace, opts);
}

/**
 * The operator Deployment `deploymentName` as its container sees it, however it was
 * installed (helm, or the static manifest with kubectl): its env and a kubeconfig as its
 * ServiceAccount.
 */
export async function readOperatorDeployment(ctx: Pick<E2eContext, 'env' | 'kube'>, name: string, deploymentName: string, namespace: string, opts: ReadReleaseOptions = {}): Promise<Release> {
  const dep = (await ctx.kube.apps.readNamespacedDeployment(deploymentName, namespace)).body;
  const container = dep.spec!.template.spec!.containers.find((c) => c.name === 'operator')!;
  const serviceAccount = dep.spec!.template.spec!.serviceAccountName!;
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = opts.podName ?? `${deploymentName}-e2e`;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
    else if (e.valueFrom?.secretKeyRef) {
      // What the kubelet does for the container (the operator itself cannot read Secrets).
      const ref = e.valueFrom.secretKeyRef;
      const secret = (await ctx.kube.core.readNamespacedSecret(ref.name!, namespace)).body;
      const data = secret.data?.[ref.key];
      if (data === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key ${ref.key} (env ${e.name})`);
      env[e.name] = Buffer.from(data, 'base64').toString('utf8');
    }
  }
  const kubeconfig = await serviceAccountKubeconfig(ctx, namespace, serviceAccount, opts.tokenExpirationSeconds);
  return { name, namespace, deploymentName, serviceAccount, env, kubeconfig };
}

export async function uninstallChart(ctx: E2eContext, r: Release): Promise<void> {
  await helm(ctx, ['uninstall', r.name, '--namespace', r.namespace, '--wait']);
}

/** A kubeconfig whose user is `system:serviceaccount:<ns>:<sa>`, via TokenRequest. */
export async function serviceAccountKubeconfig(ctx: Pick<E2eContext, 'kube'>, namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
  const tr = await ctx.kube.core.createNamespacedServiceAccountToken(serviceAccount, namespace, { spec: { audiences: [], expirationSeconds } });
  const token = tr.body.status!.token;
  const admin = ctx.kube.kc;
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: cluster.server, caData: cluster.caData, caFile: cluster.caFile }],
    users: [{ name: `${namespace}-${serviceAccount}`, token }],
    contexts: [{ name: 'sa', cluster: 'local', user: `${namespace}-${serviceAccount}` }],
    currentContext: 'sa',
  });
  // Kept with the stack's state, so stack:down removes every token the tests minted.
  const dir = path.join(stackPaths().dir, 'tokens');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${namespace}.${serviceAccount}.${randomBytes(4).toString('hex')}.kubeconfig`);
  fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/**
 * Starts the operator as the release's container would run: the chart's env, the
 * ServiceAccount's token, fake AWS credentials for the emulator (IRSA in a real cluster).
 */
export async function startReleaseOperator(ctx: E2eContext, r: Release, overrides: Record<string, string> = {}, opts: StartReleaseOptions = {}): Promise<OperatorProcess> {
  const op = await ctx.startOperator(
    {
      ...r.env,
      AWS_ACCESS_KEY_ID: ctx.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: ctx.env.AWS_SECRET_ACCESS_KEY,
      ...overrides,
    },
    { kubeconfig: opts.server ? withServer(r.kubeconfig, opts.server) : r.kubeconfig, waitReady: opts.waitReady },
  );
  return op;
}

export interface StartReleaseOptions {
  /** Wait for /readyz 200 (default true). */
  waitReady?: boolean;
  /** API server URL the operator is given instead of the stack's (e.g. a fault-injecting proxy); same credentials and CA. */
  server?: string;
}

/** A copy of a kubeconfig file whose cluster has another server URL. */
function withServer(kubeconfigFile: string, server: string): string {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigFile);
  const cluster = kc.getCurrentCluster()!;
  kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server } : c));
  const file = kubeconfigFile.replace(/\.kubeconfig$/, `.${randomBytes(4).toString('hex')}.kubeconfig`);
  fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** `kubectl auth can-i` as the release's ServiceAccount. */
export async function canI(ctx: E2eContext, r: Release, verb: string, resource: string, namespace?: string): Promise<boolean> {
  // `resource/subresource` (e.g. a mapping's status) is asked with --subresource.
  const [res, sub] = resource.split('/');
  const args = ['auth', 'can-i', verb, res, ...(sub ? [`--subresource=${sub}`] : []), `--as=system:serviceaccount:${r.namespace}:${r.serviceAccount}`, ...(namespace ? ['-n', namespace] : ['--all-namespaces'])];
  try {
    await run('kubectl', args, { env: { ...process.env, KUBECONFIG: ctx.env.KUBECONFIG } });
    return true;
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    if (e.code === 1 && e.stdout?.trim() === 'no') return false;
    throw err;
  }
}
