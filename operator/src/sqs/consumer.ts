/**
 * The SQS loop: long poll → hand the batch to the rotator → act on each message's
 * disposition. At-least-once: a message is deleted only when the rotator says its
 * work is done; otherwise it reappears after the visibility timeout. Malformed
 * messages are made visible again at once so the queue's redrive policy moves them
 * to the dead-letter queue after maxReceiveCount receives (no sqs:SendMessage needed).
 * While a batch is being handled, or gathered and waiting for the one in hand, its
 * messages are kept invisible (a heartbeat at half the visibility timeout). The loop
 * runs for one leadership term: when the term ends the batch in hand is abandoned at
 * once and its messages handed back to the queue, as is a batch waiting behind it.
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
   * messages that arrive while a batch is handled or within this long of the last one
   * (a burst), or a full receive (a backlog), are gathered until the queue has been
   * quiet this long (no message sent to it since: SentTimestamp) and handed over as one
   * batch.
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
  /** A batch is with the handler now. */
  private handling = false;
  /** Handled batches' delete and release calls still in flight. */
  private readonly acting = new Set<Promise<void>>();

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

  /**
   * Receive, coalesce, hand over; the next batch is gathered while the one before is
   * being handled (one in hand, at most one waiting), so a burst's receives, its
   * coalescing window and its deletes overlap the rotation instead of following it.
   * Batches are still handled one after the other, in the order they were gathered.
   */
  private async run(signal?: AbortSignal): Promise<void> {
    let inHand: Promise<void> = Promise.resolve();
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
      const gathered = this.inBurst(messages) ? await this.coalesce(messages) : messages;
      // Kept invisible from now on: it may wait for the batch in hand.
      const waiting = this.unique(gathered);
      const heartbeat = this.keepInvisible(waiting.map((m) => ({ Id: m.MessageId!, ReceiptHandle: m.ReceiptHandle! })));
      await inHand;
      if (!this.running || signal?.aborted) {
        clearInterval(heartbeat);
        await this.release(waiting);
        break;
      }
      this.handling = true;
      inHand = this.process(waiting, heartbeat, signal).finally(() => {
        this.handling = false;
        this.lastBatchAt = Date.now();
      });
    }
    await inHand;
    await Promise.all([...this.acting]);
  }

  /**
   * Leading edge: the first change after a quiet spell (the usual case: a rotation) is
   * handled at once, so it costs no waiting. Within the window after a batch, or when a
   * receive comes back full (a backlog), more are probably coming: coalesce.
   */
  private inBurst(received: readonly Message[]): boolean {
    const quietMs = this.o.coalesceWindowMs ?? 0;
    return quietMs > 0 && (received.length >= this.o.maxMessages || this.handling || Date.now() - this.lastBatchAt < quietMs);
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
    // When the newest message gathered reached the queue (its SentTimestamp; else when it
    // was received): the queue has been quiet since. A backlog received long after its
    // burst ended (behind a batch in hand) is taken as it is, with no window to wait out.
    let lastArrival = arrivedAt(first, Date.now());
    while (this.running && batch.length < MAX_BATCH && Date.now() < deadline) {
      try {
        const quietFor = Date.now() - lastArrival;
        const more = await this.receive(quietFor >= quietMs ? 0 : Math.ceil((quietMs - quietFor) / 1000), MAX_BATCH - batch.length);
        if (more.length === 0) break;
        batch.push(...more);
        lastArrival = Math.max(lastArrival, arrivedAt(more, Date.now()));
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

  /**
   * A coalesced batch can hold one message twice (received again after its visibility
   * ran out): the newest receipt is kept, or the whole delete batch is refused.
   */
  private unique(received: readonly Message[]): Message[] {
    return [...new Map(received.filter((m) => m.MessageId && m.ReceiptHandle).map((m) => [m.MessageId!, m])).values()];
  }

  /** Hands the batch to the handler (its messages kept invisible by `heartbeat`, stopped here), then acts on each disposition. */
  private async process(messages: Message[], heartbeat: NodeJS.Timeout, signal?: AbortSignal): Promise<void> {
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
        await Promise.all(chunks(entries).map((chunk) => this.releaseBatch(chunk)));
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
    // Each call takes ten entries; the calls go at once (SQS serves them in parallel),
    // while the next batch is handed over: the loop waits for them only when it ends.
    const acting = Promise.all([...chunks(toDelete).map((chunk) => this.deleteBatch(chunk)), ...chunks(toDeadLetter).map((chunk) => this.releaseBatch(chunk))]).then(() => undefined);
    this.acting.add(acting);
    void acting.finally(() => this.acting.delete(acting));
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
    await Promise.all(chunks(entries).map((chunk) => this.releaseBatch(chunk)));
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

/** When the newest of `messages` reached the queue (SentTimestamp, ms since the epoch); `receivedAt` when none says. */
function arrivedAt(messages: readonly Message[], receivedAt: number): number {
  const sent = messages.map((m) => Number(m.Attributes?.SentTimestamp)).filter(Number.isFinite);
  return sent.length === messages.length && sent.length > 0 ? Math.max(...sent) : receivedAt;
}

function chunks<T>(items: readonly T[], size = SQS_BATCH_ENTRIES): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
