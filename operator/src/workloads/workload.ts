/**
 * What the operator knows about a workload, whatever its kind. Pure. The mapping
 * model, the restart plan and the Kubernetes adapters all import these facts from here.
 */
import { GROUP } from '../names';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** When the operator last rolled the workload. */
export const RESTARTED_AT_ANNOTATION = `${GROUP}/restartedAt`;
/** JSON map secret key → version the pods were started for. */
export const SECRET_VERSIONS_ANNOTATION = `${GROUP}/secret-versions`;

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

/** How a change to the pod template reaches the pods. */
export type Rollout = 'Rolling' | 'Paused' | 'OnDelete';

export interface WorkloadState extends WorkloadRef {
  readonly rollout: Rollout;
  /** The object's resourceVersion when listed: the restart patch's precondition. */
  readonly resourceVersion?: string;
  /** secret key → version, as recorded on the pod template by earlier restarts. */
  readonly appliedVersions: Readonly<Record<string, string>>;
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

/**
 * The patch that rolls a workload and records the versions it now runs. With the
 * resourceVersion the workload was read at, the API server refuses it (409) if the
 * workload changed since: two patches built from the same old annotation can then
 * never drop each other's keys.
 */
export function restartPatch(applied: Readonly<Record<string, string>>, versions: Readonly<Record<string, string>>, now: Date, resourceVersion?: string): object {
  const merged = Object.fromEntries(Object.entries({ ...applied, ...versions }).sort(([a], [b]) => a.localeCompare(b)));
  return {
    ...(resourceVersion ? { metadata: { resourceVersion } } : {}),
    spec: {
      template: {
        metadata: {
          annotations: {
            [RESTARTED_AT_ANNOTATION]: now.toISOString(),
            [SECRET_VERSIONS_ANNOTATION]: JSON.stringify(merged),
          },
        },
      },
    },
  };
}

/** Whether every version in `versions` is already recorded in `applied`. */
export function recordsAll(applied: Readonly<Record<string, string>>, versions: Readonly<Record<string, string>>): boolean {
  return Object.entries(versions).every(([k, v]) => applied[k] === v);
}
