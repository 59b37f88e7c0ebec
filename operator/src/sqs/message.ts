/** A message as the queue hands it on, and what becomes of it. Only sqs/ speaks of these. */

export interface InboundMessage {
  readonly id: string;
  readonly body: string;
  readonly receiveCount?: number;
  /** When the message entered the queue (SQS SentTimestamp, ms since the epoch). */
  readonly sentAt?: number;
}

/** Deleted; left to come back after the visibility timeout; made visible at once, so the redrive policy dead-letters it. */
export type Disposition = 'delete' | 'retry' | 'dead-letter';
