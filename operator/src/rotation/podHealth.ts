/**
 * The rollout loop's early failure signal (workloads/pods.ts): before a step, each
 * workload the record has stamped and that is still rolling has its new pods read; one in
 * CrashLoopBackOff counts as failed now, not at its health deadline, so a canary on a bad
 * secret halts the rollout within seconds. Only kinds that stamp the pod template (the
 * pods carry the versions); an Argo Rollout says Degraded itself. Reading pods needs
 * `list` on pods (the chart's rollouts.detectCrashLoop); a failed read changes nothing:
 * the health deadline still holds.
 */
import { errorMessage, type Logger } from '../core/log';
import type { RolloutRecord } from '../rollout/engine';
import { KINDS } from '../workloads/kinds';
import { crashLoopOf, type ListPods } from '../workloads/pods';
import { recordsAll, type WorkloadState } from '../workloads/workload';
import { rolloutId } from './rolloutState';

/** `listed` with the health of each stamped, still rolling workload whose new pods crash-loop set to failed. */
export async function withPodHealth(listed: readonly WorkloadState[], record: RolloutRecord, listPods: ListPods, log: Logger, mapping: string): Promise<WorkloadState[]> {
  return Promise.all(
    listed.map(async (w) => {
      const i = record.workloads.indexOf(rolloutId(w));
      const rollingNow = i >= 0 && record.states[i] === 's' && w.health === 'progressing';
      if (!rollingNow || !w.podSelector || KINDS[w.kind].recordedOn !== 'podTemplate' || !recordsAll(w.appliedVersions, record.versions)) return w;
      try {
        const crash = crashLoopOf(await listPods(w.namespace, w.podSelector), record.versions);
        return crash ? { ...w, health: { failed: `its new pods crash-loop: ${crash}` } } : w;
      } catch (err) {
        log.warn('reading the pods of a rolling workload failed; its health deadline still holds', { mapping, workload: rolloutId(w), error: errorMessage(err) });
        return w;
      }
    }),
  );
}
