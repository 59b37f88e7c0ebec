/**
 * The rotation's outbound port for notifications (the others are mappings/ports.ts): told of every
 * mapping a rotation moved to a new version, succeeded or failed. `rotated` must
 * return at once and never throw: whatever it sends, it sends off the rotation lane.
 */
import type { MappingReport } from './summary';

export interface RotationNotifier {
  rotated(report: MappingReport): void;
}
