/**
 * What a notification says about one rotation of one mapping. Pure. Secret-free: the
 * secret's id and version, never its value; the workloads and their results as
 * status.lastRotation records them (bounded). `text` is a one-line summary a Slack
 * incoming webhook (and most chat webhooks) shows as it is.
 */
import type { RotationSource } from '../core/origin';
import type { WorkloadRecord, WorkloadResult } from '../mappings/model';
import type { EventReason } from '../rotation/summary';
import type { MappingReport } from '../rotation/summary';
import type { RolloutHalt } from '../rotation/notifier';

export type NotificationOutcome = 'succeeded' | 'failed' | 'deferred' | 'incomplete' | 'dryRun' | 'halted';

export interface RotationNotification {
  /** Slack-compatible summary line. */
  readonly text: string;
  readonly outcome: NotificationOutcome;
  /** The Event's reason on the mapping (Rotated, RotationFailed, ..., CanaryUnhealthy for a halted rollout). */
  readonly reason: EventReason | 'CanaryUnhealthy';
  /** NOTIFY_CLUSTER_NAME, when set: which cluster speaks when several share a receiver. */
  readonly cluster?: string;
  readonly mapping: { readonly namespace: string; readonly name: string };
  /**
   * Where the rotation came from: a SecretsRotationMapping, or an ExternalSecret /
   * SecretProviderClass discovery found (then `mapping` names that object).
   */
  readonly source: RotationSource;
  /** The secret as the operator keys it (its ARN without the random suffix, or as named). */
  readonly secretId: string;
  readonly version: string;
  readonly eventId: string;
  readonly eventTime?: string;
  readonly completionTime: string;
  readonly summary: Partial<Record<WorkloadResult, number>>;
  readonly workloadCount: number;
  /** At most MAX_RECORDED_WORKLOADS (summary.ts), the most telling first. */
  readonly workloads: readonly WorkloadRecord[];
}

const OUTCOME_OF: Record<EventReason, NotificationOutcome> = {
  Rotated: 'succeeded',
  RotationFailed: 'failed',
  RotationDeferred: 'deferred',
  RotationIncomplete: 'incomplete',
  RotationDryRun: 'dryRun',
};

const HEADLINE: Record<NotificationOutcome, string> = {
  succeeded: 'Rotation succeeded',
  failed: 'Rotation FAILED',
  deferred: 'Rotation deferred',
  incomplete: 'Rotation not complete (retried)',
  dryRun: 'Rotation (dry run)',
  halted: 'Rollout HALTED',
};

export function notificationOf(report: MappingReport, cluster?: string): RotationNotification {
  const { mapping, change, summary } = report;
  const outcome = OUTCOME_OF[summary.eventReason];
  const where = cluster ? `[${cluster}] ` : '';
  return {
    text: slackEscape(`${where}${HEADLINE[outcome]} for ${mapping.origin ? mapping.origin.object.kind : 'mapping'} ${mapping.namespace}/${mapping.name}: ${summary.message}`),
    outcome,
    reason: summary.eventReason,
    ...(cluster ? { cluster } : {}),
    mapping: { namespace: mapping.namespace, name: mapping.name },
    source: mapping.origin?.source ?? 'mapping',
    secretId: change.secretKey,
    version: change.version,
    eventId: change.change.eventId,
    ...(summary.record.eventTime ? { eventTime: summary.record.eventTime } : {}),
    completionTime: summary.record.completionTime,
    summary: summary.record.summary ?? {},
    workloadCount: summary.record.workloadCount ?? summary.record.workloads.length,
    workloads: summary.record.workloads,
  };
}

/**
 * A rollout that halted: its canary was not healthy, nothing more is restarted until a
 * person acts (docs/rollouts.md). The workloads are the status's to tell (kubectl get srm).
 */
export function haltNotification(halt: RolloutHalt, cluster?: string): RotationNotification {
  const { mapping } = halt;
  const where = cluster ? `[${cluster}] ` : '';
  const [secretId = '', version = ''] = Object.entries(halt.versions)[0] ?? [];
  return {
    text: slackEscape(`${where}${HEADLINE.halted} for mapping ${mapping.namespace}/${mapping.name}: ${halt.message}`),
    outcome: 'halted',
    reason: 'CanaryUnhealthy',
    ...(cluster ? { cluster } : {}),
    mapping: { namespace: mapping.namespace, name: mapping.name },
    source: 'mapping',
    secretId,
    version,
    eventId: halt.eventId,
    completionTime: halt.at,
    summary: {},
    workloadCount: halt.workloadCount,
    workloads: [],
  };
}

/** Slack reads `&`, `<` and `>` as markup; its documented escapes keep them text. */
export function slackEscape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A URL fit for logs: scheme and host only (a webhook's path or query often is its token). */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}/…`;
}
