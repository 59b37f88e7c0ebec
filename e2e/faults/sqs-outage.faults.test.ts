/**
 * Scenario 3: the SQS endpoint (moto, frozen with SIGSTOP so it keeps its queues and
 * secrets) does not answer for 30 s. The operator must log its failures, back off
 * (a small, bounded number of ReceiveMessage calls, no busy loop), stay alive, and
 * recover fully: two secrets rotated after the outage roll like the one before it.
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { pauseComponent, resumeComponent, waitForComponent } from '../../scripts/stack';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { waitFor } from '../support/wait';

const S = '3 SQS endpoint down 30 s';
const OUTAGE_MS = 30_000;
/** ReceiveMessage calls allowed during the outage: backoff from 1 s doubling gives ~5 in 30 s; a busy loop gives thousands. */
const MAX_RECEIVES_DURING_OUTAGE = 10;
const RECEIVES = `${METRIC_PREFIX}sqs_receive_calls_total`;
jest.setTimeout(600_000);

// Never leave moto frozen for the next file.
const f = FaultFile.forThisFile(S, () => {
  try {
    resumeComponent('moto');
  } catch {
    /* it was not paused */
  }
});

test('an SQS outage: logged errors with backoff, no busy loop, no crash, full recovery', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('sqsdown');
  const r = await f.install('sqsdown');
  const { secrets, names, mappings } = await f.groups(ledger, ns, 'sqsdown', 3, 6);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, mappings);

  // One change handled before the outage, so the operator sits in a long poll when the endpoint goes away.
  const v1 = await f.rotate(secrets[0]);
  ledger.sent();
  await waitFor(
    'the first change handled and deleted',
    async () =>
      (await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL)).total === 0 &&
      (await Promise.all(names.filter((_, j) => j % 3 === 0).map((n) => f.ctx.kube.appliedVersions('Deployment', ns, n)))).every((v) => Object.values(v).includes(v1.version)),
    { timeoutMs: 60_000 },
  );
  const receivesBefore = await op.metric(RECEIVES);
  const errorsBefore = op.logs.length;
  progress(S, `freezing moto (SIGSTOP) for ${OUTAGE_MS / 1000} s`);
  pauseComponent('moto');
  const pausedAt = Date.now();
  let diedAt: number | undefined;
  // The fault window is timed on purpose; inside it we only watch the process.
  while (Date.now() - pausedAt < OUTAGE_MS) {
    if (!op.alive && diedAt === undefined) diedAt = Date.now() - pausedAt;
    await new Promise((res) => setTimeout(res, 500));
  }
  const receivesDuring = (await op.metric(RECEIVES)) - receivesBefore;
  const failures = op.logs.slice(errorsBefore).filter((l) => l.message.startsWith('SQS receive failed'));
  resumeComponent('moto');
  await waitForComponent('moto');
  const resumedAt = Date.now();
  progress(S, `moto resumed; during the outage: ${receivesDuring} ReceiveMessage call(s), ${failures.length} logged receive failure(s) (retry in ${failures.map((l) => l.retryInMs).join(', ')} ms)`);

  // Backoff: the announced delays grow.
  const delays = failures.map((l) => Number(l.retryInMs));
  const problems = [
    ...(diedAt === undefined ? [] : [`the operator exited ${diedAt} ms into the outage`]),
    ...(receivesDuring <= MAX_RECEIVES_DURING_OUTAGE ? [] : [`${receivesDuring} ReceiveMessage calls during the outage (bound ${MAX_RECEIVES_DURING_OUTAGE}): a busy loop`]),
    ...(failures.length >= 1 ? [] : ['no receive failure logged during the outage']),
    ...(delays.every((d, i) => i === 0 || d >= delays[i - 1]) ? [] : [`backoff does not grow: ${delays.join(', ')} ms`]),
  ];

  // Two more changes after the outage.
  for (const s of secrets.slice(1)) {
    await f.rotate(s);
    ledger.sent();
  }
  await waitFor('a receive after the outage', async () => (await op.metric(RECEIVES)) > receivesBefore + receivesDuring, { timeoutMs: 60_000 });
  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () =>
      `${receivesDuring} ReceiveMessage calls and ${failures.length} logged failures in ${OUTAGE_MS / 1000} s (backoff ${delays.join('/')} ms); ledger settled ${((Date.now() - resumedAt) / 1000).toFixed(0)} s after resume`,
  });
  expect(result.problems).toEqual([]);
});
