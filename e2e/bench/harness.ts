/**
 * What every benchmark scenario uses: the stack, a queue of its own, the operator as a
 * process with default settings behind the counting proxies, a watch that timestamps
 * the moment a Deployment's pod template records a version, and process figures.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { DeleteMessageBatchCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { GROUP, PLURAL, VERSION } from '../../operator/src/mappings/model';
import { withTimeout } from '../../operator/src/kube/timeout';
import { KINDS, type WorkloadObject } from '../../operator/src/workloads/kinds';
import { parseAppliedVersions } from '../../operator/src/workloads/workload';
import { nodeIsReady, nodeManifest, type NodeObj } from '../../scripts/stack/nodes';
import { Aws } from '../support/aws';
import { e2eContext, type E2eContext } from '../support/context';
import type { ElasticMq } from '../support/elasticmq';
import { forEachLimit } from '../../scripts/kit/limit';
import { httpGet, launchOperator, operatorReady, promSample, stopOperator } from '../support/operator';
import { rand } from '../support/scenario';
import { waitFor } from '../support/wait';
import { AwsProxy, KubeProxy } from './proxy';
import { startAwsRealism, type AwsRealism, type RealismOptions } from '../support/realism/awsRealism';
import { parseHistogram, type Histogram } from './stats';
import type { CounterSample } from './rolling';

export const M = METRIC_PREFIX;

/** Progress on stderr (stdout carries the table or the JSON document). */
export function say(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Says how far a fixture step got, at most every few seconds (bench fixtures run for minutes). */
export function sayingProgress(): (what: string, done: number, total: number) => void {
  let lastSaid = Date.now();
  return (what, done, total) => {
    if (Date.now() - lastSaid <= 5000) return;
    lastSaid = Date.now();
    say(`  ${what}: ${done}/${total}`);
  };
}

/** forEachLimit, saying how far it got every few seconds. */
export async function forEachSaying<T>(what: string, items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<unknown>): Promise<void> {
  const progress = sayingProgress();
  await forEachLimit(items, limit, fn, (done, total) => progress(what, done, total));
}

export interface Bench {
  readonly ctx: E2eContext;
  readonly kc: k8s.KubeConfig;
  readonly custom: k8s.CustomObjectsApi;
  /** Where operator logs and profiles go. */
  readonly outDir: string;
}

export function bench(outDir: string): Bench {
  const ctx = e2eContext();
  fs.mkdirSync(outDir, { recursive: true });
  return { ctx, kc: ctx.kube.kc, custom: ctx.kube.custom, outDir };
}

/** The same bench with its SQS calls (queues, sends, depth, the ceiling loop) on `emq`; Secrets Manager stays on moto. */
export function onElasticMq(b: Bench, emq: ElasticMq): Bench {
  const env = { ...b.ctx.env, AWS_ENDPOINT_URL_SQS: emq.endpoint };
  return { ...b, ctx: { ...b.ctx, env, aws: new Aws(env) } };
}

// ---------------------------------------------------------------------------
// AWS fixtures

export interface Queue {
  readonly url: string;
  readonly dlqUrl: string;
}

/** A queue and dead-letter queue of the scenario's own, shaped like the CloudFormation template's. */
export async function createQueue(b: Bench, name: string): Promise<Queue> {
  return b.ctx.aws.createQueuePair(name);
}

export async function deleteQueue(b: Bench, q: Queue): Promise<void> {
  for (const url of [q.url, q.dlqUrl]) await b.ctx.aws.sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
}

/** Sends bodies to the queue in batches of ten. */
export async function sendBatch(b: Bench, queueUrl: string, bodies: readonly string[]): Promise<void> {
  const out = await b.ctx.aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })) }));
  if (out.Failed?.length) throw new Error(`SendMessageBatch failed: ${JSON.stringify(out.Failed)}`);
}

/**
 * What the emulator itself allows: the same bodies sent (4 senders) and drained by a
 * bare loop (receive 10, delete them) with no work in between, on a queue of its own.
 */
export async function emulatorCeiling(b: Bench, bodies: readonly string[]): Promise<{ sendSeconds: number; drainSeconds: number }> {
  const q = await createQueue(b, `bench-ceiling-${rand()}`);
  try {
    const batches = Array.from({ length: Math.ceil(bodies.length / 10) }, (_, j) => bodies.slice(j * 10, j * 10 + 10));
    const t0 = performance.now();
    await forEachSaying('ceiling: sent', batches, 4, (batch) => sendBatch(b, q.url, batch));
    const t1 = performance.now();
    let n = 0;
    while (n < bodies.length) {
      const out = await b.ctx.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }));
      const got = out.Messages ?? [];
      if (got.length === 0) continue;
      n += got.length;
      await b.ctx.aws.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: q.url, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    }
    return { sendSeconds: (t1 - t0) / 1000, drainSeconds: (performance.now() - t1) / 1000 };
  } finally {
    await deleteQueue(b, q);
  }
}

export async function queueDepth(b: Bench, queueUrl: string): Promise<number> {
  return (await b.ctx.aws.depth(queueUrl)).total;
}

// ---------------------------------------------------------------------------
// Kubernetes fixtures

/** On every namespace the bench creates: what an interrupted run left is found by it. */
export const BENCH_LABEL = 'bench.secrets-rotation-operator/run';

/**
 * How long the bench waits for its namespaces to be gone (the fixture base's teardown,
 * and an interrupted run's leftovers): the operator of the next scenario watches every
 * namespace, and a mapping still being deleted would be counted in its figures (its
 * secret described by drift recovery, for one). Scenario C leaves thousands of objects.
 */
export const NAMESPACES_GONE_WITHIN_MS = 900_000;

/** Mappings of `namespace` that are Ready with a baseline version recorded. */
export async function syncedMappings(b: Bench, namespace: string): Promise<number> {
  const list = (await b.custom.listNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL)).body as { items: { status?: { appliedVersion?: string; conditions?: { type: string; status: string }[] } }[] };
  return list.items.filter((m) => m.status?.appliedVersion && m.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}

export async function waitSynced(b: Bench, namespaces: readonly string[], expected: number, timeoutMs = 300_000): Promise<void> {
  await waitFor(
    `${expected} mapping(s) Ready with a baseline`,
    async () => {
      let n = 0;
      for (const ns of namespaces) n += await syncedMappings(b, ns);
      return n >= expected || undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * Waits until the deployment controller has caught up with every Deployment labelled
 * `selector` (observedGeneration = generation): a fleet at rest, as a change finds it in a
 * cluster. Freshly created ones still get status writes, and a restart patch made then
 * meets a conflict (its resourceVersion precondition) and is retried.
 */
export async function waitDeploymentsSettled(b: Bench, selector: string, expected: number, timeoutMs = 300_000): Promise<void> {
  const apps = withTimeout(b.kc.makeApiClient(k8s.AppsV1Api), 30_000);
  await waitFor(
    `${expected} Deployment(s) labelled ${selector} seen by their controller`,
    async () => {
      const list = await apps.listDeploymentForAllNamespaces(undefined, undefined, undefined, selector, undefined, undefined, undefined, undefined, undefined);
      const settled = list.body.items.filter((d) => d.status?.observedGeneration === d.metadata?.generation);
      return settled.length >= expected || undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * Waits until every one of `expected` Deployments labelled `selector` is healthy by its
 * kind's own rule (kinds.ts, as `kubectl rollout status` decides): pods running and
 * available on the current template, no old one left.
 */
export async function waitDeploymentsHealthy(b: Bench, selector: string, expected: number, timeoutMs = 600_000): Promise<void> {
  const apps = withTimeout(b.kc.makeApiClient(k8s.AppsV1Api), 30_000);
  await waitFor(
    `${expected} Deployment(s) labelled ${selector} healthy`,
    async () => {
      const list = await apps.listDeploymentForAllNamespaces(undefined, undefined, undefined, selector, undefined, undefined, undefined, undefined, undefined);
      return list.body.items.filter((d) => KINDS.Deployment.health(d as WorkloadObject) === 'healthy').length >= expected || undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/**
 * A fake (kwok) node of the stack's shape with room for `pods` pods, for a scenario whose
 * pods do not fit the stack's own; removed by `remove` (once the pods on it are gone).
 */
export async function fakeNode(b: Bench, name: string, pods: number): Promise<{ remove(): Promise<void> }> {
  await b.ctx.kube.core.createNode(nodeManifest(name, pods) as k8s.V1Node);
  await waitFor(`node ${name} Ready (kwok)`, async () => nodeIsReady((await b.ctx.kube.core.readNode(name)).body as NodeObj) || undefined, { timeoutMs: 60_000, intervalMs: 250 });
  return { remove: async () => void (await b.ctx.kube.core.deleteNode(name).catch(() => undefined)) };
}

/**
 * The API server's own count of the requests it served (`apiserver_request_total`, every
 * client: controllers, scheduler, kwok, the operator), read every second while running:
 * all requests, and the writes among them (what a restart storm multiplies).
 */
export class ApiServerRequests {
  readonly all: CounterSample[] = [];
  readonly writes: CounterSample[] = [];
  private timer?: NodeJS.Timeout;
  private reading?: Promise<void>;

  constructor(private readonly kc: k8s.KubeConfig) {}

  /** One reading now; then one a second until `stop`. */
  async start(): Promise<this> {
    await this.read();
    this.timer = setInterval(() => {
      this.reading ??= this.read()
        .catch((err: Error) => say(`apiserver /metrics: ${err.message}`))
        .finally(() => (this.reading = undefined));
    }, 1000);
    return this;
  }

  /** Stops reading, after a last reading (again: nothing). */
  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.reading;
    await this.read();
  }

  private async read(): Promise<void> {
    // Timed when asked, not when the (megabytes of) answer arrived: the API server counts
    // as it is asked, and a slow answer would otherwise make the next interval look short.
    const at = performance.now();
    const text = await apiServerMetrics(this.kc);
    this.all.push({ at, total: promSample(text, 'apiserver_request_total') });
    this.writes.push({ at, total: WRITE_VERBS.reduce((sum, verb) => sum + promSample(text, 'apiserver_request_total', { verb }), 0) });
  }
}

/** The verbs of apiserver_request_total that change something. */
const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY'] as const;

/** GET /metrics of the stack's API server, with a deadline. */
async function apiServerMetrics(kc: k8s.KubeConfig): Promise<string> {
  const url = new URL('/metrics', kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...opts, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ((res.statusCode ?? 0) >= 300 ? reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`)) : resolve(body)));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------
// Seeing restarts: a watch that timestamps each Deployment's recorded versions

/**
 * Watches Deployments (one namespace, or all with a label selector) and notes, per
 * Deployment, when its pod template first recorded each secret version. `until`
 * resolves at the watch event that makes a condition true, with its arrival time.
 */
export class VersionWatch {
  /** name (namespace/name) → version → performance.now() when first seen. */
  readonly seen = new Map<string, Map<string, number>>();
  private readonly waiters = new Set<() => void>();
  private req?: { abort(): void };
  private failed?: Error;

  private constructor(private readonly kc: k8s.KubeConfig) {}

  /** `onObject`: also handed every object the watch delivers (namespace/name, the object, its arrival time), before waiters are woken. */
  static async start(b: Bench, pathname: string, labelSelector?: string, onObject?: (key: string, obj: k8s.V1Deployment, at: number) => void): Promise<VersionWatch> {
    const w = new VersionWatch(b.kc);
    // Without a resourceVersion the watch first replays the current objects as ADDED.
    w.req = await new k8s.Watch(w.kc).watch(
      pathname,
      labelSelector ? { labelSelector } : {},
      (_type, obj: k8s.V1Deployment) => {
        const at = performance.now();
        const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
        const versions = parseAppliedVersions(obj.spec?.template?.metadata?.annotations);
        let mine = w.seen.get(key);
        if (!mine) w.seen.set(key, (mine = new Map()));
        for (const v of Object.values(versions)) if (!mine.has(v)) mine.set(v, at);
        onObject?.(key, obj, at);
        for (const wake of w.waiters) wake();
      },
      (err) => {
        if (err) w.failed = err as Error;
        for (const wake of w.waiters) wake();
      },
    );
    return w;
  }

  /** performance.now() when `key`'s template first recorded `version`, if it has. */
  when(key: string, version: string): number | undefined {
    return this.seen.get(key)?.get(version);
  }

  /** Resolves when `probe` (checked at every watch event) returns a value; fails at the deadline. */
  until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failed) return finish(() => reject(new Error(`watch for ${what} ended: ${this.failed!.message}`)));
        const v = probe();
        if (v !== undefined) finish(() => resolve(v));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  stop(): void {
    this.req?.abort();
  }
}

// ---------------------------------------------------------------------------
// The operator under test

export interface ProcessFigures {
  /** Peak resident set size (VmHWM), MiB. */
  readonly peakRssMiB: number;
  readonly rssMiB: number;
  /** User + system CPU time, seconds. */
  readonly cpuSeconds: number;
}

/**
 * dist/main.js as a child process with the default settings, except what points it at
 * the stack: the counting proxies as its API server and AWS endpoint, its own queue,
 * its own Lease. Logs go to a file, not through this process (the machine has 2 cores).
 */
export class BenchOperator {
  exitCode: number | null = null;
  private exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly httpPort: number,
    readonly kube: KubeProxy,
    readonly aws: AwsProxy,
    readonly startedAt: number,
    readonly logFile: string,
    private readonly realism?: AwsRealism,
  ) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => ((this.exitCode = code ?? -1), resolve())));
  }

  static async start(b: Bench, name: string, queueUrl: string, opts: { env?: Record<string, string>; cpuProf?: boolean } = {}): Promise<BenchOperator> {
    const kube = await new KubeProxy(b.kc).listen();
    // BENCH_REALISM: the realism proxy's options as JSON (e.g. '{"throttle":{...}}'), between the counting proxy and moto.
    const realism = process.env.BENCH_REALISM ? await startAwsRealism({ ...(JSON.parse(process.env.BENCH_REALISM) as Omit<RealismOptions, 'secretsManager'>), secretsManager: b.ctx.env.AWS_ENDPOINT_URL }) : undefined;
    const aws = await new AwsProxy(realism?.url ?? b.ctx.env.AWS_ENDPOINT_URL).listen();
    const kubeconfig = path.join(b.outDir, `${name}.kubeconfig`);
    fs.writeFileSync(kubeconfig, kube.kubeconfig());
    const logFile = path.join(b.outDir, `${name}.operator.log`);
    const nodeArgs = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${b.outDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
    const startedAt = performance.now();
    const { child, httpPort } = await launchOperator({
      nodeArgs,
      logFile,
      env: {
        KUBECONFIG: kubeconfig,
        SQS_QUEUE_URL: queueUrl,
        AWS_REGION: b.ctx.env.AWS_REGION,
        AWS_ENDPOINT_URL: aws.url,
        AWS_ACCESS_KEY_ID: b.ctx.env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: b.ctx.env.AWS_SECRET_ACCESS_KEY,
        AWS_EC2_METADATA_DISABLED: 'true',
        POD_NAMESPACE: 'default',
        POD_NAME: `bench-${name}`,
        LEASE_NAME: `bench-${name}-${rand(4)}`,
        // As the container runs it: the image sets no NODE_OPTIONS unless the chart's values do (its V8 flags are NODE_FLAGS).
        ...(process.env.BENCH_OPERATOR_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_OPERATOR_NODE_OPTIONS } : {}),
        ...opts.env,
      },
    });
    return new BenchOperator(child, httpPort, kube, aws, startedAt, logFile, realism);
  }

  get alive(): boolean {
    return this.exitCode === null;
  }

  get(pathname: string): Promise<{ status: number; body: string }> {
    return httpGet(this.httpPort, pathname, 5000);
  }

  private exitMessage(): string {
    return `operator exited with ${this.exitCode}; see ${this.logFile}: ${fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-5).join(' | ')}`;
  }

  private assertAlive(): void {
    if (!this.alive) throw new Error(this.exitMessage());
  }

  /** performance.now() when /readyz first answered 200 (polled every 20 ms). */
  async waitReady(timeoutMs = 120_000): Promise<number> {
    const ready = operatorReady(this.httpPort, () => (this.alive ? undefined : this.exitMessage()), 5000);
    return waitFor('operator /readyz', async () => (await ready()) && performance.now(), { timeoutMs, intervalMs: 20 });
  }

  /** Waits until this replica leads (and so consumes SQS). */
  async waitLeading(timeoutMs = 120_000): Promise<void> {
    await waitFor('operator leads', async () => (this.assertAlive(), (await this.metric(`${M}leader`)) === 1 || undefined), { timeoutMs, intervalMs: 50 });
  }

  async metrics(): Promise<string> {
    return (await this.get('/metrics')).body;
  }

  /** Sum of a counter or gauge's samples whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return promSample(await this.metrics(), name, labels);
  }

  async histogram(name: string): Promise<Histogram> {
    return parseHistogram(await this.metrics(), name);
  }

  figures(): ProcessFigures {
    const pid = this.child.pid!;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime) in clock ticks: 100 per second on Linux.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { peakRssMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024, cpuSeconds: ticks / 100 };
  }

  private stopped = false;

  /** SIGTERM, wait for the exit (a pending long poll is waited for: up to 20 s). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopOperator(this.child, this.exited, { graceMs: 40_000, killAfterGrace: true });
    this.kube.close();
    this.aws.close();
    await this.realism?.close();
  }
}
