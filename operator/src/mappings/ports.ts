/**
 * What the rotation asks of the world around it: the status writer, the Event recorder
 * and discovery implement these; none of them needs the rotator itself. What the queue
 * hands the rotation, and what it answers, is rotation/ports.ts.
 */
import type { ObjectRef } from '../core/origin';
import type { Mapping, RotationRecord } from './model';
import type { SecretRef } from '../secrets/secretId';

export type EventType = 'Normal' | 'Warning';

export interface RotationStatusPort {
  recordRotation(mapping: Mapping, record: RotationRecord, succeeded: boolean, reason: string, message: string, appliedVersion?: string): Promise<void>;
}

/** What an Event is about: a mapping, a discovered ExternalSecret or SecretProviderClass, a workload. */
export type EventTarget = ObjectRef;

export interface EventPort {
  record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void>;
}

/**
 * What discovery (discovery/) offers the rotation: the ExternalSecrets and
 * SecretProviderClasses that name a secret, planned as mappings with an origin.
 */
export interface DiscoveryPort {
  /** The discovered sources naming `secret`. Throws when they cannot be listed (the change is retried). */
  lookup(secret: SecretRef): Promise<readonly Mapping[]>;
  /**
   * Makes what a source's consumers read current before they roll (ESO: a sync asked for
   * and waited on). Throws, having recorded why (Event, metric, log), when it cannot.
   */
  prepare(mapping: Mapping, signal?: AbortSignal): Promise<void>;
}
