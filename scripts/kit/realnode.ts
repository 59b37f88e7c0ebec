/**
 * The stack's real node (scripts/stack/realnode.ts): the operator installed by
 * `helm install oci://…` running in-cluster from its image, and the sample app
 * (examples/fingerprint-app), as real containers; the node pulls both images from the
 * stack's registry, by the digests this run pushed. Files that need it use
 * `describeOnRealNode`: where the machine cannot run a real node they are skipped,
 * and the skip names the reason.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pinnedRef, publish, readPublished, type Published, type PublishedImage } from '../stack/publish';
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from '../stack/realnode';
import { buildImages } from './image';
import { chartSource, helm } from './chart';
import type { E2eContext, StackEnvFile } from './context';
import { REPO_ROOT } from './kube';
import { waitFor } from './wait';

/** Why this stack has no real node, or undefined when it has one. */
export function realNodeSkipReason(env: StackEnvFile): string | undefined {
  return env.STACK_REAL_NODE ? undefined : env.STACK_REAL_NODE_SKIP_REASON || 'the stack has no real node';
}

/** `describe`, or `describe.skip` with the reason in the name (never a silent pass). */
export function describeOnRealNode(env: StackEnvFile, name: string, fn: () => void): void {
  const reason = realNodeSkipReason(env);
  if (reason) {
    process.stderr.write(`[e2e] skipping "${name}": no real node: ${reason}\n`);
    describe.skip(`${name} (skipped: no real node: ${reason})`, fn);
  } else {
    describe(name, fn);
  }
}

/**
 * Builds the operator's and the sample app's images (`npm run image`; layers cached,
 * so a warm run takes seconds) and publishes them with the chart to the stack's
 * registry (scripts/stack/publish.ts). The jest globalSetups call it once per run, so
 * the pods run the code under test: they are pinned to the digests pushed here.
 */
export function publishWithImages(log?: (line: string) => void): Promise<Published> {
  return publish({ images: buildImages(), log });
}

/** An image this run published (publishWithImages), or why there is none. */
export function publishedImage(which: 'operator' | 'app'): PublishedImage {
  const img = readPublished()[which];
  if (!img) throw new Error(`no ${which} image in .stack/published.json: the globalSetup publishes the images only when the stack has a real node`);
  return img;
}

/** Scheduling onto the real node: its label and a toleration of its taint. */
export const realNodePlacement = {
  nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
  tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }],
};

/** Credentials and endpoint for pods on the real node to reach moto. */
export function podAwsEnv(env: StackEnvFile): k8s.V1EnvVar[] {
  return [
    { name: 'AWS_REGION', value: env.AWS_REGION },
    { name: 'AWS_ENDPOINT_URL', value: env.STACK_POD_AWS_ENDPOINT_URL },
    { name: 'AWS_ACCESS_KEY_ID', value: env.AWS_ACCESS_KEY_ID },
    { name: 'AWS_SECRET_ACCESS_KEY', value: env.AWS_SECRET_ACCESS_KEY },
  ];
}

export interface InClusterRelease {
  name: string;
  namespace: string;
  deploymentName: string;
  selector: string;
}

/**
 * `helm install` of the chart as shipped (probes, security context, ServiceAccount)
 * from the stack's registry, with only what this cluster needs: the image in that
 * registry, by digest, placement on the real node, moto's address and fake
 * credentials (IRSA in a real cluster). Waits until the Deployment is available.
 */
export async function installInCluster(ctx: E2eContext, name: string, namespace: string, extraArgs: string[] = []): Promise<InClusterRelease> {
  const values = path.join(ctx.env.STACK_DIR, `values-${name}-${namespace}.yaml`);
  fs.writeFileSync(
    values,
    k8s.dumpYaml({
      image: { repository: publishedImage('operator').repository, digest: publishedImage('operator').digest },
      ...realNodePlacement,
      extraEnv: podAwsEnv(ctx.env).filter((e) => e.name.startsWith('AWS_ACCESS') || e.name.startsWith('AWS_SECRET')),
    }),
  );
  await helm(ctx, [
    'install', name, ...chartSource(ctx), '--namespace', namespace, '--create-namespace',
    '--set-string', `sqs.queueUrl=${ctx.env.SQS_QUEUE_URL}`, '--set-string', `aws.region=${ctx.env.AWS_REGION}`,
    '--set-string', `aws.endpointUrl=${ctx.env.STACK_POD_AWS_ENDPOINT_URL}`,
    '-f', values, '--wait', '--timeout', '120s', ...extraArgs,
  ]);
  fs.rmSync(values, { force: true });
  const dep = (await ctx.kube.apps.listNamespacedDeployment(namespace, undefined, undefined, undefined, undefined, `app.kubernetes.io/instance=${name}`)).body.items[0];
  if (!dep?.metadata?.name) throw new Error(`release ${name} has no Deployment`);
  const selector = Object.entries(dep.spec!.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return { name, namespace, deploymentName: dep.metadata.name, selector };
}

export async function uninstallInCluster(ctx: E2eContext, r: InClusterRelease): Promise<void> {
  await helm(ctx, ['uninstall', r.name, '--namespace', r.namespace, '--wait', '--timeout', '60s']).catch(() => undefined);
}

export async function releasePods(ctx: E2eContext, r: InClusterRelease): Promise<k8s.V1Pod[]> {
  return (await ctx.kube.core.listNamespacedPod(r.namespace, undefined, undefined, undefined, undefined, r.selector)).body.items;
}

/** The current logs of every operator container of the release, JSON lines parsed. */
export async function releaseLogs(ctx: E2eContext, r: InClusterRelease): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const pod of await releasePods(ctx, r)) {
    const text = await ctx.kube.core.readNamespacedPodLog(pod.metadata!.name!, r.namespace, 'operator').then((x) => x.body, () => '');
    for (const line of String(text).split('\n')) {
      try {
        out.push({ pod: pod.metadata!.name, ...(JSON.parse(line) as Record<string, unknown>) });
      } catch {
        /* not JSON */
      }
    }
  }
  return out;
}

/** The sample app's manifest from examples/, placed on the real node with moto's address, its image the one published (by digest). */
/**
 * The sample app's Deployment for the real node. It reads `secretId` from Secrets Manager;
 * or, with `fromSecret`, the value ESO wrote into a Kubernetes Secret, through an env var
 * (secretKeyRef) named by SECRET_ENV: then the app never calls AWS.
 */
export function fingerprintAppManifest(env: StackEnvFile, namespace: string, secretId: string, opts: { fromSecret?: { name: string; key: string } } = {}): k8s.V1Deployment {
  const file = path.join(REPO_ROOT, 'examples', 'fingerprint-app', 'deployment.yaml');
  const dep = (k8s.loadAllYaml(fs.readFileSync(file, 'utf8')) as k8s.KubernetesObject[]).find((d) => d?.kind === 'Deployment') as k8s.V1Deployment;
  dep.metadata!.namespace = namespace;
  const pod = dep.spec!.template.spec!;
  Object.assign(pod, realNodePlacement);
  const c = pod.containers[0];
  c.image = pinnedRef(publishedImage('app'));
  c.imagePullPolicy = 'IfNotPresent';
  const kept = (c.env ?? []).filter((e) => e.name !== 'SECRET_ID' && !e.name.startsWith('AWS_'));
  c.env = opts.fromSecret
    ? [...kept, { name: 'SECRET_ENV', value: 'SECRET_VALUE' }, { name: 'SECRET_VALUE', valueFrom: { secretKeyRef: { name: opts.fromSecret.name, key: opts.fromSecret.key } } }]
    : [...kept, { name: 'SECRET_ID', value: secretId }, ...podAwsEnv(env)];
  return dep;
}

/** What the sample app serves for a value: the first 16 hex digits of its SHA-256 (examples/fingerprint-app/server.mjs). */
export function fingerprintOf(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

export interface Served {
  fingerprint: string;
  versionId: string;
  pod: string;
}

/** GET / of one pod, by its IP on the bridge. */
export function getServed(ip: string, port = 8080, timeoutMs = 2000): Promise<Served> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode} from ${ip}`));
        try {
          resolve(JSON.parse(body) as Served);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout from ${ip}`))).on('error', reject);
  });
}

/** Ready endpoint addresses of a Service, as kube-proxy would route to them. */
export async function readyEndpoints(ctx: E2eContext, namespace: string, service: string): Promise<string[]> {
  const res = await ctx.kube.kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice(namespace, undefined, undefined, undefined, undefined, `kubernetes.io/service-name=${service}`);
  return res.body.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false && e.conditions?.terminating !== true).flatMap((e) => e.addresses));
}

/** Pods of a Deployment, found through its own selector. */
export async function deploymentPods(ctx: E2eContext, namespace: string, deployment: string): Promise<k8s.V1Pod[]> {
  const d = (await ctx.kube.apps.readNamespacedDeployment(deployment, namespace)).body;
  const selector = Object.entries(d.spec!.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return (await ctx.kube.core.listNamespacedPod(namespace, undefined, undefined, undefined, undefined, selector)).body.items;
}

/** Every Running pod of a Deployment, with what it serves. */
export async function servedByPods(ctx: E2eContext, namespace: string, deployment: string): Promise<{ pod: string; served: Served }[]> {
  const pods = await deploymentPods(ctx, namespace, deployment);
  return Promise.all(
    pods
      .filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp)
      .map(async (p) => ({ pod: p.metadata!.name!, served: await getServed(p.status!.podIP!) })),
  );
}

/**
 * A client that keeps sending requests to the Service's ready endpoints (round
 * robin, the endpoint list refreshed as kube-proxy would), until stopped. Bounded:
 * it stops by itself after `maxMs`.
 */
export class ServiceClient {
  requests = 0;
  readonly failures: string[] = [];
  readonly seen = new Map<string, number>();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly ctx: E2eContext, private readonly namespace: string, private readonly service: string, private readonly maxMs = 300_000) {}

  start(): this {
    const end = Date.now() + this.maxMs;
    this.loop = (async () => {
      let endpoints: string[] = [];
      let refreshed = 0;
      let i = 0;
      while (!this.stopped && Date.now() < end) {
        if (Date.now() - refreshed > 200 || endpoints.length === 0) {
          endpoints = await readyEndpoints(this.ctx, this.namespace, this.service).catch(() => endpoints);
          refreshed = Date.now();
        }
        if (endpoints.length === 0) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const ip = endpoints[i++ % endpoints.length];
        this.requests++;
        try {
          const s = await getServed(ip);
          this.seen.set(s.fingerprint, (this.seen.get(s.fingerprint) ?? 0) + 1);
        } catch (e) {
          this.failures.push(`${ip}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** Waits until the Deployment has rolled completely: every replica updated and ready, no old pod left. */
/** Waits until every one of the Deployment's `replicas` running pods serves `fingerprint`; returns what they served. */
export async function waitEveryPodServes(ctx: E2eContext, namespace: string, deployment: string, fingerprint: string, replicas = 2, timeoutMs = 180_000): Promise<{ pod: string; served: Served }[]> {
  return waitFor(
    `every pod of Deployment ${namespace}/${deployment} to serve fingerprint ${fingerprint}`,
    async () => {
      await waitRolledOut(ctx, namespace, deployment, replicas, 5_000).catch(() => undefined);
      const served = await servedByPods(ctx, namespace, deployment);
      return served.length === replicas && served.every((s) => s.served.fingerprint === fingerprint) ? served : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export async function waitRolledOut(ctx: E2eContext, namespace: string, name: string, replicas: number, timeoutMs = 180_000): Promise<void> {
  await waitFor(
    `Deployment ${namespace}/${name} rolled out`,
    async () => {
      const d = (await ctx.kube.apps.readNamespacedDeployment(name, namespace)).body;
      const s = d.status ?? {};
      const done = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && s.updatedReplicas === replicas && s.readyReplicas === replicas && s.replicas === replicas && (s.unavailableReplicas ?? 0) === 0;
      if (!done) return false;
      const pods = await deploymentPods(ctx, namespace, name);
      return pods.length === replicas && pods.every((p) => !p.metadata?.deletionTimestamp);
    },
    { timeoutMs, intervalMs: 250 },
  );
}
