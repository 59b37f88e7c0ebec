/**
 * What every fault scenario needs: the e2e context, the chart installed and its
 * operator(s) started under its ServiceAccount, secrets whose values are remembered
 * (to prove none leaks), Deployments with mappings.
 */
import { randomUUID } from 'node:crypto';
import { e2eContext, type E2eContext } from '../../support/context';
import { Fixture } from '../../support/fixture';
import { startReleaseOperator, type Release, type StartReleaseOptions } from '../../support/chart';
import { Aws, type Secret } from '../../support/aws';
import { startElasticMq, type ElasticMq } from '../../support/elasticmq';
import type { OperatorProcess } from '../../support/operator';
import { realismWriter, startAwsRealism, type AwsRealism, type RealismOptions } from '../../support/realism/awsRealism';
import { labelUpdatedBody } from '../../support/scenario';
import { forEachLimit } from '../../../scripts/kit/limit';
import { waitFor } from '../../support/wait';
import type { Ledger } from './ledger';
import { progress } from './progress';

/**
 * Chart values every fault scenario installs with, besides the chart's defaults
 * (leader election on, 20 s long poll, 10 messages per receive, ...):
 * - a 10 s visibility timeout (default 60 s), so a message a killed operator held
 *   comes back within the test's patience;
 * - drift recovery off, so that a lost or doubled restart cannot be repaired or
 *   hidden by it: only the SQS path is under test (scenario 5 turns it on).
 */
export const FAULT_VALUES: readonly string[] = ['--set', 'sqs.visibilityTimeoutSeconds=10', '--set', 'driftCheckIntervalSeconds=0'];

export interface FaultFileOptions {
  /**
   * The file's queue (and dead-letter queue, redrive after 5 receives, as the template's)
   * on an ElasticMQ server of its own, named so, instead of the stack's on moto: for
   * scenarios that move many messages, where moto's SQS would be what is measured.
   * Secrets Manager stays on moto; there is no EventBridge rule in front of it.
   */
  readonly elasticMq?: string;
  /**
   * The AWS realism proxy (e2e/support/realism) in front of Secrets Manager and SQS, with
   * these behaviours on; `realismValues()` points a release at it, and this file's
   * put-secret-value calls go through it (so it knows when each secret changed).
   */
  readonly realism?: Omit<RealismOptions, 'secretsManager' | 'sqs'>;
}

/** A fault file's fixture: the base's context, namespaces and releases (its ctx replaced in setup when the queue is on ElasticMQ), plus its own queue server, realism proxy and secrets. */
export class FaultFile extends Fixture {
  /** Every secret value this file wrote: none may appear in logs, status or Events. */
  readonly secretValues = new Set<string>();

  private emq?: ElasticMq;
  /** Set in setup when the file asked for it. */
  realism?: AwsRealism;
  /** Where this file's Secrets Manager writes go: through the realism proxy when it is on. */
  private writer?: Aws;

  constructor(
    readonly scenario: string,
    private readonly opts: FaultFileOptions = {},
  ) {
    super();
  }

  /**
   * The test file's FaultFile: set up before its tests, torn down after them, after
   * `cleanup` (e.g. bringing back a component the scenario stopped).
   */
  static forThisFile(scenario: string, cleanup?: () => unknown, opts: FaultFileOptions = {}): FaultFile {
    const f = new FaultFile(scenario, opts);
    beforeAll(() => f.setup());
    afterAll(async () => {
      try {
        await cleanup?.();
      } finally {
        await f.teardown();
      }
    });
    return f;
  }

  async setup(): Promise<void> {
    if (this.opts.elasticMq) {
      this.emq = await startElasticMq({ name: this.opts.elasticMq, account: this.ctx.aws.account, region: this.ctx.env.AWS_REGION });
      const q = await new Aws({ ...this.ctx.env, AWS_ENDPOINT_URL_SQS: this.emq.endpoint }).createQueuePair(`${this.opts.elasticMq}-events`);
      this.ctx = e2eContext({ AWS_ENDPOINT_URL_SQS: this.emq.endpoint, SQS_QUEUE_URL: q.url, SQS_DEAD_LETTER_QUEUE_URL: q.dlqUrl });
      progress(this.scenario, `queue on ElasticMQ ${this.emq.endpoint} (log ${this.emq.logFile})`);
    }
    if (this.opts.realism) {
      this.realism = await startAwsRealism({ ...this.opts.realism, secretsManager: this.ctx.env.AWS_ENDPOINT_URL, sqs: this.ctx.env.AWS_ENDPOINT_URL_SQS ?? this.ctx.env.AWS_ENDPOINT_URL });
      this.writer = realismWriter(this.ctx.env, this.realism);
      progress(this.scenario, `AWS realism proxy ${this.realism.url} (seed ${this.realism.seed}: REALISM_SEED repeats a run)`);
    }
    progress(this.scenario, 'setting up (CRD, empty queues)');
    await this.prepare();
  }

  /** Operators a scenario stopped or killed itself: not reported as having died on their own. */
  private readonly ended = new Set<OperatorProcess>();

  /** Marks an operator the scenario ended on purpose (SIGTERM); its output stays in the leak check. */
  endedOnPurpose(op: OperatorProcess): void {
    this.ended.add(op);
  }

  override async teardown(): Promise<void> {
    try {
      this.ctx.operators.splice(0, this.ctx.operators.length, ...this.ctx.operators.filter((op) => !this.ended.has(op)));
      await super.teardown();
    } finally {
      await this.emq?.stop();
      await this.realism?.close();
    }
  }

  /** `helm install` into a fresh namespace with FAULT_VALUES and `values`. */
  async install(name: string, values: readonly string[] = []): Promise<Release> {
    const releaseName = `${name}-${Math.random().toString(36).slice(2, 6)}`;
    const ns = `${releaseName}-sys`;
    const r = await this.installRelease(releaseName, ns, [...FAULT_VALUES, ...values]);
    progress(this.scenario, `installed chart release ${releaseName} in ${ns}`);
    return r;
  }

  /** Chart values that send a release's Secrets Manager and SQS calls through the realism proxy. */
  realismValues(): string[] {
    if (!this.realism) throw new Error(`${this.scenario}: the file has no realism proxy (FaultFileOptions.realism)`);
    return ['--set-string', `aws.endpointUrlSecretsManager=${this.realism.url}`, '--set-string', `aws.endpointUrlSqs=${this.realism.url}`];
  }

  /** The operator as the release's container runs it (chart env, ServiceAccount token). */
  async start(r: Release, overrides: Record<string, string> = {}, opts: StartReleaseOptions = {}): Promise<OperatorProcess> {
    const op = await startReleaseOperator(this.ctx, r, overrides, opts);
    progress(this.scenario, `operator started (pid ${op.child.pid}${overrides.POD_NAME ? `, ${overrides.POD_NAME}` : ''})`);
    return op;
  }

  async createSecret(prefix: string): Promise<Secret> {
    const value = `fault-value-${randomUUID()}`;
    this.secretValues.add(value);
    return this.ctx.aws.createSecret(`${prefix}-${randomUUID().slice(0, 8)}`, value);
  }

  /** put-secret-value (a new AWSCURRENT) without sending its event. */
  async putValue(s: Secret): Promise<Secret> {
    const value = `fault-value-${randomUUID()}`;
    this.secretValues.add(value);
    return (this.writer ?? this.ctx.aws).putSecretValue(s, value);
  }

  /**
   * put-secret-value and the native event AWS sends for it, through the EventBridge rule;
   * with the queue on ElasticMQ, the body that rule delivers, sent straight to the queue.
   */
  async rotate(s: Secret): Promise<Secret> {
    const next = await this.putValue(s);
    if (this.emq) await this.ctx.aws.sendRaw(labelUpdatedBody(this.ctx, next).body);
    else await this.ctx.aws.sendLabelUpdated(next);
    return next;
  }

  /** Creates `count` Deployments named `<prefix>-<i>` with `labels`, a few at a time (`opts`: as Kube.createWorkload). */
  async deployments(ns: string, prefix: string, count: number, labels: (i: number) => Record<string, string>, opts: Parameters<E2eContext['kube']['createWorkload']>[4] = {}): Promise<string[]> {
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    await forEachLimit(names, 8, (n, i) => this.ctx.kube.createWorkload('Deployment', ns, n, labels(i), opts));
    return names;
  }

  /**
   * `secretCount` secrets `<prefix>-<i>` and `deploymentCount` Deployments in as many
   * groups (Deployment j is in group `g<j % secretCount>`); mapping `m<i>` ties secret i
   * to group i, and the ledger expects every group to roll. Resolves once the pods run.
   */
  async groups(ledger: Ledger, ns: string, prefix: string, secretCount: number, deploymentCount: number): Promise<{ secrets: Secret[]; names: string[]; mappings: string[] }> {
    const secrets = await Promise.all(Array.from({ length: secretCount }, (_, i) => this.createSecret(`${prefix}-${i}`)));
    const names = await this.deployments(ns, 'app', deploymentCount, (i) => ({ group: `g${i % secretCount}` }));
    const mappings = secrets.map((_, i) => `m${i}`);
    for (const [i, s] of secrets.entries()) {
      await this.mapping(ns, mappings[i], s, { group: `g${i}` });
      ledger.track(ns, names.filter((_, j) => j % secretCount === i), [s], true);
    }
    await this.waitRunning(ns, names);
    return { secrets, names, mappings };
  }

  /** Creates a mapping and waits until the (leading) operator made it Ready and recorded its baseline version. */
  async mapping(ns: string, name: string, secret: Secret, matchLabels: Record<string, string>): Promise<void> {
    await this.ctx.kube.createMapping(ns, name, { secretId: secret.name, selector: { matchLabels }, workloadKinds: ['Deployment'] });
  }

  async waitMappingsReady(ns: string, names: readonly string[], timeoutMs = 90_000): Promise<void> {
    await waitFor(
      `${names.length} mapping(s) in ${ns} Ready with a baseline version`,
      async () => {
        for (const n of names) {
          const st = (await this.ctx.kube.mapping(ns, n)).status;
          if (!st?.appliedVersion || !st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /**
   * Waits until every Deployment in `names` has `replicas` running pods (and no others)
   * and its controller has observed it (so its first ReplicaSet exists: the ledger counts
   * restarts from it, also with replicas 0).
   */
  async waitRunning(ns: string, names: readonly string[], replicas = 1, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${names.length} Deployment(s) in ${ns} running`,
      async () => {
        const [pods, deps] = await Promise.all([this.ctx.kube.core.listNamespacedPod(ns), this.ctx.kube.apps.listNamespacedDeployment(ns)]).then(([p, d]) => [p.body.items, d.body.items] as const);
        const observed = new Set(deps.filter((d) => d.status?.observedGeneration === d.metadata?.generation).map((d) => d.metadata!.name!));
        return names.every((n) => {
          if (!observed.has(n)) return false;
          const mine = pods.filter((p) => p.metadata?.labels?.['workload-name'] === n);
          return mine.length === replicas && mine.every((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
        });
      },
      { timeoutMs, intervalMs: 500 },
    );
  }
}

/** Resolves when a log line with this message is printed (checked on every chunk, not polled). */
export function onLog(op: OperatorProcess, message: string, fn: (at: number) => void): void {
  let fired = false;
  let buf = '';
  const needle = `"message":${JSON.stringify(message)}`;
  const listener = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    if (fired || !lines.some((l) => l.includes(needle))) return;
    fired = true;
    op.child.stdout!.off('data', listener);
    fn(Date.now());
  };
  op.child.stdout!.on('data', listener);
}

export function countLogs(op: OperatorProcess, message: string): number {
  return op.logs.filter((l) => l.message === message).length;
}

/** How many of the operator's restarts drift recovery made (their event ids are `drift:…`). */
export function countDriftRestarts(op: OperatorProcess): number {
  return op.logs.filter((l) => l.message === 'workload restarted' && String(l.eventId).startsWith('drift:')).length;
}

/** Waits until a finished operator's output is fully read (its 'exit' can come before the last lines). */
export async function outputDrained(op: OperatorProcess): Promise<void> {
  await waitFor('operator output closed', () => Boolean(op.child.stdout?.closed && op.child.stderr?.closed), { timeoutMs: 10_000, intervalMs: 20 });
}

/**
 * One line per kind of excess: Deployments whose spec was changed more than `times`
 * times since they were created. metadata.generation counts every spec change, also
 * two patches the Deployment controller folded into one rollout (one ReplicaSet), so
 * it sees doubles the ReplicaSet history can miss. Only for Deployments nothing but the
 * operator changes after creation.
 */
export async function patchedMoreThanOnce(ctx: E2eContext, ns: string, names: readonly string[], times = 1): Promise<string[]> {
  const wanted = new Set(names);
  const over = (await ctx.kube.apps.listNamespacedDeployment(ns)).body.items
    .filter((d) => wanted.has(d.metadata!.name!) && (d.metadata?.generation ?? 1) - 1 > times)
    .map((d) => `${d.metadata!.name} (${(d.metadata!.generation ?? 1) - 1} changes)`);
  return over.length === 0 ? [] : [`${over.length} Deployment(s) patched more than ${times === 1 ? 'once' : `${times} times`} (metadata.generation): ${over.slice(0, 5).join(', ')}${over.length > 5 ? ', ...' : ''}`];
}
