/** Kubernetes helpers for e2e tests against the local stack's real API server. */
import fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type SecretsRotationMapping } from '../../operator/src/mappings/model';
import { ROLLOUT_API, SECRET_VERSIONS_ANNOTATION, parseAppliedVersions, recordedAnnotations, type WorkloadKind } from '../../operator/src/workloads/workload';
import { CRD_FILE, REPO_ROOT } from '../stack/paths';
import { waitFor } from './wait';

export { CRD_FILE, REPO_ROOT };

export class Kube {
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly ext: k8s.ApiextensionsV1Api;
  readonly objects: k8s.KubernetesObjectApi;

  constructor(kubeconfigFile: string) {
    this.kc = new k8s.KubeConfig();
    this.kc.loadFromFile(kubeconfigFile);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.apps = this.kc.makeApiClient(k8s.AppsV1Api);
    this.custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    this.ext = this.kc.makeApiClient(k8s.ApiextensionsV1Api);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(this.kc);
  }

  /** Server-side apply of every document in a YAML file or string. */
  async apply(yamlText: string): Promise<void> {
    for (const doc of k8s.loadAllYaml(yamlText) as k8s.KubernetesObject[]) {
      if (!doc) continue;
      await this.objects.patch(doc, undefined, undefined, 'e2e', true, { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } });
    }
  }

  async installCrd(): Promise<void> {
    await this.apply(fs.readFileSync(CRD_FILE, 'utf8'));
    await waitFor('CRD established', async () => {
      const crd = (await this.ext.readCustomResourceDefinition(`${PLURAL}.${GROUP}`)).body;
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }

  async createNamespace(prefix: string): Promise<string> {
    const name = `${prefix}-${Math.random().toString(36).slice(2, 7)}`;
    await this.core.createNamespace({ metadata: { name, labels: { 'e2e.secrets-rotation-operator/test': 'true' } } });
    return name;
  }

  async deleteNamespace(name: string): Promise<void> {
    await this.core.deleteNamespace(name).catch(() => undefined);
  }

  /**
   * `updateStrategy`: StatefulSet/DaemonSet only (default RollingUpdate). `templateAnnotations`:
   * pod-template annotations it starts with (e.g. the versions of an earlier rotation).
   * `strategy`: a Rollout's `spec.strategy` (default a canary without steps).
   * `minReadySeconds`: Deployment only; a new pod counts as available that long after it is
   * Ready, so a restart takes that much longer to be healthy (kwok's pods are Ready in a second).
   */
  async createWorkload(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    labels: Record<string, string>,
    opts: { replicas?: number; paused?: boolean; updateStrategy?: 'OnDelete' | 'RollingUpdate'; templateAnnotations?: Record<string, string>; strategy?: Record<string, unknown>; envFromSecret?: string; minReadySeconds?: number } = {},
  ): Promise<void> {
    // envFromSecret: the container takes its environment from that Secret (a consumer of an ExternalSecret's target).
    const container = { name: 'app', image: 'nginx:1.27', ...(opts.envFromSecret ? { envFrom: [{ secretRef: { name: opts.envFromSecret } }] } : {}) };
    const template = {
      metadata: { labels: { ...labels, 'workload-name': name }, ...(opts.templateAnnotations ? { annotations: opts.templateAnnotations } : {}) },
      spec: { containers: [container], terminationGracePeriodSeconds: 0 },
    };
    const selector = { matchLabels: { 'workload-name': name } };
    const metadata = { name, namespace, labels };
    if (kind === 'Deployment') {
      await this.apps.createNamespacedDeployment(namespace, {
        metadata,
        spec: { replicas: opts.replicas ?? 1, selector, template, paused: opts.paused ?? false, ...(opts.minReadySeconds ? { minReadySeconds: opts.minReadySeconds } : {}), strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
      });
    } else if (kind === 'Rollout') {
      const { group, version, plural } = ROLLOUT_API;
      await this.custom.createNamespacedCustomObject(group, version, namespace, plural, {
        apiVersion: `${group}/${version}`,
        kind: 'Rollout',
        metadata,
        spec: { replicas: opts.replicas ?? 1, selector, template, strategy: opts.strategy ?? { canary: {} } },
      });
    } else if (kind === 'StatefulSet') {
      const updateStrategy = opts.updateStrategy ? { updateStrategy: { type: opts.updateStrategy } } : {};
      await this.apps.createNamespacedStatefulSet(namespace, { metadata, spec: { replicas: opts.replicas ?? 1, selector, template, serviceName: name, ...updateStrategy } });
    } else {
      const updateStrategy = opts.updateStrategy ? { updateStrategy: { type: opts.updateStrategy } } : {};
      await this.apps.createNamespacedDaemonSet(namespace, { metadata, spec: { selector, template, ...updateStrategy } });
    }
  }

  async readWorkload(kind: WorkloadKind, namespace: string, name: string): Promise<{ metadata?: k8s.V1ObjectMeta; spec?: { template?: k8s.V1PodTemplateSpec }; status?: Record<string, unknown> }> {
    if (kind === 'Deployment') return (await this.apps.readNamespacedDeployment(name, namespace)).body as never;
    if (kind === 'StatefulSet') return (await this.apps.readNamespacedStatefulSet(name, namespace)).body as never;
    if (kind === 'Rollout') return (await this.custom.getNamespacedCustomObject(ROLLOUT_API.group, ROLLOUT_API.version, namespace, ROLLOUT_API.plural, name)).body as never;
    return (await this.apps.readNamespacedDaemonSet(name, namespace)).body as never;
  }

  /** The secret versions the operator recorded (on the pod template; on a Rollout, on the Rollout itself). */
  async appliedVersions(kind: WorkloadKind, namespace: string, name: string): Promise<Record<string, string>> {
    return parseAppliedVersions(recordedAnnotations(kind, (await this.readWorkload(kind, namespace, name)) as never));
  }

  async templateAnnotation(kind: WorkloadKind, namespace: string, name: string): Promise<string | undefined> {
    return (await this.readWorkload(kind, namespace, name)).spec?.template?.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION];
  }

  /** Pods of one workload (by the label the helpers put on every template). */
  async pods(namespace: string, workloadName: string): Promise<k8s.V1Pod[]> {
    return (await this.core.listNamespacedPod(namespace, undefined, undefined, undefined, undefined, `workload-name=${workloadName}`)).body.items;
  }

  async runningPodNames(namespace: string, workloadName: string): Promise<string[]> {
    return (await this.pods(namespace, workloadName))
      .filter(podIsRunning)
      .map((p) => p.metadata!.name!)
      .sort();
  }

  async waitForRunning(namespace: string, workloadName: string, count = 1, timeoutMs = 90_000): Promise<string[]> {
    return waitFor(
      `${count} running pod(s) of ${namespace}/${workloadName}`,
      async () => {
        const all = await this.pods(namespace, workloadName);
        const running = await this.runningPodNames(namespace, workloadName);
        return running.length === count && all.length === count ? running : undefined;
      },
      { timeoutMs },
    );
  }

  /** Waits until none of `oldPods` exists and `count` new pods run: the rollout really happened. */
  async waitForReplaced(namespace: string, workloadName: string, oldPods: string[], count = 1, timeoutMs = 120_000): Promise<string[]> {
    return waitFor(
      `pods of ${namespace}/${workloadName} replaced`,
      async () => {
        const all = (await this.pods(namespace, workloadName)).map((p) => p.metadata!.name!);
        const running = await this.runningPodNames(namespace, workloadName);
        const replaced = oldPods.every((p) => !all.includes(p)) && running.length === count && running.every((p) => !oldPods.includes(p));
        return replaced ? running : undefined;
      },
      { timeoutMs },
    );
  }

  async createMapping(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.createNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, spec });
  }

  async mapping(namespace: string, name: string): Promise<SecretsRotationMapping> {
    return (await this.custom.getNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, name)).body as SecretsRotationMapping;
  }

  async eventsFor(namespace: string, name: string): Promise<k8s.CoreV1Event[]> {
    return this.eventsOn(namespace, KIND, name);
  }

  /** Events about one object of `kind` (a mapping, an ExternalSecret, a workload, ...). */
  async eventsOn(namespace: string, kind: string, name: string): Promise<k8s.CoreV1Event[]> {
    return (await this.core.listNamespacedEvent(namespace, undefined, undefined, undefined, `involvedObject.name=${name},involvedObject.kind=${kind}`)).body.items;
  }

  /** Number of ReplicaSets a Deployment has had: one per rollout (plus the first). Found by owner, whatever the Deployment's labels. */
  async replicaSetCount(namespace: string, deployment: string): Promise<number> {
    const items = (await this.apps.listNamespacedReplicaSet(namespace)).body.items;
    return items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deployment)).length;
  }
}

/** Running, Ready and not being deleted: what counts as a pod that serves. */
export function podIsRunning(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** A ready-made error message out of client-node's HttpError. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { body?: { message?: string }; message?: string };
  return e.body?.message ?? e.message ?? String(err);
}
