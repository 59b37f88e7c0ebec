import type { SQSClient } from '@aws-sdk/client-sqs';
import { createLogger } from '../../../src/log';
import { createMetrics } from '../../../src/metrics';
import type { Disposition, InboundMessage } from '../../../src/rotation/rotator';
import { ConsumerOptionError, SqsConsumer } from '../../../src/sqs/consumer';

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
        // Long poll: wait for a message, the end of WaitTimeSeconds (an empty answer, as SQS does) or the abort.
        await new Promise<void>((resolve, reject) => {
          this.waiters.push(resolve);
          setTimeout(resolve, Number(cmd.input.WaitTimeSeconds ?? 0) * 1000);
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

function setup(decide: (m: InboundMessage) => Disposition | Promise<Disposition>) {
  const sqs = new FakeSqs();
  const handled: string[] = [];
  const consumer = new SqsConsumer({
    sqs: sqs as unknown as SQSClient,
    queueUrl: 'http://localhost/123456789012/q',
    handler: {
      handleBatch: async (ms) => {
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
    waitTimeSeconds: 20,
    maxMessages: 10,
    visibilityTimeoutSeconds: 60,
  });
  return { sqs, consumer, handled };
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
    expect(sqs.named('ReceiveMessageCommand')[0].input).toMatchObject({ WaitTimeSeconds: 20, MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
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
      await jest.advanceTimersByTimeAsync(10);
      await stopping;
      expect(sqs.named('DeleteMessageBatchCommand')).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('stop() ends the long poll at once but lets the in-flight batch finish first', async () => {
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
    expect(sqs.named('ReceiveMessageCommand')).toHaveLength(1);
  });

  it('abandons a receive the endpoint never answers (frozen endpoint) and backs off', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const { sqs, consumer } = setup(() => 'delete');
      // An endpoint that accepts the request and never responds: only an abort ends it.
      sqs.send = async (cmd: Cmd, opts?: { abortSignal?: AbortSignal }) => {
        sqs.calls.push({ name: cmd.constructor.name, input: cmd.input });
        return new Promise((_, reject) => opts?.abortSignal?.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }))));
      };
      const metrics = (consumer as unknown as { o: { metrics: ReturnType<typeof createMetrics> } }).o.metrics;
      consumer.start();
      // 20 s long poll + 5 s margin: abandoned at 25 s, retried 1 s later, abandoned again at 51 s.
      await jest.advanceTimersByTimeAsync(24_000);
      expect(sqs.named('ReceiveMessageCommand')).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(2_000);
      expect(sqs.named('ReceiveMessageCommand')).toHaveLength(2);
      expect((await metrics.sqsErrors.get()).values).toEqual([expect.objectContaining({ labels: { operation: 'ReceiveMessage' }, value: 1 })]);
      const stopping = consumer.stop();
      await jest.advanceTimersByTimeAsync(10);
      await stopping;
    } finally {
      jest.useRealTimers();
    }
  });
});
