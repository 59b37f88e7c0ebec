/**
 * The workload kinds differ only in how they are listed, patched and paused,
 * so they are one small table of adapters. A restart is what `kubectl rollout
 * restart` does: a pod-template annotation changes, the controller rolls the pods.
 */
import * as k8s from '@kubernetes/client-node';
import type { WorkloadKind } from '../mappings/model';
import type { WorkloadRef, WorkloadState } from '../rotation/plan';

const ANNOTATION_PREFIX = 'awssecretsoperator.secretoperator';
/** When the operator last rolled the workload. */
export const RESTARTED_AT_ANNOTATION = `${ANNOTATION_PREFIX}/restartedAt`;
/** JSON map secret key → version the pods were started for. */
export const SECRET_VERSIONS_ANNOTATION = `${ANNOTATION_PREFIX}/secret-versions`;
export const FIELD_MANAGER = 'secrets-rotation-operator';

interface PodTemplateOwner {
  metadata?: k8s.V1ObjectMeta;
  spec?: { template?: k8s.V1PodTemplateSpec; paused?: boolean };
}

interface Adapter {
  list(api: k8s.AppsV1Api, namespace: string, labelSelector: string): Promise<PodTemplateOwner[]>;
  patch(api: k8s.AppsV1Api, namespace: string, name: string, body: object): Promise<unknown>;
  paused(obj: PodTemplateOwner): boolean;
}

const PATCH_OPTIONS = { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_STRATEGIC_MERGE_PATCH } };

export const ADAPTERS: Readonly<Record<WorkloadKind, Adapter>> = {
  Deployment: {
    list: async (api, ns, sel) => (await api.listNamespacedDeployment(ns, undefined, undefined, undefined, undefined, sel)).body.items,
    patch: (api, ns, name, body) =>
      api.patchNamespacedDeployment(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_OPTIONS),
    paused: (obj) => obj.spec?.paused === true,
  },
  StatefulSet: {
    list: async (api, ns, sel) => (await api.listNamespacedStatefulSet(ns, undefined, undefined, undefined, undefined, sel)).body.items,
    patch: (api, ns, name, body) =>
      api.patchNamespacedStatefulSet(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_OPTIONS),
    paused: () => false,
  },
  DaemonSet: {
    list: async (api, ns, sel) => (await api.listNamespacedDaemonSet(ns, undefined, undefined, undefined, undefined, sel)).body.items,
    patch: (api, ns, name, body) =>
      api.patchNamespacedDaemonSet(name, ns, body, undefined, undefined, FIELD_MANAGER, undefined, undefined, PATCH_OPTIONS),
    paused: () => false,
  },
};

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

/** The patch that rolls a workload and records the versions it now runs. */
export function restartPatch(applied: Readonly<Record<string, string>>, versions: Readonly<Record<string, string>>, now: Date): object {
  const merged = Object.fromEntries(Object.entries({ ...applied, ...versions }).sort(([a], [b]) => a.localeCompare(b)));
  return {
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

export class WorkloadClient {
  constructor(private readonly api: k8s.AppsV1Api) {}

  async list(kind: WorkloadKind, namespace: string, labelSelector: string): Promise<WorkloadState[]> {
    const adapter = ADAPTERS[kind];
    const items = await adapter.list(this.api, namespace, labelSelector);
    return items
      .filter((o) => o.metadata?.name && !o.metadata.deletionTimestamp)
      .map((o) => ({
        kind,
        namespace,
        name: o.metadata!.name!,
        paused: adapter.paused(o),
        appliedVersions: parseAppliedVersions(o.spec?.template?.metadata?.annotations),
      }));
  }

  async restart(w: WorkloadRef, applied: Readonly<Record<string, string>>, versions: Readonly<Record<string, string>>, now: Date): Promise<void> {
    await ADAPTERS[w.kind].patch(this.api, w.namespace, w.name, restartPatch(applied, versions, now));
  }
}
