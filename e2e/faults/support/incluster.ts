/**
 * Fault injection with the operator as pods on the real node (helm install, its
 * image): kill -9 of a container's process (the kubelet restarts the container),
 * pod deletion (SIGTERM, then a new pod), and who holds the Lease. The workloads
 * under test stay on kwok: the ledger reads their ReplicaSets, not their containers.
 */
import { spawnSync } from 'node:child_process';
import { CoordinationV1Api, type V1Pod } from '@kubernetes/client-node';
import { installInCluster, releaseLogs, releasePods, uninstallInCluster, type InClusterRelease } from '../../support/realnode';
import type { E2eContext } from '../../support/context';
import { waitFor } from '../../support/wait';
import { FAULT_VALUES } from './fixture';
import { progress } from './progress';

export class InClusterOperator {
  private constructor(
    readonly ctx: E2eContext,
    readonly release: InClusterRelease,
  ) {}

  /** `helm install` (FAULT_VALUES + `values`) into `<name>-sys`; waits until available. */
  static async install(ctx: E2eContext, scenario: string, name: string, values: readonly string[] = []): Promise<InClusterOperator> {
    const releaseName = `${name}-${Math.random().toString(36).slice(2, 6)}`;
    const r = await installInCluster(ctx, releaseName, `${releaseName}-sys`, [...FAULT_VALUES, ...values]);
    progress(scenario, `installed chart release ${releaseName} in ${r.namespace}: operator pods on ${ctx.env.STACK_REAL_NODE}`);
    return new InClusterOperator(ctx, r);
  }

  async uninstall(): Promise<void> {
    await uninstallInCluster(this.ctx, this.release);
    await this.ctx.kube.deleteNamespace(this.release.namespace);
  }

  pods(): Promise<V1Pod[]> {
    return releasePods(this.ctx, this.release);
  }

  /**
   * Every log line of every container the release has run: the current containers'
   * and, for a restarted one, the previous container's (kubectl logs --previous).
   */
  async logs(): Promise<Record<string, unknown>[]> {
    const out = await releaseLogs(this.ctx, this.release);
    for (const pod of await this.pods()) {
      if (!pod.status?.containerStatuses?.[0]?.restartCount) continue;
      const prev = await this.ctx.kube.core
        .readNamespacedPodLog(pod.metadata!.name!, this.release.namespace, 'operator', undefined, undefined, undefined, undefined, true)
        .then((x) => String(x.body), () => '');
      for (const line of prev.split('\n')) {
        try {
          out.push({ pod: pod.metadata!.name, previous: true, ...(JSON.parse(line) as Record<string, unknown>) });
        } catch {
          /* not JSON */
        }
      }
    }
    return out;
  }

  async count(message: string): Promise<number> {
    return (await this.logs()).filter((l) => l.message === message).length;
  }

  /** The pod holding the Lease (its identity is the pod name). */
  async leader(): Promise<string | undefined> {
    return (await this.lease())?.holder;
  }

  /** The Lease's holder and when it acquired the Lease (ms since the epoch). */
  async lease(): Promise<{ holder: string; acquiredAt: number } | undefined> {
    const lease = await this.ctx.kube.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease(this.release.deploymentName, this.release.namespace)
      .then((x) => x.body, () => undefined);
    const holder = lease?.spec?.holderIdentity;
    return holder ? { holder, acquiredAt: new Date(String(lease.spec!.acquireTime)).getTime() } : undefined;
  }

  /** kill -9 of the operator container's process in `pod`, on the node; returns the host pid killed. */
  async kill9(pod: string): Promise<number> {
    const p = (await this.ctx.kube.core.readNamespacedPod(pod, this.release.namespace)).body;
    const id = p.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
    if (!id) throw new Error(`pod ${pod} has no running container`);
    const out = spawnSync('ctr', ['--address', this.ctx.env.STACK_CONTAINERD_SOCKET, '-n', 'k8s.io', 'tasks', 'ls'], { encoding: 'utf8' }).stdout ?? '';
    const pid = Number(out.split('\n').find((l) => l.startsWith(id))?.trim().split(/\s+/)[1]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no task for container ${id} of ${pod}`);
    process.kill(pid, 'SIGKILL');
    return pid;
  }

  /** How the operator container of `pod` ended last (after a kill: exit 137, reason Error). */
  async lastTermination(pod: string): Promise<{ restarts: number; exitCode?: number; signal?: number }> {
    const p = (await this.ctx.kube.core.readNamespacedPod(pod, this.release.namespace)).body;
    const cs = p.status?.containerStatuses?.[0];
    return { restarts: cs?.restartCount ?? 0, exitCode: cs?.lastState?.terminated?.exitCode, signal: cs?.lastState?.terminated?.signal };
  }

  /** Waits until `count` operator pods are Ready (none terminating). */
  async waitReady(count: number, timeoutMs = 120_000): Promise<string[]> {
    return waitFor(
      `${count} operator pod(s) Ready`,
      async () => {
        const pods = (await this.pods()).filter((p) => !p.metadata?.deletionTimestamp);
        const ready = pods.filter((p) => p.status?.containerStatuses?.[0]?.ready);
        return ready.length === count && pods.length === count ? ready.map((p) => p.metadata!.name!) : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Secret values found in any operator container's log. */
  async leaks(values: Iterable<string>): Promise<string[]> {
    const text = JSON.stringify(await this.logs());
    return [...values].filter((v) => text.includes(v)).map((v) => `secret value ${v} appears in an operator pod's log`);
  }
}
