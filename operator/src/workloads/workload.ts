/**
 * What the operator knows about a workload, whatever its kind. Pure. The mapping
 * model, the restart plan and the Kubernetes adapters all import these facts from here.
 */
import { GROUP } from '../core/names';
import { APPS_KINDS, KINDS, WORKLOAD_KINDS, type Health, type Rollout, type WorkloadKind } from './kinds';
import type { PodTemplateReferences } from './references';

// The kinds' own facts live in kinds.ts; these names are imported from here across the code and e2e/.
export { APPS_KINDS, ROLLOUT_API, WORKLOAD_KINDS, rolloutRestartAt, type Rollout, type WorkloadKind } from './kinds';

/** The kinds this operator serves; a mapping without workloadKinds means all of them. */
export function servedKinds(argoRollouts: boolean): readonly WorkloadKind[] {
  return argoRollouts ? WORKLOAD_KINDS : APPS_KINDS;
}

/** When the operator last rolled the workload. */
export const RESTARTED_AT_ANNOTATION = `${GROUP}/restartedAt`;
/** JSON map secret key → version the pods were started for. */
export const SECRET_VERSIONS_ANNOTATION = `${GROUP}/secret-versions`;

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

export interface WorkloadState extends WorkloadRef {
  readonly rollout: Rollout;
  /** The object's resourceVersion when listed: the restart patch's precondition. */
  readonly resourceVersion?: string;
  /** secret key → version, as recorded on the pod template by earlier restarts. */
  readonly appliedVersions: Readonly<Record<string, string>>;
  /** When an earlier restart stamped those versions (RESTARTED_AT_ANNOTATION): they were current by then (drift orders by it). */
  readonly restartedAt?: string;
  /** The Secrets and SecretProviderClasses its pod template names (discovery's consumers). */
  readonly references?: PodTemplateReferences;
  /** Its kind's rollout-complete rule as listed (kinds.ts): the rollout engine waits on it. */
  readonly health?: Health;
  /** A Deployment's own deadline for a rollout: a canary's health deadline when the policy sets none. */
  readonly progressDeadlineSeconds?: number;
  /** Its labels: a rollout's canary selector picks among them. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Its spec.selector as a list's label selector: its pods (workloads/pods.ts). */
  readonly podSelector?: string;
}

export function workloadId(w: WorkloadRef): string {
  return `${w.kind}/${w.namespace}/${w.name}`;
}

/** Reads the versions an earlier restart recorded; a hand-edited bad value counts as none. */
export function parseAppliedVersions(annotations: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const raw = annotations?.[SECRET_VERSIONS_ANNOTATION];
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** Where a kind keeps the record of what it was restarted for (KINDS[kind].recordedOn), and so where a restart writes it. */
export function recordedAnnotations(
  kind: WorkloadKind,
  obj: { metadata?: { annotations?: Readonly<Record<string, string>> }; spec?: { template?: { metadata?: { annotations?: Readonly<Record<string, string>> } } } },
): Readonly<Record<string, string>> | undefined {
  return KINDS[kind].recordedOn === 'object' ? obj.metadata?.annotations : KINDS[kind].podTemplate(obj)?.metadata?.annotations;
}

/**
 * The patch that rolls a workload and records the versions it now runs. With the
 * resourceVersion the workload was read at, the API server refuses it (409) if the
 * workload changed since: two patches built from the same old annotation can then
 * never drop each other's keys.
 *
 * The patch shapes, exactly (an admission policy limiting what the operator may change
 * in a workload allows these and nothing else):
 * - Deployment, StatefulSet, DaemonSet, a strategic merge patch:
 *     {metadata: {resourceVersion}, spec: {template: {metadata: {annotations:
 *       {RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION}}}}}
 * - Rollout (argoproj.io/v1alpha1), a JSON merge patch (a custom resource has no
 *   strategic merge):
 *     {metadata: {resourceVersion, annotations: {RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION}},
 *      spec: {restartAt}}
 *   `restartAt` is RFC 3339 in whole seconds (the field's resolution), the second after
 *   `now` (see rolloutRestartAt).
 */
export function restartPatch(kind: WorkloadKind, applied: Readonly<Record<string, string>>, versions: Readonly<Record<string, string>>, now: Date, resourceVersion?: string): object {
  const merged = Object.fromEntries(Object.entries({ ...applied, ...versions }).sort(([a], [b]) => a.localeCompare(b)));
  const annotations = {
    [RESTARTED_AT_ANNOTATION]: now.toISOString(),
    [SECRET_VERSIONS_ANNOTATION]: JSON.stringify(merged),
  };
  return KINDS[kind].restart(annotations, resourceVersion, now);
}

/** Whether every version in `versions` is already recorded in `applied`. */
export function recordsAll(applied: Readonly<Record<string, string>>, versions: Readonly<Record<string, string>>): boolean {
  return Object.entries(versions).every(([k, v]) => applied[k] === v);
}
