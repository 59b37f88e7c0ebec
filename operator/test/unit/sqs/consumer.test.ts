import type { SQSClient } from '@aws-sdk/client-sqs';
import { createLogger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';
import type { Disposition, InboundMessage } from '../../../src/sqs/message';
import { Fence, type Term } from '../../../src/leader/fence';
import { ConsumerOptionError, SqsConsumer, type ConsumerOptions } from '../../../src/sqs/consumer';

type Cmd = { constructor: { name: string }; input: Record<string, unknown> };

/** An in-memory SQS good enough to drive the loop: the real queue is exercised in e2e. */
class FakeSqs {
  readonly calls: { name: string; input: Record<string, unknown> }[] = [];
  queue: { MessageId: string; ReceiptHandle: string; Body: string }[] = [];
  receiveFailures = 0;
  private waiters: (() => void)[] = [];

  send = async (cmd: Cmd, opts?: { abortSignal?: AbortSignal }) => {
    const name = cmd.constructor.name;
    this.calls.push({ name, input: cmd.input });
    if (name === 'ReceiveMessageCommand') {
      if (this.receiveFailures > 0) {
        this.receiveFailures--;
        throw new Error('connect ECONNREFUSED');
      }
      if (this.queue.length === 0) {
        // Long poll: wait for a message, the wait time, or the abort.
        await new Promise<void>((resolve, reject) => {
          this.waiters.push(resolve);
          setTimeout(resolve, Number(cmd.input.WaitTimeSeconds) * 1000).unref();
          opts?.abortSignal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
        });
      }
      const batch = this.queue.splice(0, Number(cmd.input.MaxNumberOfMessages));
      return { Messages: batch.map((m) => ({ ...m, Attributes: { ApproximateReceiveCount: '1' } })) };
    }
    if (name === 'DeleteMessageBatchCommand') return { Successful: (cmd.input.Entries as { Id: string }[]).map((e) => ({ Id: e.Id })) };
    return {};
  };

  push(...ids: string[]) {
    for (const id of ids) this.queue.push({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: `body-${id}` });
    this.waiters.splice(0).forEach((w) => w());
  }

  /** The same message received again (its visibility ran out): a new receipt handle. */
  pushAgain(id: string, receipt: string) {
    this.queue.push({ MessageId: id, ReceiptHandle: receipt, Body: `body-${id}` });
    this.waiters.splice(0).forEach((w) => w());
  }

  named(name: string) {
    return this.calls.filter((c) => c.name === name);
  }
}

async function until(cond: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(decide: (m: InboundMessage) => Disposition | Promise<Disposition>, coalesceWindowMs = 0, extra: Partial<ConsumerOptions> = {}) {
  const sqs = new FakeSqs();
  const handled: string[] = [];
  const batches: string[][] = [];
  const consumer = new SqsConsumer({
    sqs: sqs as unknown as SQSClient,
    queueUrl: 'http://localhost/123456789012/q',
    handler: {
      handleBatch: async (ms) => {
        batches.push(ms.map((m) => m.id));
        const out = new Map<string, Disposition>();
        for (const m of ms) {
          handled.push(m.id);
          out.set(m.id, await decide(m));
        }
        return out;
      },
    },
    metrics: createMetrics(false),
    log: createLogger('silent'),
    waitTimeSeconds: 1, // stop() waits for a pending long poll: keep it short here
    maxMessages: 10,
    visibilityTimeoutSeconds: 60,
    coalesceWindowMs,
    ...extra,
  });
  return { sqs, consumer, handled, batches };
}

describe('SqsConsumer', () => {
  it('refuses bad options with a message naming them', () => {
    const base = { sqs: {} as SQSClient, queueUrl: 'q', handler: { handleBatch: async () => new Map() }, metrics: createMetrics(false), log: createLogger('silent'), waitTimeSeconds: 20, maxMessages: 10, visibilityTimeoutSeconds: 60 };
    expect(() => new SqsConsumer({ ...base, maxMessages: 11 })).toThrow(new ConsumerOptionError('maxMessages must be 1..10'));
    expect(() => new SqsConsumer({ ...base, waitTimeSeconds: 21 })).toThrow(/waitTimeSeconds/);
    expect(() => new SqsConsumer({ ...base, queueUrl: '' })).toThrow(/queueUrl/);
  });

  it('long polls for up to 10 messages and acts on each disposition', async () => {
    const { sqs, consumer } = setup((m) => (m.id === 'bad' ? 'dead-letter' : m.id === 'fail' ? 'retry' : 'delete'));
    consumer.start();
    sqs.push('ok1', 'bad', 'fail', 'ok2');
    await until(() => sqs.named('DeleteMessageBatchCommand').length === 1 && sqs.named('ChangeMessageVisibilityBatchCommand').length === 1, 'delete and release');
    await consumer.stop();
    expect(sqs.named('ReceiveMessageCommand')[0].input).toMatchObject({ WaitTimeSeconds: 1, MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
    expect(sqs.named('DeleteMessageBatchCommand')[0].input.Entries).toEqual([
      { Id: 'ok1', ReceiptHandle: 'rh-ok1' },
      { Id: 'ok2', ReceiptHandle: 'rh-ok2' },
    ]);
    expect(sqs.named('ChangeMessageVisibilityBatchCommand')[0].input.Entries).toEqual([{ Id: 'bad', ReceiptHandle: 'rh-bad', VisibilityTimeout: 0 }]);
  });

  it('a handler that throws deletes nothing and keeps consuming', async () => {
    let first = true;
    const { sqs, consumer, handled } = setup(() => {
      if (first) {
        first = false;
        throw new Error('bug');
      }
      return 'delete';
    });
    consumer.start();
    sqs.push('a');
    await until(() => handled.length === 1, 'first batch');
    sqs.push('b');
    await until(() => sqs.named('DeleteMessageBatchCommand').length === 1, 'second batch deleted');
    await consumer.stop();
    expect(sqs.named('DeleteMessageBatchCommand')[0].input.Entries).toEqual([{ Id: 'b', ReceiptHandle: 'rh-b' }]);
  });

  it('backs off on receive errors instead of spinning', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const { sqs, consumer } = setup(() => 'delete');
      sqs.receiveFailures = 1000;
      consumer.start();
      await jest.advanceTimersByTimeAsync(30_000);
      const calls = sqs.named('ReceiveMessageCommand').length;
      // 1 s, 2 s, 4 s, 8 s, 16 s: six attempts in 30 s, not thousands.
      expect(calls).toBeGreaterThanOrEqual(4);
      expect(calls).toBeLessThanOrEqual(7);
      sqs.receiveFailures = 0;
      await jest.advanceTimersByTimeAsync(30_000);
      sqs.push('x');
      await jest.advanceTimersByTimeAsync(10);
      const stopping = consumer.stop();
      // stop() waits for the pending long poll (1 s here) to return.
      await jest.advanceTimersByTimeAsync(1_500);
      await stopping;
      expect(sqs.named('DeleteMessageBatchCommand')).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('stop() lets the in-flight batch finish first', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { sqs, consumer, handled } = setup(async (): Promise<Disposition> => {
      await gate;
      return 'delete';
    });
    consumer.start();
    sqs.push('inflight');
    await until(() => handled.length === 1, 'batch in flight');
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(sqs.named('DeleteMessageBatchCommand')[0].input.Entries).toEqual([{ Id: 'inflight', ReceiptHandle: 'rh-inflight' }]);
  });

  it('stop() waits for a long poll instead of aborting it, and releases what it returns unhandled', async () => {
    const { sqs, consumer, handled } = setup(() => 'delete');
    consumer.start();
    await until(() => sqs.named('ReceiveMessageCommand').length === 1, 'long poll under way');
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    // SQS hands the pending long poll a message while the consumer is stopping.
    sqs.push('late');
    await stopping;
    expect(handled).toEqual([]);
    expect(sqs.named('ChangeMessageVisibilityBatchCommand')[0].input.Entries).toEqual([{ Id: 'late', ReceiptHandle: 'rh-late', VisibilityTimeout: 0 }]);
    expect(sqs.named('ReceiveMessageCommand')).toHaveLength(1);
  });

  it('coalesces messages that arrive within the window into one batch, deleting in chunks of 10', async () => {
    const { sqs, consumer, batches } = setup(() => 'delete', 1500);
    consumer.start();
    sqs.push(...Array.from({ length: 12 }, (_, i) => `a${i}`));
    await until(() => sqs.named('ReceiveMessageCommand').length >= 2, 'second receive in the window');
    sqs.push('late');
    await until(() => batches.length === 1, 'one batch', 5000);
    await consumer.stop();
    expect(batches[0]).toEqual([...Array.from({ length: 12 }, (_, i) => `a${i}`), 'late']);
    expect(sqs.named('DeleteMessageBatchCommand').map((c) => (c.input.Entries as unknown[]).length)).toEqual([10, 3]);
  });

  it('leading edge: a message after a quiet spell is handled at once, without waiting for the window', async () => {
    const { sqs, consumer, batches } = setup(() => 'delete', 10_000);
    consumer.start();
    sqs.push('lone');
    await until(() => batches.length === 1, 'the lone message handled', 1000);
    expect(sqs.named('ReceiveMessageCommand').filter((c) => c.input.WaitTimeSeconds === 10)).toHaveLength(0);
    await consumer.stop();
    expect(batches).toEqual([['lone']]);
  });

  it('messages arriving within the window after a batch are coalesced: a burst costs two batches', async () => {
    const { sqs, consumer, batches } = setup(() => 'delete', 1000);
    consumer.start();
    sqs.push('first');
    await until(() => batches.length === 1, 'the leading batch');
    sqs.push('b1', 'b2');
    await until(() => sqs.named('ReceiveMessageCommand').some((c) => c.input.WaitTimeSeconds === 1), 'a coalescing receive');
    sqs.push('b3');
    await until(() => batches.length === 2, 'the coalesced batch', 5000);
    await consumer.stop();
    expect(batches).toEqual([['first'], ['b1', 'b2', 'b3']]);
  });

  it('without a window each receive is its own batch', async () => {
    const { sqs, consumer, batches } = setup(() => 'delete');
    consumer.start();
    sqs.push('a');
    await until(() => batches.length === 1, 'first batch');
    sqs.push('b');
    await until(() => batches.length === 2, 'second batch');
    await consumer.stop();
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('a message received twice in one coalesced batch is handled once and deleted with its newest receipt', async () => {
    const { sqs, consumer, batches } = setup(() => 'delete', 1500);
    consumer.start();
    sqs.push(...Array.from({ length: 10 }, (_, i) => `a${i}`));
    await until(() => sqs.named('ReceiveMessageCommand').length >= 2, 'a coalescing receive');
    sqs.pushAgain('a3', 'rh-a3-again');
    await until(() => batches.length === 1, 'one batch', 5000);
    await consumer.stop();
    expect(batches[0].filter((id) => id === 'a3')).toHaveLength(1);
    const deleted = sqs.named('DeleteMessageBatchCommand').flatMap((c) => c.input.Entries as { Id: string; ReceiptHandle: string }[]);
    expect(deleted).toHaveLength(10);
    expect(new Set(deleted.map((e) => e.Id)).size).toBe(10);
    expect(deleted.find((e) => e.Id === 'a3')!.ReceiptHandle).toBe('rh-a3-again');
  });

  it('keeps a long batch invisible: its visibility is extended every half timeout while it is handled', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { sqs, consumer } = setup(
      async (): Promise<Disposition> => {
        await gate;
        return 'delete';
      },
      0,
      { visibilityTimeoutSeconds: 1 },
    );
    consumer.start();
    sqs.push('slow');
    await until(() => sqs.named('ChangeMessageVisibilityBatchCommand').length >= 2, 'two heartbeats', 3000);
    expect(sqs.named('ChangeMessageVisibilityBatchCommand')[0].input.Entries).toEqual([{ Id: 'slow', ReceiptHandle: 'rh-slow', VisibilityTimeout: 1 }]);
    release();
    await until(() => sqs.named('DeleteMessageBatchCommand').length === 1, 'deleted');
    const beats = sqs.named('ChangeMessageVisibilityBatchCommand').length;
    await consumer.stop();
    // No heartbeat after the batch ended.
    expect(sqs.named('ChangeMessageVisibilityBatchCommand')).toHaveLength(beats);
  });

  it('when its term ends mid-batch, the batch is abandoned at once and its messages handed back', async () => {
    const controller = new AbortController();
    const term: Term = { id: 1, signal: controller.signal };
    const fence = new Fence({ currentTerm: () => (controller.signal.aborted ? undefined : term), leaseValid: () => true });
    let sawTerm: number | undefined;
    const { sqs, consumer, handled } = setup(
      () => {
        sawTerm = fence.term?.id;
        return new Promise<Disposition>(() => undefined); // hangs for ever
      },
      0,
      { fence },
    );
    consumer.start(term);
    sqs.push('stuck');
    await until(() => handled.length === 1, 'batch in hand');
    expect(sawTerm).toBe(1);
    controller.abort(new Error('stopped leading'));
    await until(() => sqs.named('ChangeMessageVisibilityBatchCommand').length === 1, 'messages handed back');
    expect(sqs.named('ChangeMessageVisibilityBatchCommand')[0].input.Entries).toEqual([{ Id: 'stuck', ReceiptHandle: 'rh-stuck', VisibilityTimeout: 0 }]);
    expect(consumer.busyForMs()).toBe(0);
    await consumer.stop();
    expect(sqs.named('DeleteMessageBatchCommand')).toEqual([]);
  });

  it('records when SQS last answered a receive; a failed receive leaves that time alone', async () => {
    const metrics = createMetrics(false);
    const lastReceive = async () => (await metrics.sqsLastReceive.get()).values[0]?.value;
    const { sqs, consumer } = setup(() => 'delete', 0, { metrics });
    sqs.receiveFailures = 1;
    consumer.start();
    await until(() => sqs.named('ReceiveMessageCommand').length === 1, 'a failed receive');
    expect(await lastReceive()).toBe(0);
    const before = Date.now() / 1000;
    sqs.push('a');
    await until(() => sqs.named('DeleteMessageBatchCommand').length === 1, 'an answered receive', 3000);
    await consumer.stop();
    expect(await lastReceive()).toBeGreaterThanOrEqual(Math.floor(before));
    expect(await lastReceive()).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('health() reports receives that keep failing, and recovers with the next success', async () => {
    const { sqs, consumer } = setup(() => 'delete', 0, { unhealthyAfterMs: 50 });
    sqs.receiveFailures = 1;
    expect(consumer.health().ok).toBe(true);
    consumer.start();
    await until(() => sqs.named('ReceiveMessageCommand').length === 1, 'a failed receive');
    await until(() => !consumer.health().ok, 'unhealthy after 50 ms of failures');
    expect(consumer.health().reason).toMatch(/^SQS receive failing for \d+ s: connect ECONNREFUSED$/);
    await until(() => sqs.named('ReceiveMessageCommand').length === 2, 'the retry', 3000);
    await until(() => consumer.health().ok, 'healthy again');
    await consumer.stop();
  });
});
