/**
 * Report: what a batch did, told to whoever needs to know. Per mapping the batch moved
 * to a new version: its status (a discovered source has none), an Event on it, an Event
 * on each workload a discovered source rolled, the rotations metric, a log line and the
 * notifier. A write that fails is logged and never fails the change: the restarts are done.
 */
import { errorMessage, type Logger } from '../core/log';
import { mappingEventTarget } from '../mappings/events';
import type { WorkloadRecord } from '../mappings/model';
import type { EventPort, EventTarget, RotationStatusPort } from '../mappings/ports';
import type { Metrics } from '../core/metrics';
import { OPERATOR_NAME } from '../core/names';
import { KINDS, type WorkloadKind } from '../workloads/kinds';
import type { Rollout } from '../workloads/workload';
import type { RotationNotifier } from './notifier';
import { ROTATION_RESULT, type MappingReport } from './summary';

export interface ReportOptions {
  readonly status: RotationStatusPort;
  readonly events: EventPort;
  /** Told of each mapping's rotation after its status and Event are written (notify/webhook.ts). */
  readonly notifier?: RotationNotifier;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** Every report of a batch at once: the ports' limiter bounds the requests in flight. */
export async function writeReports(reports: readonly MappingReport[], opts: ReportOptions): Promise<void> {
  await Promise.all(reports.map((r) => writeReport(r, opts)));
}

/**
 * One status update and one Event for a mapping the batch moved to a new version. A
 * discovered source has no status: its Event goes on its object, and each workload it
 * rolled gets one of its own (nothing else tells a workload's owner why it rolled).
 */
export async function writeReport(report: MappingReport, opts: ReportOptions): Promise<void> {
  const { mapping, change, summary: s, appliedVersion } = report;
  const { status, events, notifier, metrics, log } = opts;
  const fields = { mapping: mapping.key, eventId: change.change.eventId, secret: change.secretKey, version: change.version };
  metrics.rotations.inc({ result: ROTATION_RESULT[s.eventReason], source: mapping.origin?.source ?? 'mapping' });
  if (!mapping.origin) {
    try {
      await status.recordRotation(mapping, s.record, s.succeeded, s.conditionReason, s.message, appliedVersion);
    } catch (err) {
      log.warn('writing rotation status failed', { ...fields, error: errorMessage(err) });
    }
  }
  const event = async (target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string) => {
    try {
      await events.record(target, type, reason, message);
    } catch (err) {
      log.warn('recording the Event failed', { ...fields, object: `${target.kind}/${target.namespace}/${target.name}`, error: errorMessage(err) });
    }
  };
  const origin = mapping.origin;
  await event(mappingEventTarget(mapping), s.succeeded ? 'Normal' : 'Warning', s.eventReason, s.message);
  if (origin) {
    const rolled = s.record.workloads.filter((w) => w.result === 'Restarted' || w.result === 'Deferred' || w.result === 'Pending');
    const why = `for AWS secret ${change.secretKey} version ${change.version}, which ${origin.object.kind} ${origin.object.name} reads`;
    await Promise.all(rolled.map((w) => event(workloadEventTarget(w.kind, mapping.namespace, w.name), 'Normal', w.result, `${told(w)} by ${OPERATOR_NAME} ${why}`)));
  }
  log.info('rotation handled', { ...fields, result: s.eventReason, summary: s.record.summary, workloads: s.message });
  notifier?.rotated(report);
}

/** What became of a source's consumer: restarted, stamped to roll later (paused, OnDelete), or held by the source's rollout (not stamped yet). */
function told(w: WorkloadRecord): string {
  if (w.result === 'Restarted') return 'restarted';
  const paused: Rollout = 'Paused';
  if (w.result === 'Deferred' && w.reason !== paused) return `to be restarted when its turn comes: ${w.reason ?? w.result}`;
  return `stamped (${w.reason ?? w.result}: rolls later)`;
}

function workloadEventTarget(kind: WorkloadKind, namespace: string, name: string): EventTarget {
  return { apiVersion: KINDS[kind].apiVersion, kind, namespace, name };
}
