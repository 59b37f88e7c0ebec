/**
 * A stamped workload's new pods, read for the one failure its own status shows late:
 * containers in CrashLoopBackOff. A Deployment whose new pods crash says so only when its
 * progress deadline passes (600 s by default), long after a canary is known bad. Pure:
 * the pods' facts, their selector, the verdict. The shell is rotation/podHealth.ts.
 */
import type * as k8s from '@kubernetes/client-node';
import { parseAppliedVersions, recordsAll } from './workload';

/** What the operator reads of a pod: its name, the versions its template was stamped with, its waiting containers. */
export interface PodFacts {
  readonly name: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly waiting: readonly { readonly container: string; readonly reason: string; readonly restarts: number }[];
}

export function podFacts(pod: k8s.V1Pod): PodFacts {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return {
    name: pod.metadata?.name ?? '',
    // A pod carries its template's annotations: the stamp's versions are on it.
    versions: parseAppliedVersions(pod.metadata?.annotations),
    waiting: statuses.flatMap((c) => (c.state?.waiting?.reason ? [{ container: c.name, reason: c.state.waiting.reason, restarts: c.restartCount ?? 0 }] : [])),
  };
}

/** The pods of `namespace` that `labelSelector` selects (the shell: workloads/adapters.ts podLister). */
export type ListPods = (namespace: string, labelSelector: string) => Promise<PodFacts[]>;

/** The kubelet's name for a container it restarts with a growing back-off after it exited. */
export const CRASH_LOOP = 'CrashLoopBackOff';

/** What a crash-looping pod of `versions` shows, for the halt's message; undefined when none crash-loops (old pods do not count). */
export function crashLoopOf(pods: readonly PodFacts[], versions: Readonly<Record<string, string>>): string | undefined {
  for (const p of pods) {
    if (!recordsAll(p.versions, versions)) continue;
    const c = p.waiting.find((w) => w.reason === CRASH_LOOP);
    if (c) return `pod ${p.name}: container ${c.container} in ${CRASH_LOOP} (${c.restarts} restart${c.restarts === 1 ? '' : 's'})`;
  }
  return undefined;
}

/**
 * A workload's spec.selector as a label selector string (what a list takes); undefined
 * when it selects nothing it could say (no selector, or an operator the API does not
 * define: the pods are then not read).
 */
export function podSelectorOf(selector: k8s.V1LabelSelector | undefined): string | undefined {
  const labels = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const expressions = (selector?.matchExpressions ?? []).map((e) => {
    const values = `(${(e.values ?? []).join(',')})`;
    switch (e.operator) {
      case 'In':
        return `${e.key} in ${values}`;
      case 'NotIn':
        return `${e.key} notin ${values}`;
      case 'Exists':
        return e.key;
      case 'DoesNotExist':
        return `!${e.key}`;
      default:
        return undefined;
    }
  });
  if (expressions.includes(undefined)) return undefined;
  const all = [...labels, ...expressions];
  return all.length > 0 ? all.join(',') : undefined;
}
