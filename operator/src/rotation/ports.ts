/** What the queue (sqs/) hands the rotation, and what the rotation tells it to do with each message. */

export interface InboundMessage {
  readonly id: string;
  readonly body: string;
  readonly receiveCount?: number;
  /** When the message entered the queue (SQS SentTimestamp, ms since the epoch). */
  readonly sentAt?: number;
}

export type Disposition = 'delete' | 'retry' | 'dead-letter';
