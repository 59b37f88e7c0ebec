/**
 * What the rotation is handed and what it answers: changes in, an outcome per change
 * out. Whoever hands them (the queue, sqs/intake.ts) decides what that means for its
 * messages; the rotation knows nothing of queues.
 */
import type { SecretChange } from '../events/interpret';

/** A change admitted for rotation, before its version is settled. */
export interface AdmittedChange {
  /** Names the change within one rotation: the SQS message id for a change from a message. */
  readonly changeId: string;
  readonly change: SecretChange;
  /** When its message entered the queue (ms since the epoch), for the queue-to-restart latency. */
  readonly sentAt?: number;
}

/**
 * What became of a change: `done`, every restart it asked for is done (or it asked for
 * none); `unfinished`, some could not be done now and the change should come again.
 */
export type ChangeOutcome = 'done' | 'unfinished';
