/**
 * The workload kinds, one entry each: what the API calls it, where its pod template is,
 * where a restart records what it was for, the restart patch and how the pods take it.
 * Pure. The kinds differ only in these few facts (as in Reloader's table of adapters);
 * the shell's list and PATCH calls per kind are adapters.ts, the annotation keys and the
 * patch's common part workload.ts.
 */

/** The apps/v1 kinds every cluster serves. */
export const APPS_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
/**
 * Every kind a mapping may name (the CRD's enum). Argo Rollouts' Rollout only where the
 * operator has it on (ARGO_ROLLOUTS_ENABLED): otherwise it never lists or patches one.
 */
export const WORKLOAD_KINDS = [...APPS_KINDS, 'Rollout'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Where Argo Rollouts serves its Rollout: a custom resource, there only where its CRD is installed. */
export const ROLLOUT_API = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const;

/** How a change to the pod template reaches the pods. */
export type Rollout = 'Rolling' | 'Paused' | 'OnDelete';

type Annotations = Readonly<Record<string, string>>;

/** A workload object as the API server returns it, as far as this table reads it. */
export interface WorkloadObject {
  readonly metadata?: { readonly name?: string; readonly annotations?: Annotations };
  readonly spec?: {
    readonly paused?: boolean;
    readonly template?: { readonly metadata?: { readonly annotations?: Annotations } };
    readonly updateStrategy?: { readonly type?: string };
  };
}

export interface KindEntry {
  /** The object's apiVersion (an Event about it names it so). */
  readonly apiVersion: string;
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

const onTemplate = (obj: WorkloadObject) => obj.spec?.template;

export const KINDS: Readonly<Record<WorkloadKind, KindEntry>> = {
  Deployment: {
    apiVersion: 'apps/v1',
    patchType: 'strategic-merge',
    podTemplate: onTemplate,
    recordedOn: 'podTemplate',
    restart: templatePatch,
    rollout: (obj) => (obj.spec?.paused === true ? 'Paused' : 'Rolling'),
  },
  StatefulSet: { apiVersion: 'apps/v1', patchType: 'strategic-merge', podTemplate: onTemplate, recordedOn: 'podTemplate', restart: templatePatch, rollout: byUpdateStrategy },
  DaemonSet: { apiVersion: 'apps/v1', patchType: 'strategic-merge', podTemplate: onTemplate, recordedOn: 'podTemplate', restart: templatePatch, rollout: byUpdateStrategy },
  Rollout: {
    apiVersion: `${ROLLOUT_API.group}/${ROLLOUT_API.version}`,
    patchType: 'merge',
    podTemplate: onTemplate,
    recordedOn: 'object',
    restart: rolloutPatch,
    // Argo Rollouts' restart does not wait for a resume (only for its ReplicaSets to be fully available).
    rollout: () => 'Rolling',
  },
};
