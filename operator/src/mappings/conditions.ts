/**
 * Kubernetes-convention conditions. Pure: lastTransitionTime moves only when the
 * status flips, so a level-triggered rewrite of the same facts changes nothing.
 */
import type { Condition, ConditionStatus } from './model';

export const READY = 'Ready';
export const ROTATION_SUCCEEDED = 'RotationSucceeded';

export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: { type: string; status: ConditionStatus; reason: string; message: string; observedGeneration?: number },
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const cond: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime: prev && prev.status === next.status ? prev.lastTransitionTime : now.toISOString(),
    ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}),
  };
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
