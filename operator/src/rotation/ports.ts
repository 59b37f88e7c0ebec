/**
 * What the rotation asks of the world around it, and what it hands back. The SQS
 * consumer, the status writer and the Event recorder implement or use these; none of
 * them needs the rotator itself.
 */
import type { Mapping, RotationRecord } from '../mappings/model';

export interface InboundMessage {
  readonly id: string;
  readonly body: string;
  readonly receiveCount?: number;
  /** When the message entered the queue (SQS SentTimestamp, ms since the epoch). */
  readonly sentAt?: number;
}

export type Disposition = 'delete' | 'retry' | 'dead-letter';

export type EventType = 'Normal' | 'Warning';

export interface RotationStatusPort {
  recordRotation(mapping: Mapping, record: RotationRecord, succeeded: boolean, reason: string, message: string, appliedVersion?: string): Promise<void>;
}

export interface EventPort {
  record(mapping: Mapping, type: EventType, reason: string, message: string): Promise<void>;
}
