/**
 * The rollout engine (rollout/engine.ts) in a mapping's terms. Pure: the policy in force
 * (spec.rollout and spec.suspend over the chart's rollouts.*), what a listed workload
 * tells the engine, the record as status.rollout holds it (read back through a check,
 * written as a merge patch that removes what the new record no longer has), and the
 * RolloutHalted condition. rollouts.ts is the shell around it.
 */
import { isRecord } from '../core/json';
import { selectorMatches } from '../mappings/census';
import type { Condition, SecretsRotationMappingSpec } from '../mappings/model';
import { ABANDON_ANNOTATION, OVERRIDE_ANNOTATION, PHASES, RESUME_ANNOTATION, type Decision, type Observation, type Phase, type Requests, type RolloutPolicy, type RolloutRecord } from '../rollout/engine';
import { compileWindows, type CompiledWindow } from '../rollout/windows';
import { recordsAll, type WorkloadRef, type WorkloadState } from '../workloads/workload';

/** The chart's rollouts.* (config.ts RolloutsConfig), its windows compiled once at start. */
export interface ChartPolicy {
  readonly maxConcurrent: number;
  readonly settleSeconds: number;
  readonly healthTimeoutSeconds?: number;
  readonly windows: readonly CompiledWindow[];
}

export const ROLLOUT_HALTED = 'RolloutHalted';

/** A mapping's policy: each field of spec.rollout over the chart's; throws on a window the CRD should have refused. */
export function resolvePolicy(spec: Pick<SecretsRotationMappingSpec, 'rollout' | 'suspend'> | undefined, chart: ChartPolicy): RolloutPolicy {
  const r = spec?.rollout;
  const canary = r?.canary?.count !== undefined ? { count: r.canary.count } : r?.canary?.percent !== undefined ? { percent: r.canary.percent } : undefined;
  const healthTimeoutSeconds = r?.healthTimeoutSeconds ?? chart.healthTimeoutSeconds;
  return {
    maxConcurrent: r?.maxConcurrent ?? chart.maxConcurrent,
    ...(canary ? { canary } : {}),
    ...(healthTimeoutSeconds !== undefined ? { healthTimeoutSeconds } : {}),
    settleSeconds: r?.settleSeconds ?? chart.settleSeconds,
    windows: r?.windows ? compileWindows(r.windows) : chart.windows,
    suspend: spec?.suspend === true,
  };
}

/** A workload's id in a mapping's record: the mapping's namespace is its own, so kind and name say which. */
export function rolloutId(w: Pick<WorkloadRef, 'kind' | 'name'>): string {
  return `${w.kind}/${w.name}`;
}

/** The workloads the canary selector names (they go first), by record id. */
export function preferredCanaries(spec: Pick<SecretsRotationMappingSpec, 'rollout'> | undefined, workloads: readonly WorkloadState[]): string[] {
  const selector = spec?.rollout?.canary?.selector;
  if (!selector) return [];
  return workloads.filter((w) => selectorMatches(selector, w.labels ?? {})).map(rolloutId);
}

/**
 * What a listed workload tells the engine for `versions`. The pod template's versions are
 * the idempotency key (hasVersion); its restartedAt is when those were stamped, so a
 * health deadline counts from the stamp that reached it.
 */
export function observe(w: WorkloadState, versions: Readonly<Record<string, string>>): Observation {
  const hasVersion = recordsAll(w.appliedVersions, versions);
  const stampedMs = hasVersion && w.restartedAt ? Date.parse(w.restartedAt) : NaN;
  return {
    health: w.health ?? 'progressing',
    hasVersion,
    ...(w.rollout !== 'Rolling' ? { deferred: true } : {}),
    ...(w.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: w.progressDeadlineSeconds } : {}),
    ...(Number.isNaN(stampedMs) ? {} : { stampedAt: Math.floor(stampedMs / 1000) }),
  };
}

export function observeAll(listed: readonly WorkloadState[], versions: Readonly<Record<string, string>>): Map<string, Observation> {
  return new Map(listed.map((w) => [rolloutId(w), observe(w, versions)]));
}

/** The requests a person made with annotations on the mapping. */
export function requestsOf(annotations: Readonly<Record<string, string>> | undefined): Requests {
  const a = annotations ?? {};
  return {
    ...(a[RESUME_ANNOTATION] !== undefined ? { resume: a[RESUME_ANNOTATION] } : {}),
    ...(a[ABANDON_ANNOTATION] !== undefined ? { abandon: a[ABANDON_ANNOTATION] } : {}),
    ...(a[OVERRIDE_ANNOTATION] !== undefined ? { override: a[OVERRIDE_ANNOTATION] } : {}),
  };
}

const isStringMap = (x: unknown): x is Record<string, string> => isRecord(x) && Object.values(x).every((v) => typeof v === 'string');
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);

/** status.rollout as the engine's record, or undefined when there is none or it does not hold together. */
export function readRecord(raw: Readonly<Record<string, unknown>> | undefined): RolloutRecord | undefined {
  if (!raw) return undefined;
  const { versions, phase, since, workloads, canaries, states, stampedAt, handled, reason, message, override, nextOpen } = raw;
  if (!isStringMap(versions) || !PHASES.includes(phase as Phase) || !isInt(since) || !isInt(canaries)) return undefined;
  if (!Array.isArray(workloads) || !workloads.every((w) => typeof w === 'string')) return undefined;
  if (typeof states !== 'string' || !/^[pshfdg]*$/.test(states) || states.length !== workloads.length) return undefined;
  if (!Array.isArray(stampedAt) || stampedAt.length !== workloads.length || !stampedAt.every(isInt)) return undefined;
  return {
    versions,
    phase: phase as Phase,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    since,
    workloads: workloads as string[],
    canaries,
    states,
    stampedAt: stampedAt as number[],
    handled: isStringMap(handled) ? handled : {},
    ...(override === true ? { override: true } : {}),
    ...(isInt(nextOpen) ? { nextOpen } : {}),
  };
}

/** Whether `record` is already the rollout of these versions (a redelivered event, drift seeing the same change). */
export function carries(record: RolloutRecord | undefined, versions: Readonly<Record<string, string>>): record is RolloutRecord {
  return record !== undefined && recordsAll(record.versions, versions);
}

/** Still to act on: neither complete nor abandoned. */
export function active(record: RolloutRecord | undefined): record is RolloutRecord {
  return record !== undefined && record.phase !== 'Complete' && record.phase !== 'Abandoned';
}

/** Workloads stamped and not yet healthy: they hold a slot of the ceiling. */
export function rolling(record: RolloutRecord | undefined): number {
  return active(record) ? [...record.states].filter((s) => s === 's').length : 0;
}

const OPTIONAL = ['reason', 'message', 'override', 'nextOpen'] as const;

/**
 * status.rollout as a merge patch: the record and its summary, with null for what the
 * previous one had and this one has not (a merge patch would otherwise keep a halt's
 * reason past the halt, or a secret key of an earlier rollout).
 */
export function rolloutPatch(previous: Readonly<Record<string, unknown>> | undefined, record: RolloutRecord, summary: string): Record<string, unknown> {
  const prevVersions = isStringMap(previous?.versions) ? previous.versions : {};
  const versions: Record<string, string | null> = { ...Object.fromEntries(Object.keys(prevVersions).map((k) => [k, null])), ...record.versions };
  const removed = Object.fromEntries(OPTIONAL.filter((k) => previous?.[k] !== undefined && record[k] === undefined).map((k) => [k, null]));
  return { ...removed, ...record, versions, summary };
}

/** The RolloutHalted condition a decision says (reason CanaryUnhealthy while halted). */
export function haltedCondition(d: Pick<Decision, 'halted' | 'record' | 'summary'>): Pick<Condition, 'type' | 'status' | 'reason' | 'message'> {
  if (d.halted) return { type: ROLLOUT_HALTED, status: 'True', reason: d.record.reason ?? 'CanaryUnhealthy', message: d.record.message ?? d.summary };
  return { type: ROLLOUT_HALTED, status: 'False', reason: d.record.phase, message: `rollout ${d.summary}` };
}
