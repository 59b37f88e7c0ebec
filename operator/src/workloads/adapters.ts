/**
 * The shell of the workload kinds: how each is listed and patched through its API
 * client. What else differs between kinds is the table in kinds.ts. A restart is what
 * `kubectl rollout restart` does: a pod-template annotation changes, the controller
 * rolls the pods; for an Argo Rollouts Rollout, what `kubectl argo rollouts restart`
 * does (spec.restartAt; kinds.ts says why, workload.ts shows each patch).
 */
import type * as k8s from '@kubernetes/client-node';
import { podFacts, podSelectorOf, type ListPods } from './pods';
import { podTemplateReferences } from './references';
import { KINDS, type WorkloadObject as KindObject } from './kinds';
import { parseAppliedVersions, recordedAnnotations, recordsAll, restartPatch, RESTARTED_AT_ANNOTATION, type Rollout, type WorkloadKind, type WorkloadState } from './workload';
import { FIELD_MANAGER, MERGE_PATCH, STRATEGIC_MERGE_PATCH } from '../kube/patch';

interface WorkloadObject {
  metadata?: k8s.V1ObjectMeta;
  spec?: { template?: k8s.V1PodTemplateSpec; selector?: k8s.V1LabelSelector; paused?: boolean; updateStrategy?: { type?: string }; progressDeadlineSeconds?: number };
}

interface Adapter {
  list(namespace: string, labelSelector?: string, fieldSelector?: string): Promise<WorkloadObject[]>;
  patch(namespace: string, name: string, body: object): Promise<unknown>;
}

/** The content type of each kind's restart patch (KINDS[kind].patchType). */
const PATCH_CONTENT_TYPE = { 'strategic-merge': STRATEGIC_MERGE_PATCH, merge: MERGE_PATCH } as const;

function appsAdapters(api: k8s.AppsV1Api): Record<'Deployment' | 'StatefulSet' | 'DaemonSet', Adapter> {
  return {
    Deployment: {
      list: async (ns, sel, fields) => (await api.listNamespacedDeployment(ns, undefined, undefined, undefined, fields, sel)).body.items,
      patch: (ns, name, body) => api.patchNamespacedDeployment(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_CONTENT_TYPE[KINDS.Deployment.patchType]),
    },
    StatefulSet: {
      list: async (ns, sel, fields) => (await api.listNamespacedStatefulSet(ns, undefined, undefined, undefined, fields, sel)).body.items,
      patch: (ns, name, body) => api.patchNamespacedStatefulSet(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_CONTENT_TYPE[KINDS.StatefulSet.patchType]),
    },
    DaemonSet: {
      list: async (ns, sel, fields) => (await api.listNamespacedDaemonSet(ns, undefined, undefined, undefined, fields, sel)).body.items,
      patch: (ns, name, body) => api.patchNamespacedDaemonSet(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_CONTENT_TYPE[KINDS.DaemonSet.patchType]),
    },
  };
}

/** A custom resource kind's API as the operator uses it (Argo Rollouts' Rollout): whether it is served (kube/discovery.ts), and the custom objects client. */
export interface CustomResourceAccess {
  readonly api: k8s.CustomObjectsApi;
  /** Whether the API server serves the kind now (its CRD is installed). */
  served(): Promise<boolean>;
  /** A list found it not served after all (the CRD was removed): ask again next time. */
  forget(): void;
}

/**
 * A custom resource kind (KINDS[kind].customResource) where its CRD is installed; where it
 * is not, there is none to restart, so none is listed (and no list is sent).
 */
function customResourceAdapter(kind: WorkloadKind, access: CustomResourceAccess): Adapter {
  const resource = KINDS[kind].customResource;
  if (!resource) throw new Error(`${kind} is not a custom resource`);
  const { group, version, plural } = resource;
  return {
    list: async (ns, sel, fields) => {
      if (!(await access.served())) return [];
      try {
        const res = await access.api.listNamespacedCustomObject(group, version, ns, plural, undefined, undefined, undefined, fields, sel);
        return (res.body as { items?: WorkloadObject[] }).items ?? [];
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        access.forget();
        return [];
      }
    },
    patch: (ns, name, body) => access.api.patchNamespacedCustomObject(group, version, ns, plural, name, body, undefined, FIELD_MANAGER, undefined, PATCH_CONTENT_TYPE[KINDS[kind].patchType]),
  };
}

/** What a restart did: patched (with how the pods take it), or found the versions already there. */
export type RestartOutcome = { readonly patched: true; readonly rollout: Rollout } | { readonly patched: false };

/** How often a restart re-reads a workload that changed under it before giving up. */
const CONFLICT_ATTEMPTS = 3;

export class WorkloadClient {
  private readonly adapters: Partial<Record<WorkloadKind, Adapter>>;

  /** A custom resource kind not in `custom` (Argo Rollouts support off) the client has no way to touch. */
  constructor(apps: k8s.AppsV1Api, custom: Partial<Record<WorkloadKind, CustomResourceAccess>> = {}) {
    const customAdapters = Object.entries(custom).map(([kind, access]) => [kind, customResourceAdapter(kind as WorkloadKind, access)] as const);
    this.adapters = { ...appsAdapters(apps), ...Object.fromEntries(customAdapters) };
  }

  async list(kind: WorkloadKind, namespace: string, labelSelector: string): Promise<WorkloadState[]> {
    return this.states(kind, namespace, labelSelector);
  }

  /** The labels of every workload of `kind` in `namespace` (for counting what selectors match). */
  async labels(kind: WorkloadKind, namespace: string): Promise<Readonly<Record<string, string>>[]> {
    const items = await this.adapter(kind).list(namespace);
    return items.filter((o) => o.metadata?.name && !o.metadata.deletionTimestamp).map((o) => o.metadata?.labels ?? {});
  }

  /**
   * Patches `w` from the state it was listed in. If it changed since (409), it is read
   * again (a list by name: no `get` permission needed) and the patch rebuilt from what
   * it records now; if that already holds the versions, nothing is patched.
   */
  async restart(w: WorkloadState, versions: Readonly<Record<string, string>>, now: Date): Promise<RestartOutcome> {
    let state: WorkloadState | undefined = w;
    for (let attempt = 1; ; attempt++) {
      if (!state) throw new Error(`${w.kind} ${w.namespace}/${w.name} no longer exists`);
      if (recordsAll(state.appliedVersions, versions)) return { patched: false };
      try {
        await this.adapter(w.kind).patch(w.namespace, w.name, restartPatch(w.kind, state.appliedVersions, versions, now, state.resourceVersion));
        return { patched: true, rollout: state.rollout };
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409 || attempt >= CONFLICT_ATTEMPTS) throw err;
      }
      state = (await this.states(w.kind, w.namespace, undefined, `metadata.name=${w.name}`))[0];
    }
  }

  private adapter(kind: WorkloadKind): Adapter {
    const adapter = this.adapters[kind];
    // Mappings naming a kind the operator does not serve are refused before they get here (mappings/model.ts).
    if (!adapter) throw new Error(`${kind} is not served by this operator (Argo Rollouts support is off)`);
    return adapter;
  }

  private async states(kind: WorkloadKind, namespace: string, labelSelector?: string, fieldSelector?: string): Promise<WorkloadState[]> {
    const items = await this.adapter(kind).list(namespace, labelSelector, fieldSelector);
    return items
      .filter((o) => o.metadata?.name && !o.metadata.deletionTimestamp)
      .map((o) => {
        const recorded = recordedAnnotations(kind, o);
        const podSelector = podSelectorOf(o.spec?.selector);
        const restartedAt = recorded?.[RESTARTED_AT_ANNOTATION];
        return {
          kind,
          namespace,
          name: o.metadata!.name!,
          rollout: KINDS[kind].rollout(o),
          ...(o.metadata?.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
          appliedVersions: parseAppliedVersions(recorded),
          ...(restartedAt ? { restartedAt } : {}),
          references: podTemplateReferences(o.spec?.template),
          health: KINDS[kind].health(o as KindObject),
          ...(o.spec?.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: o.spec.progressDeadlineSeconds } : {}),
          ...(o.metadata?.labels ? { labels: o.metadata.labels } : {}),
          ...(podSelector ? { podSelector } : {}),
        };
      });
  }
}

/** Lists pods for the rollout loop's crash-loop check (rotation/podHealth.ts): only their facts are kept, never their spec. */
export function podLister(api: Pick<k8s.CoreV1Api, 'listNamespacedPod'>): ListPods {
  return async (namespace, labelSelector) => (await api.listNamespacedPod(namespace, undefined, undefined, undefined, undefined, labelSelector)).body.items.map(podFacts);
}
