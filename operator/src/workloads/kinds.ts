/**
 * The workload kinds, one entry each: what the API calls it, whether it is a custom
 * resource (served only where its CRD is installed), where its pod template is,
 * where a restart records what it was for, the restart patch, how the pods take it, and
 * how to tell it healthy. Pure. The kinds differ only in these few facts (as in
 * Reloader's table of adapters); the shell's list and PATCH calls per kind are
 * adapters.ts, the annotation keys and the patch's common part workload.ts.
 */

import type { ResourceName } from '../kube/discovery';

/** The apps/v1 kinds every cluster serves. */
export const APPS_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
/**
 * Every kind a mapping may name (the CRD's enum). Argo Rollouts' Rollout only where the
 * operator has it on (ARGO_ROLLOUTS_ENABLED): otherwise it never lists or patches one.
 */
export const WORKLOAD_KINDS = [...APPS_KINDS, 'Rollout'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Where Argo Rollouts serves its Rollout: a custom resource, there only where its CRD is installed. */
export const ROLLOUT_API = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const satisfies ResourceName;

/** How a change to the pod template reaches the pods. */
export type Rollout = 'Rolling' | 'Paused' | 'OnDelete';

/**
 * Whether a workload runs its current template: `healthy`; still rolling (or its
 * controller has not seen the change yet): `progressing`; or stuck, and why.
 */
export type Health = 'healthy' | 'progressing' | { readonly failed: string };

type Annotations = Readonly<Record<string, string>>;

interface Condition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

/** A workload object as the API server returns it, as far as this table reads it. */
export interface WorkloadObject {
  readonly metadata?: { readonly name?: string; readonly generation?: number; readonly annotations?: Annotations };
  readonly spec?: {
    readonly replicas?: number;
    readonly paused?: boolean;
    readonly template?: { readonly metadata?: { readonly annotations?: Annotations } };
    readonly updateStrategy?: { readonly type?: string; readonly rollingUpdate?: { readonly partition?: number } };
  };
  readonly status?: {
    /** A number, except on a Rollout (a string there). */
    readonly observedGeneration?: number | string;
    readonly replicas?: number;
    readonly updatedReplicas?: number;
    readonly readyReplicas?: number;
    readonly availableReplicas?: number;
    readonly currentRevision?: string;
    readonly updateRevision?: string;
    readonly desiredNumberScheduled?: number;
    readonly updatedNumberScheduled?: number;
    readonly numberAvailable?: number;
    readonly conditions?: readonly Condition[];
    readonly phase?: string;
    readonly message?: string;
  };
}

export interface KindEntry {
  /** The object's apiVersion (an Event about it names it so). */
  readonly apiVersion: string;
  /**
   * Where a custom resource kind is served: only where its CRD is installed, so the API
   * server is asked (kube/discovery.ts) before one is listed. Absent on the built-in kinds.
   */
  readonly customResource?: ResourceName;
  /** How its restart patch is sent: strategic merge (apps/v1), or JSON merge (a custom resource has no strategic merge). */
  readonly patchType: 'strategic-merge' | 'merge';
  /** Where its pod template is. */
  readonly podTemplate: (obj: WorkloadObject) => { readonly metadata?: { readonly annotations?: Annotations } } | undefined;
  /** Where a restart records what it was for (the annotations), and so where the patch writes them. */
  readonly recordedOn: 'podTemplate' | 'object';
  /**
   * The restart patch, given the annotations to write, the resourceVersion read (the API
   * server refuses the patch if the object changed since) and the time.
   */
  readonly restart: (annotations: Annotations, resourceVersion: string | undefined, now: Date) => object;
  /** How a restart reaches the pods. */
  readonly rollout: (obj: WorkloadObject) => Rollout;
  /** Whether it runs its current template (the rollout engine waits on this). */
  readonly health: (obj: WorkloadObject) => Health;
}

/** Deployment, StatefulSet, DaemonSet: the annotations go on the pod template, which rolls the pods (`kubectl rollout restart`). */
const templatePatch = (annotations: Annotations, resourceVersion: string | undefined): object => ({
  ...(resourceVersion ? { metadata: { resourceVersion } } : {}),
  spec: { template: { metadata: { annotations } } },
});

/**
 * Rollout: the annotations go on the Rollout itself and `spec.restartAt` restarts its pods
 * (`kubectl argo rollouts restart`): a template change would be a new revision to Argo
 * Rollouts (canary steps, analysis, a blue-green switch) for what is only a restart.
 */
const rolloutPatch = (annotations: Annotations, resourceVersion: string | undefined, now: Date): object => ({
  metadata: { ...(resourceVersion ? { resourceVersion } : {}), annotations },
  spec: { restartAt: rolloutRestartAt(now) },
});

/**
 * The `spec.restartAt` that restarts every pod a Rollout ran at `now`. Argo Rollouts
 * replaces the pods whose creationTimestamp is strictly before restartAt, both in whole
 * seconds: `now` itself, truncated, would spare a pod started earlier within the same
 * second. The next whole second spares none of them; a pod started in the rest of this
 * second is replaced too (harmless), and the controller waits for a restartAt that is
 * still ahead (under a second).
 */
export function rolloutRestartAt(now: Date): string {
  return new Date((Math.floor(now.getTime() / 1000) + 1) * 1000).toISOString().replace('.000Z', 'Z');
}

/** StatefulSets and DaemonSets with `updateStrategy: OnDelete` roll a pod only when it is deleted. */
const byUpdateStrategy = (obj: WorkloadObject): Rollout => (obj.spec?.updateStrategy?.type === 'OnDelete' ? 'OnDelete' : 'Rolling');

/** Whether the controller has seen the object's current spec (its status speaks of it). */
function observed(obj: WorkloadObject): boolean {
  const seen = Number(obj.status?.observedGeneration ?? 0);
  return seen > 0 && seen >= (obj.metadata?.generation ?? 0);
}

const count = (n: number | undefined): number => n ?? 0;
/** `spec.replicas` as the API server defaults it. */
const desired = (obj: WorkloadObject): number => obj.spec?.replicas ?? 1;

/**
 * As `kubectl rollout status` decides: once the generation is observed, a Progressing
 * condition with reason ProgressDeadlineExceeded is a failure; otherwise healthy when
 * every desired replica is updated, no old one is left, and every updated one is
 * available. A paused Deployment holds no slot: it was stamped and rolls when resumed
 * (reported Deferred), and no deadline runs while it is paused.
 */
function deploymentHealth(obj: WorkloadObject): Health {
  if (obj.spec?.paused === true) return 'healthy';
  if (!observed(obj)) return 'progressing';
  const stalled = obj.status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  if (stalled) return { failed: `ProgressDeadlineExceeded: ${stalled.message ?? 'the rollout made no progress within progressDeadlineSeconds'}` };
  const s = obj.status;
  const updated = count(s?.updatedReplicas);
  if (updated < desired(obj) || count(s?.replicas) > updated || count(s?.availableReplicas) < updated) return 'progressing';
  return 'healthy';
}

/**
 * Healthy when every replica is ready and the current revision is the update revision;
 * with a partition, when the ordinals at or above it are updated (the others are not
 * ours to roll). OnDelete holds no slot: its pods take the template when deleted
 * (reported Pending). StatefulSets report no failure: the engine's own deadline decides.
 */
function statefulSetHealth(obj: WorkloadObject): Health {
  if (byUpdateStrategy(obj) === 'OnDelete') return 'healthy';
  if (!observed(obj)) return 'progressing';
  const s = obj.status;
  const replicas = desired(obj);
  if (count(s?.readyReplicas) < replicas) return 'progressing';
  const partition = obj.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) return count(s?.updatedReplicas) >= replicas - partition ? 'healthy' : 'progressing';
  return s?.updateRevision !== undefined && s.currentRevision === s.updateRevision ? 'healthy' : 'progressing';
}

/** Healthy when every node that should run a pod runs an updated, available one. OnDelete: as StatefulSet. No failure signal. */
function daemonSetHealth(obj: WorkloadObject): Health {
  if (byUpdateStrategy(obj) === 'OnDelete') return 'healthy';
  if (!observed(obj)) return 'progressing';
  const s = obj.status;
  const want = count(s?.desiredNumberScheduled);
  return count(s?.updatedNumberScheduled) < want || count(s?.numberAvailable) < want ? 'progressing' : 'healthy';
}

/**
 * Argo Rollouts' own verdict, `status.phase`, read only once it speaks of the current
 * spec (Argo Rollouts: rely on it only when observedGeneration equals generation):
 * Healthy, or Degraded (aborted, past its progress deadline, an invalid spec) with its
 * message. Progressing and Paused (a canary's pause step, a person's pause) still roll.
 */
function rolloutHealth(obj: WorkloadObject): Health {
  if (String(obj.status?.observedGeneration ?? '') !== String(obj.metadata?.generation ?? '')) return 'progressing';
  if (obj.status?.phase === 'Healthy') return 'healthy';
  if (obj.status?.phase === 'Degraded') return { failed: `Degraded: ${obj.status.message ?? 'Argo Rollouts gave no message'}` };
  return 'progressing';
}

const onTemplate = (obj: WorkloadObject) => obj.spec?.template;

export const KINDS: Readonly<Record<WorkloadKind, KindEntry>> = {
  Deployment: {
    apiVersion: 'apps/v1',
    patchType: 'strategic-merge',
    podTemplate: onTemplate,
    recordedOn: 'podTemplate',
    restart: templatePatch,
    rollout: (obj) => (obj.spec?.paused === true ? 'Paused' : 'Rolling'),
    health: deploymentHealth,
  },
  StatefulSet: { apiVersion: 'apps/v1', patchType: 'strategic-merge', podTemplate: onTemplate, recordedOn: 'podTemplate', restart: templatePatch, rollout: byUpdateStrategy, health: statefulSetHealth },
  DaemonSet: { apiVersion: 'apps/v1', patchType: 'strategic-merge', podTemplate: onTemplate, recordedOn: 'podTemplate', restart: templatePatch, rollout: byUpdateStrategy, health: daemonSetHealth },
  Rollout: {
    apiVersion: `${ROLLOUT_API.group}/${ROLLOUT_API.version}`,
    customResource: ROLLOUT_API,
    patchType: 'merge',
    podTemplate: onTemplate,
    recordedOn: 'object',
    restart: rolloutPatch,
    // Argo Rollouts' restart does not wait for a resume (only for its ReplicaSets to be fully available).
    rollout: () => 'Rolling',
    health: rolloutHealth,
  },
};

/** Which of `kinds` are custom resources, with where each is served: the API server is asked about these before they are listed. */
export function customResourceKinds(kinds: readonly WorkloadKind[]): readonly (readonly [WorkloadKind, ResourceName])[] {
  return kinds.flatMap((kind) => {
    const resource = KINDS[kind].customResource;
    return resource ? [[kind, resource] as const] : [];
  });
}
