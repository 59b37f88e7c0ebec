/**
 * The rotation's outbound port for notifications (the others are mappings/ports.ts): told of every
 * mapping a rotation moved to a new version, succeeded or failed. `rotated` must
 * return at once and never throw: whatever it sends, it sends off the rotation lane.
 */
import type { Mapping } from '../mappings/model';
import type { MappingReport } from './summary';

/** A mapping's rollout halted: a canary was not healthy on the new versions (rollouts.ts). */
export interface RolloutHalt {
  readonly mapping: Mapping;
  /** Secret key → version the rollout brings. */
  readonly versions: Readonly<Record<string, string>>;
  /** The event that started the rollout, as status.lastRotation records it. */
  readonly eventId: string;
  /** The RolloutHalted condition's message: which canary, what was seen. */
  readonly message: string;
  readonly at: string;
  readonly workloadCount: number;
}

export interface RotationNotifier {
  rotated(report: MappingReport): void;
  /** Told once per halt, as the rollout halts. */
  rolloutHalted?(halt: RolloutHalt): void;
}
