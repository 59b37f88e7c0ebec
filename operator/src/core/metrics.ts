/**
 * Prometheus metrics (prom-client). Names follow `<app>_<what>_total|_seconds`
 * with few, bounded labels; every metric is declared here and nowhere else. The
 * Node.js process metrics keep prom-client's standard names.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OPERATOR_NAME } from './names';

const P = OPERATOR_NAME.replaceAll('-', '_');
/** Every metric's name starts with this but the process metrics' (tests, the bench and the demo import it). */
export const METRIC_PREFIX = `${P}_`;

/** What `build_info` says of the running operator. */
export interface BuildInfo {
  /** package.json's version (operator/src/version.ts). */
  readonly version: string;
  /** `process.version`. */
  readonly nodeVersion: string;
}

/** `build`: the running operator's; without it build_info is declared with no series (tests). */
export function createMetrics(defaultMetrics = true, build?: BuildInfo) {
  const registry = new Registry();
  // prom-client's own names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...),
  // without our prefix: the generic Node.js dashboards and alerts read those names.
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buildInfo = new Gauge({
    name: `${P}_build_info`,
    help: 'Always 1; its labels say which release (version) runs on which Node.js (node_version).',
    labelNames: ['version', 'node_version'],
    registers,
  });
  if (build) buildInfo.set({ version: build.version, node_version: build.nodeVersion }, 1);
  return {
    registry,
    messagesReceived: new Counter({ name: `${P}_messages_received_total`, help: 'SQS messages received.', registers }),
    messagesIgnored: new Counter({
      name: `${P}_messages_ignored_total`,
      help: 'Messages acknowledged without a restart (not a change, not allowed, no mapping).',
      labelNames: ['reason'],
      registers,
    }),
    messagesMalformed: new Counter({
      name: `${P}_messages_malformed_total`,
      help: 'Messages that could not be interpreted; left for the dead-letter queue.',
      labelNames: ['code'],
      registers,
    }),
    messagesFailed: new Counter({ name: `${P}_messages_failed_total`, help: 'Messages whose restarts failed; left for redelivery.', registers }),
    messagesDeleted: new Counter({ name: `${P}_messages_deleted_total`, help: 'Messages deleted after handling.', registers }),
    rotations: new Counter({
      name: `${P}_rotations_total`,
      help: 'Rotations to a new secret version by result (rotated, deferred: a workload rolls later, dry_run, failed: a workload restart failed and the change is retried, incomplete: workloads held back for ESO or not listed, the change is retried) and source (mapping, or what discovery found: externalsecret, csi).',
      labelNames: ['result', 'source'],
      registers,
    }),
    restarts: new Counter({
      name: `${P}_restarts_total`,
      help: 'Workload restart decisions by kind and result.',
      labelNames: ['kind', 'result'],
      registers,
    }),
    eventToRestartSeconds: new Histogram({
      name: `${P}_event_to_restart_seconds`,
      // EventBridge event times have whole seconds: this one cannot resolve less.
      help: 'Time from the AWS event (its time field, whole seconds) to the restart patch being accepted.',
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    }),
    queueToRestartSeconds: new Histogram({
      name: `${P}_queue_to_restart_seconds`,
      help: 'Time from the message entering the queue (SQS SentTimestamp) to the restart patch being accepted: the operator\'s own latency.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    batchSeconds: new Histogram({
      name: `${P}_batch_seconds`,
      help: 'Time to handle one batch of messages (interpret, resolve, plan, restart, status), SQS calls excluded.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    matchSeconds: new Histogram({
      name: `${P}_match_seconds`,
      help: 'Time to find the mappings that name one changed secret (index lookup).',
      buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01],
      registers,
    }),
    sqsReceiveCalls: new Counter({ name: `${P}_sqs_receive_calls_total`, help: 'ReceiveMessage calls made.', registers }),
    sqsLastReceive: new Gauge({
      name: `${P}_sqs_last_receive_timestamp_seconds`,
      help: 'Unix time at which SQS last answered a ReceiveMessage call (0 before the first): the consumer is alive and reaches its queue.',
      registers,
    }),
    sqsErrors: new Counter({ name: `${P}_sqs_errors_total`, help: 'Failed SQS calls by operation.', labelNames: ['operation'], registers }),
    driftDetected: new Counter({ name: `${P}_drift_detected_total`, help: 'Secrets found on a newer version than applied by drift recovery.', registers }),
    statusBacklog: new Gauge({ name: `${P}_status_backlog`, help: 'Mappings waiting for their status to be written (all of them right after a leader starts).', registers }),
    esoSyncFailures: new Counter({
      name: `${P}_eso_sync_failures_total`,
      help: 'ExternalSecrets ESO did not sync when asked, by reason (timeout, not_refreshable: refreshInterval 0 or CreatedOnce, failed: its Ready condition turned False, error: the request failed); their consumers did not roll and the change is retried.',
      labelNames: ['reason'],
      registers,
    }),
    discoveredSources: new Gauge({
      name: `${P}_discovered_sources`,
      help: 'ExternalSecrets (source=externalsecret) and SecretProviderClasses (source=csi) found naming an AWS Secrets Manager secret, at the last discovery pass.',
      labelNames: ['source'],
      registers,
    }),
    mappings: new Gauge({ name: `${P}_mappings`, help: 'Valid mappings in the index.', registers }),
    leader: new Gauge({ name: `${P}_leader`, help: '1 while this replica holds the lease and consumes SQS.', registers }),
    notifications: new Counter({
      name: `${P}_notifications_total`,
      help: 'Rotation notifications to the webhook by result: sent, failed (refused, or not delivered by its deadline), queue_full, not_leader, shutdown (not sent, each logged).',
      labelNames: ['result'],
      registers,
    }),
    notificationsQueued: new Gauge({ name: `${P}_notifications_queued`, help: 'Rotation notifications waiting to be sent to the webhook.', registers }),
    rolloutWorkloads: new Gauge({
      name: `${P}_rollout_workloads`,
      help: "Workloads of the rollouts in progress, at the rollout loop's last pass, by state: rolling (stamped, not yet healthy: they count against rollouts.maxConcurrent), waiting (not stamped yet), halted (not stamped, their rollout halted).",
      labelNames: ['state'],
      registers,
    }),
    rolloutsHaltedNow: new Gauge({ name: `${P}_rollouts_halted`, help: "Rollouts halted now (a canary was not healthy), at the rollout loop's last pass; 0 on a follower.", registers }),
    rolloutsHalted: new Counter({ name: `${P}_rollouts_halted_total`, help: 'Rollouts halted because a canary was not healthy (nothing more is restarted until a newer version, resume or abandon).', registers }),
    rolloutCompleteSeconds: new Histogram({
      name: `${P}_rollout_complete_seconds`,
      help: "Time from a rollout's first change to its last workload healthy (settling and windows included).",
      buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
