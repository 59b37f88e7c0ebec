/**
 * The SQS loop: long poll → hand the batch to the rotator → act on each message's
 * disposition. At-least-once: a message is deleted only when the rotator says its
 * work is done; otherwise it reappears after the visibility timeout. Malformed
 * messages are made visible again at once so the queue's redrive policy moves them
 * to the dead-letter queue after maxReceiveCount receives (no sqs:SendMessage needed).
 * While a batch is being handled its messages are kept invisible (a heartbeat at half
 * the visibility timeout). The loop runs for one leadership term: when the term ends
 * the batch in hand is abandoned at once and its messages handed back to the queue.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { backoffMs } from '../core/backoff';
import type { Fence, Term } from '../leader/fence';
import { errorMessage, type Logger } from '../core/log';
import type { Metrics } from '../core/metrics';
import { untilSettledOrAborted } from '../core/abort';
import type { Disposition, InboundMessage } from './message';
import { SQS_LIMITS } from './limits';

export interface BatchHandler {
  handleBatch(messages: readonly InboundMessage[], signal?: AbortSignal): Promise<Map<string, Disposition>>;
}

export interface ConsumerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: BatchHandler;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly waitTimeSeconds: number;
  readonly maxMessages: number;
  readonly visibilityTimeoutSeconds: number;
  /**
   * Coalescing window (0: off). A message that ends a quiet spell is handled at once;
   * messages that arrive within this long of the last batch (a burst), or a full
   * receive (a backlog), are gathered until the queue has been quiet this long and
   * handed over as one batch.
   */
  readonly coalesceWindowMs?: number;
  /** The loop runs as work of the term it was started for (fence.ts). */
  readonly fence?: Fence;
  /** How long receives may fail in a row before health() reports it (default 60 s). */
  readonly unhealthyAfterMs?: number;
}

/** Most messages one coalesced batch takes; SQS batch calls take 10 entries each. */
export const MAX_BATCH = 100;
/** However busy the queue, a coalesced batch is handed over after this long. */
export const MAX_COALESCE_MS = 10_000;
const SQS_BATCH_ENTRIES = 10;

export class ConsumerOptionError extends Error {}

export class SqsConsumer {
  private running = false;
  private loop?: Promise<void>;
  private failures = 0;
  private failingSince?: number;
  private lastError = '';
  private wake?: () => void;
  /** When the last batch was handed over and handled (0: never). */
  private lastBatchAt = 0;
  /** When the batch in hand was handed to the handler (undefined: none). */
  private batchSince?: number;

  constructor(private readonly o: ConsumerOptions) {
    if (!o.queueUrl) throw new ConsumerOptionError('queueUrl is required');
    for (const name of ['maxMessages', 'waitTimeSeconds'] as const) {
      const { min, max } = SQS_LIMITS[name];
      if (o[name] < min || o[name] > max) throw new ConsumerOptionError(`${name} must be ${min}..${max}`);
    }
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** How long the batch in hand has been with the handler (ms), 0 when there is none. */
  busyForMs(now = Date.now()): number {
    return this.batchSince === undefined ? 0 : now - this.batchSince;
  }

  /** Unhealthy while receives have failed in a row for longer than unhealthyAfterMs. */
  health(now = Date.now()): { ok: boolean; reason?: string } {
    if (this.running && this.failingSince !== undefined && now - this.failingSince >= (this.o.unhealthyAfterMs ?? 60_000)) {
      return { ok: false, reason: `SQS receive failing for ${Math.round((now - this.failingSince) / 1000)} s: ${this.lastError}` };
    }
    return { ok: true };
  }

  /** Warns once when the queue has no redrive policy: malformed messages would then never leave it. */
  async checkQueue(): Promise<void> {
    try {
      const out = await this.o.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.o.queueUrl, AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'] }));
      if (!out.Attributes?.RedrivePolicy) {
        this.o.log.warn('queue has no redrive policy: malformed messages will be received again until retention expires', { queueUrl: this.o.queueUrl });
      }
    } catch (err) {
      this.o.metrics.sqsErrors.inc({ operation: 'GetQueueAttributes' });
      this.o.log.warn('could not read queue attributes', { queueUrl: this.o.queueUrl, error: errorMessage(err) });
    }
  }

  /** Starts the loop for `term` (without one: until stop()). */
  start(term?: Term): void {
    if (this.running) return;
    this.running = true;
    this.failingSince = undefined;
    this.loop = term && this.o.fence ? this.o.fence.run(term, () => this.run(term.signal)) : this.run(term?.signal);
    this.o.log.info('consuming SQS', { queueUrl: this.o.queueUrl });
  }

  /**
   * Stops receiving, lets the in-flight batch finish, then resolves. A long poll under
   * way is not aborted: SQS may already have handed it messages, which an aborted
   * request would leave invisible for the whole visibility timeout. It is waited for
   * (at most waitTimeSeconds), and whatever it returns is released at once.
   */
  async stop(): Promise<void> {
    if (!this.running) return this.loop;
    this.running = false;
    this.wake?.();
    await this.loop;
    this.o.log.info('stopped consuming SQS', { queueUrl: this.o.queueUrl });
  }

  private async run(signal?: AbortSignal): Promise<void> {
    while (this.running) {
      let messages: Message[];
      try {
        messages = await this.receive();
        this.failures = 0;
        this.failingSince = undefined;
      } catch (err) {
        if (!this.running) break;
        this.failures++;
        this.failingSince ??= Date.now();
        this.lastError = errorMessage(err);
        this.o.metrics.sqsErrors.inc({ operation: 'ReceiveMessage' });
        const delay = backoffMs(this.failures, 1000, 30_000);
        this.o.log.error('SQS receive failed; backing off', { queueUrl: this.o.queueUrl, error: errorMessage(err), retryInMs: delay });
        await this.pause(delay);
        continue;
      }
      if (messages.length === 0) continue;
      if (!this.running) {
        await this.release(messages);
        break;
      }
      await this.process(this.inBurst(messages) ? await this.coalesce(messages) : messages, signal);
      this.lastBatchAt = Date.now();
    }
  }

  /**
   * Leading edge: the first change after a quiet spell (the usual case: a rotation) is
   * handled at once, so it costs no waiting. Within the window after a batch, or when a
   * receive comes back full (a backlog), more are probably coming: coalesce.
   */
  private inBurst(received: readonly Message[]): boolean {
    const quietMs = this.o.coalesceWindowMs ?? 0;
    return quietMs > 0 && (received.length >= this.o.maxMessages || Date.now() - this.lastBatchAt < quietMs);
  }

  /**
   * A burst (ten versions in two seconds) should end in few restarts: keep receiving
   * while more keep coming (until the queue has been quiet for the coalescing window,
   * at most MAX_COALESCE_MS) and plan them together. The rotator settles each secret
   * once per batch, so the whole burst rolls to the newest version: a burst costs the
   * leading restart and one more.
   */
  private async coalesce(first: Message[]): Promise<Message[]> {
    const quietMs = this.o.coalesceWindowMs ?? 0;
    const batch = [...first];
    const deadline = Date.now() + MAX_COALESCE_MS;
    while (this.running && batch.length < MAX_BATCH && Date.now() < deadline) {
      try {
        const more = await this.receive(Math.ceil(quietMs / 1000), MAX_BATCH - batch.length);
        if (more.length === 0) break;
        batch.push(...more);
      } catch (err) {
        if (!this.running) break;
        this.o.metrics.sqsErrors.inc({ operation: 'ReceiveMessage' });
        this.o.log.warn('SQS receive failed while coalescing; handling what arrived', { queueUrl: this.o.queueUrl, error: errorMessage(err) });
        break;
      }
    }
    return batch;
  }

  private async receive(waitTimeSeconds = this.o.waitTimeSeconds, max = this.o.maxMessages): Promise<Message[]> {
    this.o.metrics.sqsReceiveCalls.inc();
    const out = await this.o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.o.queueUrl,
        MaxNumberOfMessages: Math.min(this.o.maxMessages, max),
        WaitTimeSeconds: waitTimeSeconds,
        VisibilityTimeout: this.o.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
    );
    this.o.metrics.sqsLastReceive.setToCurrentTime();
    return out.Messages ?? [];
  }

  private async process(received: Message[], signal?: AbortSignal): Promise<void> {
    // A coalesced batch can hold one message twice (received again after its visibility
    // ran out): keep the newest receipt, or the whole delete batch is refused.
    const messages = [...new Map(received.filter((m) => m.MessageId && m.ReceiptHandle).map((m) => [m.MessageId!, m])).values()];
    const inbound = messages.map((m) => ({
      id: m.MessageId!,
      body: m.Body ?? '',
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
      ...(m.Attributes?.SentTimestamp ? { sentAt: Number(m.Attributes.SentTimestamp) } : {}),
    }));
    const receipts = new Map(messages.map((m) => [m.MessageId!, m.ReceiptHandle!]));
    const entries = inbound.map((m) => ({ Id: m.id, ReceiptHandle: receipts.get(m.id)! }));
    let dispositions: Map<string, Disposition>;
    const timer = this.o.metrics.batchSeconds.startTimer();
    const heartbeat = this.keepInvisible(entries);
    this.batchSince = Date.now();
    try {
      const handling = this.o.handler.handleBatch(inbound, signal);
      dispositions = await (signal ? untilSettledOrAborted(handling, signal) : handling);
      timer();
    } catch (err) {
      timer();
      if (signal?.aborted) {
        // The term ended (stepped down, or the work stalled): the batch is abandoned and its
        // writes are refused by the fence; its messages go back for the next leader.
        this.o.log.warn('stopped leading: batch abandoned, messages handed back to the queue', { messageIds: inbound.map((m) => m.id) });
        for (const chunk of chunks(entries)) await this.releaseBatch(chunk);
        return;
      }
      // A bug in handling must not lose messages: all of them come back after the visibility timeout.
      this.o.metrics.messagesFailed.inc(inbound.length);
      this.o.log.error('batch handling failed; messages left for redelivery', { error: errorMessage(err), messageIds: inbound.map((m) => m.id) });
      return;
    } finally {
      this.batchSince = undefined;
      clearInterval(heartbeat);
    }
    const pick = (d: Disposition) => inbound.filter((m) => (dispositions.get(m.id) ?? 'retry') === d).map((m) => ({ Id: m.id, ReceiptHandle: receipts.get(m.id)! }));
    const toDelete = pick('delete');
    const toDeadLetter = pick('dead-letter');
    const toRetry = pick('retry');
    if (toRetry.length > 0) {
      this.o.metrics.messagesFailed.inc(toRetry.length);
      this.o.log.warn('messages left for redelivery', { messageIds: toRetry.map((e) => e.Id), visibilityTimeoutSeconds: this.o.visibilityTimeoutSeconds });
    }
    for (const chunk of chunks(toDelete)) await this.deleteBatch(chunk);
    for (const chunk of chunks(toDeadLetter)) await this.releaseBatch(chunk);
  }

  /** Extends the messages' visibility every half timeout while their batch is being handled. */
  private keepInvisible(entries: readonly { Id: string; ReceiptHandle: string }[]): NodeJS.Timeout {
    const t = setInterval(() => {
      for (const chunk of chunks(entries)) {
        this.o.sqs
          .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.o.queueUrl, Entries: chunk.map((e) => ({ ...e, VisibilityTimeout: this.o.visibilityTimeoutSeconds })) }))
          .catch((err: unknown) => {
            this.o.metrics.sqsErrors.inc({ operation: 'ChangeMessageVisibility' });
            this.o.log.warn('could not extend the visibility of messages being handled', { messageIds: chunk.map((e) => e.Id), error: errorMessage(err) });
          });
      }
    }, (this.o.visibilityTimeoutSeconds * 1000) / 2);
    t.unref();
    return t;
  }

  /** Hands messages back to the queue at once (received while stopping). */
  private async release(messages: Message[]): Promise<void> {
    const entries = messages.filter((m) => m.MessageId && m.ReceiptHandle).map((m) => ({ Id: m.MessageId!, ReceiptHandle: m.ReceiptHandle! }));
    for (const chunk of chunks(entries)) await this.releaseBatch(chunk);
    this.o.log.info('stopping: released messages received during shutdown', { messageIds: entries.map((e) => e.Id) });
  }

  private async deleteBatch(entries: { Id: string; ReceiptHandle: string }[]): Promise<void> {
    try {
      const out = await this.o.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: entries }));
      this.o.metrics.messagesDeleted.inc(out.Successful?.length ?? 0);
      for (const f of out.Failed ?? []) {
        this.o.metrics.sqsErrors.inc({ operation: 'DeleteMessage' });
        this.o.log.warn('delete failed; message will be redelivered and deduplicated', { messageId: f.Id, error: f.Message });
      }
    } catch (err) {
      this.o.metrics.sqsErrors.inc({ operation: 'DeleteMessage' });
      this.o.log.error('delete failed; messages will be redelivered and deduplicated', { messageIds: entries.map((e) => e.Id), error: errorMessage(err) });
    }
  }

  private async releaseBatch(entries: { Id: string; ReceiptHandle: string }[]): Promise<void> {
    try {
      await this.o.sqs.send(
        new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.o.queueUrl, Entries: entries.map((e) => ({ ...e, VisibilityTimeout: 0 })) }),
      );
    } catch (err) {
      this.o.metrics.sqsErrors.inc({ operation: 'ChangeMessageVisibility' });
      this.o.log.warn('could not release messages early; they return after the visibility timeout', { messageIds: entries.map((e) => e.Id), error: errorMessage(err) });
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

function chunks<T>(items: readonly T[], size = SQS_BATCH_ENTRIES): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
