/**
 * The workload kinds differ only in how they are listed, patched and paused,
 * so they are one small table of adapters. A restart is what `kubectl rollout
 * restart` does: a pod-template annotation changes, the controller rolls the pods.
 */
import * as k8s from '@kubernetes/client-node';
import { OPERATOR_NAME } from '../names';
import { parseAppliedVersions, recordsAll, restartPatch, type Rollout, type WorkloadKind, type WorkloadState } from './workload';

const FIELD_MANAGER = OPERATOR_NAME;

interface PodTemplateOwner {
  metadata?: k8s.V1ObjectMeta;
  spec?: { template?: k8s.V1PodTemplateSpec; paused?: boolean; updateStrategy?: { type?: string } };
}

interface Adapter {
  list(api: k8s.AppsV1Api, namespace: string, labelSelector?: string, fieldSelector?: string): Promise<PodTemplateOwner[]>;
  patch(api: k8s.AppsV1Api, namespace: string, name: string, body: object): Promise<unknown>;
  rollout(obj: PodTemplateOwner): Rollout;
}

/** StatefulSets and DaemonSets with `updateStrategy: OnDelete` roll a pod only when it is deleted. */
const byUpdateStrategy = (obj: PodTemplateOwner): Rollout => (obj.spec?.updateStrategy?.type === 'OnDelete' ? 'OnDelete' : 'Rolling');

const PATCH_OPTIONS = { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_STRATEGIC_MERGE_PATCH } };

export const ADAPTERS: Readonly<Record<WorkloadKind, Adapter>> = {
  Deployment: {
    list: async (api, ns, sel, fields) => (await api.listNamespacedDeployment(ns, undefined, undefined, undefined, fields, sel)).body.items,
    patch: (api, ns, name, body) =>
      api.patchNamespacedDeployment(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_OPTIONS),
    rollout: (obj) => (obj.spec?.paused === true ? 'Paused' : 'Rolling'),
  },
  StatefulSet: {
    list: async (api, ns, sel, fields) => (await api.listNamespacedStatefulSet(ns, undefined, undefined, undefined, fields, sel)).body.items,
    patch: (api, ns, name, body) =>
      api.patchNamespacedStatefulSet(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_OPTIONS),
    rollout: byUpdateStrategy,
  },
  DaemonSet: {
    list: async (api, ns, sel, fields) => (await api.listNamespacedDaemonSet(ns, undefined, undefined, undefined, fields, sel)).body.items,
    patch: (api, ns, name, body) =>
      api.patchNamespacedDaemonSet(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_OPTIONS),
    rollout: byUpdateStrategy,
  },
};

/** What a restart did: patched (with how the pods take it), or found the versions already there. */
export type RestartOutcome = { readonly patched: true; readonly rollout: Rollout } | { readonly patched: false };

/** How often a restart re-reads a workload that changed under it before giving up. */
const CONFLICT_ATTEMPTS = 3;

export class WorkloadClient {
  constructor(private readonly api: k8s.AppsV1Api) {}

  async list(kind: WorkloadKind, namespace: string, labelSelector: string): Promise<WorkloadState[]> {
    return this.states(kind, namespace, labelSelector);
  }

  /** The labels of every workload of `kind` in `namespace` (for counting what selectors match). */
  async labels(kind: WorkloadKind, namespace: string): Promise<Readonly<Record<string, string>>[]> {
    const items = await ADAPTERS[kind].list(this.api, namespace);
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
        await ADAPTERS[w.kind].patch(this.api, w.namespace, w.name, restartPatch(state.appliedVersions, versions, now, state.resourceVersion));
        return { patched: true, rollout: state.rollout };
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409 || attempt >= CONFLICT_ATTEMPTS) throw err;
      }
      state = (await this.states(w.kind, w.namespace, undefined, `metadata.name=${w.name}`))[0];
    }
  }

  private async states(kind: WorkloadKind, namespace: string, labelSelector?: string, fieldSelector?: string): Promise<WorkloadState[]> {
    const adapter = ADAPTERS[kind];
    const items = await adapter.list(this.api, namespace, labelSelector, fieldSelector);
    return items
      .filter((o) => o.metadata?.name && !o.metadata.deletionTimestamp)
      .map((o) => ({
        kind,
        namespace,
        name: o.metadata!.name!,
        rollout: adapter.rollout(o),
        ...(o.metadata?.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
        appliedVersions: parseAppliedVersions(o.spec?.template?.metadata?.annotations),
      }));
  }
}
