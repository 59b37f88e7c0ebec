/**
 * Scenario 12: one crafted message in a full batch. Nine good events (nine secrets,
 * one Deployment each) and one CloudTrail 'AWS API Call via CloudTrail' record whose
 * detail.errorCode is an object with a non-function toString, sent with one
 * SendMessageBatch while no operator consumes, so that they arrive in one receive.
 * The nine must restart their workloads and be deleted. The crafted one is what it
 * says, a failed API call: it is interpreted on its own (no exception), acknowledged
 * and counted as not a change (CallFailed), and nothing ends in the dead-letter queue.
 * On the operator before the fix it threw inside interpretation and failed the whole
 * batch: all ten were dead-lettered after maxReceiveCount receives.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { apiCallDetail, eventBody, labelUpdatedBody } from '../support/scenario';
import { waitFor } from '../support/wait';

const S = '12 crafted message in a full batch';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('a body whose errorCode has a non-function toString is handled alone (acknowledged as a failed call); its nine neighbours restart', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('crafted');
  const r = await f.install('crafted');
  const { secrets, mappings } = await f.groups(ledger, ns, 'crafted', 9, 9);
  // The first operator records the mappings' baselines, then stops (a short long poll: it stops at once); the batch waits for the second.
  const first = await f.start(r, { SQS_WAIT_TIME_SECONDS: '1' });
  rss.track(first);
  await f.waitMappingsReady(ns, mappings);
  await first.stop();

  const good = [];
  for (const s of secrets) good.push(labelUpdatedBody(f.ctx, await f.putValue(s)));
  const crafted = eventBody(f.ctx, {
    detailType: 'AWS API Call via CloudTrail',
    detail: { ...apiCallDetail(f.ctx, 'PutSecretValue', { secretId: secrets[0].arn }, null), errorCode: { toString: 1 } },
  });
  const entries = [...good.slice(0, 4), crafted, ...good.slice(4)].map((m, i) => ({ Id: `m${i}`, MessageBody: m.body }));
  const out = await f.ctx.aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: f.ctx.env.SQS_QUEUE_URL, Entries: entries }));
  if (out.Failed?.length) throw new Error(`SendMessageBatch failed: ${JSON.stringify(out.Failed)}`);
  ledger.sent(entries.length);
  progress(S, '9 good events + 1 crafted body in the queue; starting the operator');

  const op = await f.start(r);
  rss.track(op);
  const dlq = f.ctx.env.SQS_DEAD_LETTER_QUEUE_URL;
  const problems: string[] = [];
  const acknowledged = () => op.logs.find((l) => l.message === 'event does not change a secret; acknowledged' && l.eventId === crafted.id);
  try {
    await waitFor('the crafted message acknowledged as a failed call', () => acknowledged(), { timeoutMs: 90_000, intervalMs: 200 });
    await waitFor('the queue to drain', async () => (await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL)).total === 0, { timeoutMs: 90_000, intervalMs: 1000 });
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (acknowledged() && acknowledged()!.reason !== 'CallFailed') problems.push(`the crafted message was acknowledged with reason ${String(acknowledged()!.reason)}, expected CallFailed`);
  const callFailed = await op.metric(`${METRIC_PREFIX}messages_ignored_total`, { reason: 'CallFailed' });
  if (callFailed !== 1) problems.push(`messages_ignored_total{reason="CallFailed"} is ${callFailed}, expected 1`);
  const bodies = await f.ctx.aws.peekBodies(dlq, 10);
  const goodIds = new Set(good.map((g) => g.id));
  const deadGood = bodies.filter((b) => goodIds.has((JSON.parse(b) as { id?: string }).id ?? ''));
  if (deadGood.length > 0) problems.push(`${deadGood.length} good message(s) in the dead-letter queue`);
  const batchFailures = op.logs.filter((l) => l.message.startsWith('batch handling failed')).length;
  if (batchFailures > 0) problems.push(`'batch handling failed' logged ${batchFailures} time(s): the crafted body failed its whole batch`);

  const result = await ledger.check({
    alive: [op],
    deadLetters: 0,
    rss,
    secretValues: f.secretValues,
    problems,
    timeoutMs: 60_000,
    notes: () => `crafted one acknowledged as ${String(acknowledged()?.reason ?? 'nothing')}; dead-letter queue: ${bodies.length} message(s) (${deadGood.length} good); ${batchFailures} whole-batch failure(s)`,
  });
  expect(result.problems).toEqual([]);
});
