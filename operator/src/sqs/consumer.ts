/**
 * The SQS loop: long poll → hand the batch to the rotator → act on each message's
 * disposition. At-least-once: a message is deleted only when the rotator says its
 * work is done; otherwise it reappears after the visibility timeout. Malformed
 * messages are made visible again at once so the queue's redrive policy moves them
 * to the dead-letter queue after maxReceiveCount receives (no sqs:SendMessage needed).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { backoffMs } from '../kube/resilientWatch';
import { errorMessage, type Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Disposition, InboundMessage } from '../rotation/rotator';

export interface BatchHandler {
  handleBatch(messages: readonly InboundMessage[]): Promise<Map<string, Disposition>>;
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
}

export class ConsumerOptionError extends Error {}

/**
 * A long poll answers within WaitTimeSeconds; one that has not answered this much
 * later never will (an endpoint that accepts connections but does not respond:
 * frozen, partitioned). It is abandoned and counts as a failed receive, so the loop
 * logs it and backs off instead of waiting on the SDK's 15-minute socket timeout.
 */
export const RECEIVE_DEADLINE_MARGIN_SECONDS = 5;

export class SqsConsumer {
  private running = false;
  private loop?: Promise<void>;
  private abort?: AbortController;
  private failures = 0;
  private wake?: () => void;

  constructor(private readonly o: ConsumerOptions) {
    if (!o.queueUrl) throw new ConsumerOptionError('queueUrl is required');
    if (o.maxMessages < 1 || o.maxMessages > 10) throw new ConsumerOptionError('maxMessages must be 1..10');
    if (o.waitTimeSeconds < 0 || o.waitTimeSeconds > 20) throw new ConsumerOptionError('waitTimeSeconds must be 0..20');
  }

  get isRunning(): boolean {
    return this.running;
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

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    this.o.log.info('consuming SQS', { queueUrl: this.o.queueUrl });
  }

  /** Stops receiving, lets the in-flight batch finish, then resolves. */
  async stop(): Promise<void> {
    if (!this.running) return this.loop;
    this.running = false;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    this.o.log.info('stopped consuming SQS', { queueUrl: this.o.queueUrl });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let messages: Message[];
      try {
        messages = await this.receive();
        this.failures = 0;
      } catch (err) {
        if (!this.running) break;
        this.failures++;
        this.o.metrics.sqsErrors.inc({ operation: 'ReceiveMessage' });
        const delay = backoffMs(this.failures, 1000, 30_000);
        this.o.log.error('SQS receive failed; backing off', { queueUrl: this.o.queueUrl, error: errorMessage(err), retryInMs: delay });
        await this.pause(delay);
        continue;
      }
      if (messages.length === 0) continue;
      await this.process(messages);
    }
  }

  private async receive(): Promise<Message[]> {
    const abort = (this.abort = new AbortController());
    this.o.metrics.sqsReceiveCalls.inc();
    const deadlineSeconds = this.o.waitTimeSeconds + RECEIVE_DEADLINE_MARGIN_SECONDS;
    let expired = false;
    const deadline = setTimeout(() => {
      expired = true;
      abort.abort();
    }, deadlineSeconds * 1000);
    try {
      const out = await this.o.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.o.queueUrl,
          MaxNumberOfMessages: this.o.maxMessages,
          WaitTimeSeconds: this.o.waitTimeSeconds,
          VisibilityTimeout: this.o.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }),
        { abortSignal: abort.signal },
      );
      return out.Messages ?? [];
    } catch (err) {
      if (expired) throw new Error(`ReceiveMessage did not answer within ${deadlineSeconds} s`);
      throw err;
    } finally {
      clearTimeout(deadline);
    }
  }

  private async process(messages: Message[]): Promise<void> {
    const inbound = messages
      .filter((m) => m.MessageId && m.ReceiptHandle)
      .map((m) => ({ id: m.MessageId!, body: m.Body ?? '', receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1') }));
    let dispositions: Map<string, Disposition>;
    try {
      dispositions = await this.o.handler.handleBatch(inbound);
    } catch (err) {
      // A bug in handling must not lose messages: all of them come back after the visibility timeout.
      this.o.metrics.messagesFailed.inc(inbound.length);
      this.o.log.error('batch handling failed; messages left for redelivery', { error: errorMessage(err), messageIds: inbound.map((m) => m.id) });
      return;
    }
    const receipts = new Map(messages.map((m) => [m.MessageId!, m.ReceiptHandle!]));
    const pick = (d: Disposition) => inbound.filter((m) => (dispositions.get(m.id) ?? 'retry') === d).map((m) => ({ Id: m.id, ReceiptHandle: receipts.get(m.id)! }));
    const toDelete = pick('delete');
    const toDeadLetter = pick('dead-letter');
    const toRetry = pick('retry');
    if (toRetry.length > 0) {
      this.o.metrics.messagesFailed.inc(toRetry.length);
      this.o.log.warn('messages left for redelivery', { messageIds: toRetry.map((e) => e.Id), visibilityTimeoutSeconds: this.o.visibilityTimeoutSeconds });
    }
    if (toDelete.length > 0) await this.deleteBatch(toDelete);
    if (toDeadLetter.length > 0) await this.releaseBatch(toDeadLetter);
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
      this.o.log.warn('could not release malformed messages early; they return after the visibility timeout', { messageIds: entries.map((e) => e.Id), error: errorMessage(err) });
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
