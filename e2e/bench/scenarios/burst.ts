/**
 * D: a burst over many secrets, its queue on ElasticMQ (moto's SQS would be what is
 * measured); the bodies are what the EventBridge rule delivers, sent straight to it.
 */
import { performance } from 'node:perf_hooks';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { canonicalSecretKey, parseSecretId } from '../../../operator/src/secrets/secretId';
import { parseAppliedVersions } from '../../../operator/src/workloads/workload';
import type { Secret } from '../../support/aws';
import { startElasticMq } from '../../support/elasticmq';
import { rand, value } from '../../support/scenario';
import { waitFor } from '../../support/wait';
import { BenchOperator, M, emulatorCeiling, forEachSaying, onElasticMq, say, sendBatch, waitSynced, type Bench } from '../harness';
import { histogramDelta } from '../stats';
import { changed, deployment, inScope, mapping, seconds } from './fixtures';
import type { ScenarioResult, Sizes } from './result';

/**
 * SendMessageBatch calls in flight at once: EventBridge delivers a burst's events to the
 * queue in parallel, so the burst reaches the queue in well under a second, as it would.
 */
const SEND_CONCURRENCY = 10;

export async function burst(stack: Bench, z: Sizes, opts: { cpuProf?: boolean } = {}): Promise<ScenarioResult> {
  const t0 = performance.now();
  const emq = await startElasticMq({ name: 'bench-d', account: stack.ctx.aws.account, region: stack.ctx.env.AWS_REGION });
  const b = onElasticMq(stack, emq);
  try {
    return await inScope(b, { id: 'd', namespaces: 1, t0 }, async ({ s, queue, namespaces: [ns] }) => {
      const idx = Array.from({ length: z.burstSecrets }, (_, i) => i);
      const secrets: Secret[] = new Array(z.burstSecrets);
      await forEachSaying('secrets', idx, 8, async (i) => (secrets[i] = await b.ctx.aws.createSecret(`bench/burst-${rand(6)}-${i}`)));
      await forEachSaying('Deployments', idx, 10, (i) => deployment(b, ns, `w${i}`, { app: `w${i}` }));
      await forEachSaying('mappings', idx, 10, (i) => mapping(b, ns, `m${i}`, secrets[i].name, { app: `w${i}` }));
      s.operator = s.own(await BenchOperator.start(b, 'd-burst', queue.url, { env: { ...z.operatorEnv, AWS_ENDPOINT_URL_SQS: emq.endpoint }, cpuProf: opts.cpuProf }));
      await s.operator.waitLeading();
      await waitSynced(b, [ns], z.burstSecrets);
      // The changes themselves (new versions) are made first; what is measured is the
      // operator taking in their 1,000 events, sent within the burst window.
      const perSecret = Math.ceil(z.burstChanges / z.burstSecrets);
      // Each event carries the time its version became current, as AWS stamps it: sent
      // later, an event stamped "now" would claim to be newer than any DescribeSecret
      // (secrets/versionOrder.ts), and every stale version in it would restart again.
      const versions: { v: Secret; at: Date }[][] = idx.map(() => []);
      await forEachSaying('new versions', idx, 8, async (i) => {
        for (let k = 0; k < perSecret; k++) versions[i].push({ v: await b.ctx.aws.putSecretValue(secrets[i], value()), at: new Date() });
      });
      const finals = versions.map((vs) => vs[vs.length - 1].v.version);
      // Interleaved as a real burst would be: change k of every secret, then change k+1.
      const bodies = Array.from({ length: perSecret }, (_, k) => idx.map((i) => versions[i][k]))
        .flat()
        .slice(0, z.burstChanges)
        .map(({ v, at }) => changed(b, v, at));
      const deleted0 = await s.operator.metric(`${M}messages_deleted_total`);
      const restarted0 = await s.operator.metric(`${M}restarts_total`, { result: 'restarted' });
      const skipped0 = await s.operator.metric(`${M}restarts_total`, { result: 'skipped' });
      const batch0 = await s.operator.histogram(`${M}batch_seconds`);
      const t1 = performance.now();

      say(`D: ${bodies.length} changes over ${z.burstSecrets} secrets`);
      s.operator.kube.reset();
      s.operator.aws.reset();
      const sendStart = performance.now();
      const sends = Array.from({ length: Math.ceil(bodies.length / 10) }, (_, j) => bodies.slice(j * 10, j * 10 + 10));
      await forEachSaying('sent', sends, SEND_CONCURRENCY, (batch) => sendBatch(b, queue.url, batch));
      const sendEnd = performance.now();
      await waitFor(`${bodies.length} messages deleted`, async () => (await s.operator!.metric(`${M}messages_deleted_total`)) - deleted0 >= bodies.length || undefined, { timeoutMs: 300_000, intervalMs: 20 });
      const done = performance.now();
      const batches = histogramDelta(await s.operator.histogram(`${M}batch_seconds`), batch0);
      const kube = s.operator.kube.snapshot();
      const aws = s.operator.aws.snapshot();
      const timeByKind = { ...s.operator.kube.timeByKind(), ...s.operator.aws.timeByKind() };
      // A message goes once its rollout is recorded; the rollout loop restarts the rest
      // (at most the chart's maxConcurrent rolling at once). Correctness: every Deployment
      // ends on its secret's newest version, each restarted once.
      const notOnNewest = async (): Promise<string[]> => {
        const listed = (await b.ctx.kube.apps.listNamespacedDeployment(ns)).body.items;
        const applied = new Map(listed.map((d) => [d.metadata!.name!, parseAppliedVersions(d.spec?.template?.metadata?.annotations)]));
        return idx.filter((i) => applied.get(`w${i}`)?.[canonicalSecretKey(parseSecretId(secrets[i].arn, 'full'))] !== finals[i]).map((i) => `w${i}`);
      };
      const allOnNewest = await waitFor('every workload on its newest version', async () => (await notOnNewest()).length === 0 && performance.now(), { timeoutMs: 300_000, intervalMs: 500 }).catch(() => NaN);
      const wrong = await notOnNewest();
      const restarts = (await s.operator.metric(`${M}restarts_total`, { result: 'restarted' })) - restarted0;
      const skipped = (await s.operator.metric(`${M}restarts_total`, { result: 'skipped' })) - skipped0;
      await s.operator.stop();
      say(`D: ElasticMQ's own ceiling for ${bodies.length} messages (bare receive-and-delete loop)`);
      const ceiling = await emulatorCeiling(b, bodies);
      say(`D: moto's own rate for DescribeSecret (every secret at once, as a batch settles them, ${perSecret} times)`);
      const describeStart = performance.now();
      for (let k = 0; k < perSecret; k++) await Promise.all(secrets.map((x) => b.ctx.aws.sm.send(new DescribeSecretCommand({ SecretId: x.arn }))));
      const describePerSecond = (perSecret * secrets.length) / seconds(describeStart, performance.now());
      const t2 = performance.now();
      return {
        id: 'D',
        title: `Burst: ${bodies.length} changes over ${z.burstSecrets} secrets (queue on ElasticMQ)`,
        setupSeconds: seconds(t0, t1),
        measuredSeconds: seconds(t1, t2),
        figures: [
          { key: 'sendSeconds', label: `time to send the ${bodies.length} events`, value: seconds(sendStart, sendEnd), unit: 's', target: { op: '<=', value: 10 } },
          { key: 'drainSeconds', label: 'first send → last message deleted', value: seconds(sendStart, done), unit: 's' },
          { key: 'eventsPerSecond', label: 'sustained events/s (events / that time)', value: bodies.length / seconds(sendStart, done), unit: 'events/s', target: { op: '>=', value: 500 } },
          { key: 'allRestartedSeconds', label: 'first send → every workload on its newest version (paced by the rollout loop)', value: seconds(sendStart, allOnNewest), unit: 's' },
          { key: 'handlingEventsPerSecond', label: 'operator handling rate (events / time in batch handling)', value: bodies.length / batches.sum, unit: 'events/s', target: { op: '>=', value: 500 } },
          { key: 'batches', label: 'batches handled', value: batches.count, unit: 'batches' },
          { key: 'ceilingSendSeconds', label: 'ElasticMQ alone: time to take the events in', value: ceiling.sendSeconds, unit: 's' },
          { key: 'ceilingEventsPerSecond', label: 'ElasticMQ alone: bare receive+delete loop', value: bodies.length / ceiling.drainSeconds, unit: 'events/s' },
          { key: 'describeCalls', label: 'DescribeSecret calls (one per secret per batch)', value: aws['SecretsManager.DescribeSecret'] ?? 0, unit: 'calls' },
          { key: 'describePerSecond', label: 'moto alone: DescribeSecret, every secret of a batch at once', value: describePerSecond, unit: 'calls/s' },
          { key: 'restartsIssued', label: 'restarts issued', value: restarts, unit: 'restarts', target: { op: '=', value: z.burstSecrets } },
          { key: 'uniqueWorkloads', label: 'unique workloads affected', value: z.burstSecrets, unit: 'workloads' },
          { key: 'skipped', label: 'restarts skipped (already at the newest version)', value: skipped, unit: 'decisions' },
          { key: 'notOnNewest', label: 'workloads not on their newest version', value: wrong.length, unit: 'workloads', target: { op: '=', value: 0 } },
          { key: 'apiRequests', label: 'Kubernetes API requests', value: kube.total, unit: 'requests' },
        ],
        notes: [
          'the queue is on ElasticMQ (moto scans every message of a queue on each send and receive, so there the figure was moto\'s); Secrets Manager (DescribeSecret) is still moto; the EventBridge → SQS routing is proven on moto by the e2e suite',
          'handling rate: time inside the operator\'s batch handler (interpret, DescribeSecret, list, plan, patch, status, Events), SQS calls excluded',
          `from the first send to the last delete: Kubernetes requests by kind ${JSON.stringify(kube.byKind)}; Secrets Manager calls ${JSON.stringify(aws)}`,
          `where that time went, ms summed per kind of request (requests in flight together overlap): ${JSON.stringify(Object.fromEntries(Object.entries(timeByKind).map(([k, v]) => [k, Math.round(v)])))}`,
        ],
      };
    });
  } finally {
    await emq.stop();
  }
}
