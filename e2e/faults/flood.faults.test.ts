/**
 * Scenario 7: a flood. 10,000 malformed or foreign messages (SendMessageBatch)
 * with 20 real changes mixed in. All 20 must be handled, every bad message must end
 * in the dead-letter queue (the operator releases each at once; the queue's redrive
 * policy moves it after maxReceiveCount = 5 receives), the metrics must match the
 * counts exactly, and the operator's memory must stay bounded (peak RSS, VmHWM, under
 * the chart's memory limit). FAULTS_FLOOD_COUNT changes the number of bad messages.
 *
 * The queue is on ElasticMQ (moto scans its whole queue on every receive: there the
 * run took some 15 minutes, all of it moto's), so the whole flood is sent at once and
 * the operator faces a real 10,000-message backlog. The real changes are the bodies
 * the EventBridge rule delivers, sent straight to the queue (the rule's routing is
 * proven on moto by the e2e suite).
 */
import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import type { OperatorProcess } from '../support/operator';
import { waitFor } from '../support/wait';

const BAD = Number(process.env.FAULTS_FLOOD_COUNT ?? 10_000);
const REAL = 20;
const S = `7 flood: ${BAD.toLocaleString('en')} bad + ${REAL} real`;
const MAX_RECEIVE_COUNT = 5;
const SEND_CONCURRENCY = 4;
jest.setTimeout(1_800_000);

const f = FaultFile.forThisFile(S, undefined, { elasticMq: 'faults-flood' });

/** Ten kinds of bad message, each with the ParseError code the operator must give it. */
const KINDS: { code: string; body: (i: number) => string }[] = [
  { code: 'NotJson', body: (i) => `not json at all { ${i}` },
  { code: 'NotAnEvent', body: (i) => `[${i}]` },
  { code: 'NotAnEvent', body: (i) => JSON.stringify({ hello: 'world', i }) },
  { code: 'ForeignSource', body: (i) => JSON.stringify(envelope(i, 'aws.ec2', 'EC2 Instance State-change Notification', { state: 'running' })) },
  { code: 'MissingField', body: (i) => JSON.stringify({ ...envelope(i, 'aws.secretsmanager', 'Secret Label Updated', {}), detail: undefined }) },
  { code: 'NotJson', body: (i) => JSON.stringify({ Type: 'Notification', Message: `garbage ${i}` }) },
  { code: 'InvalidField', body: (i) => JSON.stringify({ ...envelope(i, 'aws.secretsmanager', 'Secret Label Updated', { labelUpdated: 'AWSCURRENT' }), resources: [`arn:aws:secretsmanager:us-east-1:123456789012:secret:bad name ${i}!`] }) },
  { code: 'EmptyBody', body: () => '   ' },
  { code: 'ForeignSource', body: (i) => JSON.stringify(envelope(i, 'aws.secretsmanager', 'AWS API Call via CloudTrail', { eventSource: 'kms.amazonaws.com', eventName: 'Decrypt' })) },
  { code: 'MissingField', body: (i) => JSON.stringify({ ...envelope(i, 'aws.secretsmanager', 'AWS Service Event via CloudTrail', { eventSource: 'secretsmanager.amazonaws.com', eventName: 'RotationSucceeded' }) }) },
];

function envelope(i: number, source: string, detailType: string, detail: Record<string, unknown>) {
  return { version: '0', id: `flood-${i}-${randomUUID()}`, 'detail-type': detailType, source, account: '123456789012', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail };
}

/** Sends bad messages `from`..`to` with SendMessageBatch, SEND_CONCURRENCY calls at a time. */
async function sendBad(f: FaultFile, from: number, to: number): Promise<void> {
  const batches: { Id: string; MessageBody: string }[][] = [];
  for (let i = from; i < to; i += 10) {
    batches.push(Array.from({ length: Math.min(10, to - i) }, (_, j) => ({ Id: String(j), MessageBody: KINDS[(i + j) % KINDS.length].body(i + j) })));
  }
  for (let i = 0; i < batches.length; i += SEND_CONCURRENCY) {
    await Promise.all(
      batches.slice(i, i + SEND_CONCURRENCY).map(async (Entries) => {
        const out = await f.ctx.aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: f.ctx.env.SQS_QUEUE_URL, Entries }));
        if (out.Failed?.length) throw new Error(`SendMessageBatch failed: ${JSON.stringify(out.Failed)}`);
      }),
    );
  }
}

async function metrics(op: OperatorProcess) {
  const m = (name: string, labels: Record<string, string> = {}) => op.metric(`${METRIC_PREFIX}${name}`, labels);
  const codes = Object.fromEntries(await Promise.all([...new Set(KINDS.map((k) => k.code))].map(async (c) => [c, await m('messages_malformed_total', { code: c })] as const)));
  return {
    received: await m('messages_received_total'),
    malformed: await m('messages_malformed_total'),
    codes,
    deleted: await m('messages_deleted_total'),
    failed: await m('messages_failed_total'),
    ignored: await m('messages_ignored_total'),
    restarted: await m('restarts_total', { result: 'restarted' }),
    receiveCalls: await m('sqs_receive_calls_total'),
    sqsErrors: await m('sqs_errors_total'),
  };
}

test(`a flood of ${BAD} bad messages with ${REAL} real changes: all real ones handled, bad ones dead-lettered, memory bounded`, async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler(250);
  const ns = await f.namespace('flood');
  const r = await f.install('flood');
  const dep = (await f.ctx.kube.apps.readNamespacedDeployment(r.deploymentName, r.namespace)).body;
  const limit = String(dep.spec!.template.spec!.containers[0].resources?.limits?.memory ?? '');
  const limitKiB = /^(\d+)Mi$/.test(limit) ? Number(limit.slice(0, -2)) * 1024 : Infinity;
  const secrets = await Promise.all(Array.from({ length: REAL }, (_, i) => f.createSecret(`flood-${i}`)));
  const names = await f.deployments(ns, 'app', REAL, (i) => ({ idx: String(i) }));
  for (const [i, s] of secrets.entries()) {
    await f.mapping(ns, `m${i}`, s, { idx: String(i) });
    ledger.track(ns, [names[i]], [s], true);
  }
  await f.waitRunning(ns, names);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, names.map((_, i) => `m${i}`));

  const t0 = Date.now();
  const segment = Math.ceil(BAD / REAL);
  for (let k = 0; k < REAL; k++) {
    await sendBad(f, k * segment, Math.min(BAD, (k + 1) * segment));
    await f.rotate(secrets[k]);
  }
  ledger.sent(BAD + REAL);
  const sentMs = Date.now() - t0;
  progress(S, `sent ${BAD} bad messages and ${REAL} real changes in ${(sentMs / 1000).toFixed(1)} s`);

  let lastReport = 0;
  await waitFor(
    'the flood drained: queue empty, every bad message dead-lettered',
    async () => {
      const [q, dlq] = await Promise.all([f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL), f.ctx.aws.depth(f.ctx.env.SQS_DEAD_LETTER_QUEUE_URL)]);
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        progress(S, `queue ${q.visible} visible / ${q.inFlight} in flight, dead-letter queue ${dlq.total}, peak RSS ${(rss.peakKiB / 1024).toFixed(0)} MiB, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
      if (!op.alive) throw new Error('operator died');
      return q.total === 0 && dlq.total === BAD;
    },
    { timeoutMs: 1_200_000, intervalMs: 2000 },
  );
  const drainMs = Date.now() - t0;
  const m = await metrics(op);
  progress(S, `drained in ${(drainMs / 1000).toFixed(0)} s; metrics ${JSON.stringify(m)}`);

  // The metrics tell the same story as the queues.
  const expectedCodes: Record<string, number> = {};
  for (let i = 0; i < BAD; i++) expectedCodes[KINDS[i % KINDS.length].code] = (expectedCodes[KINDS[i % KINDS.length].code] ?? 0) + MAX_RECEIVE_COUNT;
  const problems = [
    ...(Object.keys({ ...expectedCodes, ...m.codes }).every((c) => (m.codes[c] ?? 0) === (expectedCodes[c] ?? 0)) ? [] : [`malformed by code ${JSON.stringify(m.codes)}, expected ${JSON.stringify(expectedCodes)}`]),
    ...(m.malformed === MAX_RECEIVE_COUNT * BAD ? [] : [`malformed ${m.malformed}, expected ${MAX_RECEIVE_COUNT} x ${BAD}`]),
    ...(m.deleted === REAL ? [] : [`deleted ${m.deleted}, expected ${REAL}`]),
    ...(m.restarted === REAL ? [] : [`restarts_total{result="restarted"} ${m.restarted}, expected ${REAL}`]),
    ...(m.ignored === 0 ? [] : [`ignored ${m.ignored}, expected 0`]),
    ...(m.received === m.malformed + m.deleted + m.failed ? [] : [`received ${m.received} != malformed + deleted + failed`]),
    ...(rss.peakKiB < limitKiB ? [] : [`peak RSS ${rss.peakKiB} KiB reached the chart's memory limit ${limit}`]),
  ];

  const result = await ledger.check({
    alive: [op],
    deadLetters: BAD,
    problems,
    rss,
    secretValues: f.secretValues,
    notes: () =>
      `sent in ${(sentMs / 1000).toFixed(0)} s, drained in ${(drainMs / 1000).toFixed(0)} s; ${m.receiveCalls} receive calls; malformed ${m.malformed} = ${MAX_RECEIVE_COUNT} x ${BAD}; RSS limit ${limit}`,
  });
  expect(result.problems).toEqual([]);
  expect(m.codes).toEqual(expectedCodes);
  expect(m.malformed).toBe(MAX_RECEIVE_COUNT * BAD);
  expect(m.deleted).toBe(REAL);
  expect(m.restarted).toBe(REAL);
  expect(m.ignored).toBe(0);
  expect(m.received).toBe(m.malformed + m.deleted + m.failed);
  // Bounded memory: under the limit the chart gives the container.
  expect(rss.peakKiB).toBeLessThan(limitKiB);
});
