/** Wiring only: configuration, clients, the mapping watcher, leadership, the SQS loop, HTTP. */
import os from 'node:os';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { ConfigError, loadConfig, type Config } from './config';
import { startHttpServer } from './http/server';
import { Limiter, withLimit } from './kube/limit';
import { withTimeout } from './kube/timeout';
import { LeaderElector } from './leader/lease';
import { createLogger, errorMessage } from './log';
import { MappingIndex } from './mappings/index';
import { EventRecorder, StatusReconciler } from './mappings/status';
import { MappingWatcher } from './mappings/watcher';
import { createMetrics } from './metrics';
import { checkDrift } from './rotation/drift';
import { Rotator } from './rotation/rotator';
import { AwsSecretDescriber } from './secrets/describer';
import { SqsConsumer } from './sqs/consumer';
import { WorkloadClient } from './workloads/adapters';

function readConfig(): Config {
  try {
    return loadConfig(process.env, os.hostname());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  // Said once, as a JSON log line, instead of the SDK's multi-line warning on stderr.
  if (Number(process.versions.node.split('.')[0]) < 22) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    log.warn('running on Node.js below 22: AWS SDK for JavaScript releases after January 2027 require Node.js 22', { node: process.version });
  }
  const metrics = createMetrics();
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: errorMessage(reason) }));

  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const index = new MappingIndex();
  // One bound for every request of the rotation path and status (Lease renewals and watches stay apart).
  const apiLimiter = new Limiter(config.maxConcurrentRestarts);
  const watcher = new MappingWatcher({ namespaces: config.watchNamespaces, index, log, kubeConfig: kc, limiter: apiLimiter });
  const workloads = new WorkloadClient(withLimit(withTimeout(kc.makeApiClient(k8s.AppsV1Api)), apiLimiter));
  // AWS calls get deadlines too; a long poll may take waitTimeSeconds before answering.
  const awsTimeouts = (ms: number) => ({ requestHandler: { connectionTimeout: 5_000, requestTimeout: ms, throwOnRequestTimeout: true } });
  const describer = new AwsSecretDescriber(new SecretsManagerClient({ region: config.region, ...awsTimeouts(10_000) }));
  const identity = config.leaderElection.identity;
  const status = new StatusReconciler({
    watcher,
    workloads,
    describer,
    region: config.region,
    log,
    concurrency: config.maxConcurrentRestarts,
    onBacklog: (n) => metrics.statusBacklog.set(n),
  });
  watcher.onChange((key, kind) => {
    metrics.mappings.set(index.size);
    // A status-only change (most often our own write, or a resync's relist) needs a
    // reconcile only when the status is behind the spec.
    if (kind === 'spec') status.enqueue(key);
    else status.enqueueIfBehind(key);
  });
  const rotator = new Rotator({
    index,
    workloads,
    describer,
    status,
    events: new EventRecorder(withLimit(withTimeout(kc.makeApiClient(k8s.CoreV1Api)), apiLimiter), identity),
    metrics,
    log,
    region: config.region,
    dryRun: config.dryRun,
    allowedAccountIds: config.allowedAccountIds,
    allowedRegions: config.allowedRegions,
  });
  // With an explicit endpoint (an emulator), queue URLs may name another host: call the endpoint.
  const explicitEndpoint = Boolean(process.env.AWS_ENDPOINT_URL_SQS || process.env.AWS_ENDPOINT_URL);
  const consumer = new SqsConsumer({
    // A receive that has not answered 5 s after its long poll ends never will (a frozen endpoint):
    // it fails, is logged, and the loop backs off. The loop is the retry: the SDK's own
    // retries would hide an outage behind three timeouts.
    sqs: new SQSClient({ region: config.region, useQueueUrlAsEndpoint: !explicitEndpoint, maxAttempts: 1, ...awsTimeouts((config.waitTimeSeconds + 5) * 1000) }),
    queueUrl: config.queueUrl,
    handler: rotator,
    metrics,
    log,
    waitTimeSeconds: config.waitTimeSeconds,
    maxMessages: config.maxMessages,
    visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    coalesceWindowMs: config.coalesceWindowMs,
  });

  let driftTimer: NodeJS.Timeout | undefined;
  const runDrift = () =>
    checkDrift({ index, describer, rotate: (c) => rotator.rotate(c), recordBaseline: (m, v) => status.recordBaseline(m, v), metrics, log, region: config.region }).catch((err) =>
      log.error('drift check failed', { error: errorMessage(err) }),
    );
  const lead = () => {
    metrics.leader.set(1);
    status.activate();
    void consumer.checkQueue();
    consumer.start();
    if (config.driftCheckIntervalSeconds > 0) {
      void runDrift();
      driftTimer = setInterval(() => void runDrift(), config.driftCheckIntervalSeconds * 1000);
    }
  };
  const follow = async () => {
    metrics.leader.set(0);
    if (driftTimer) clearInterval(driftTimer);
    status.deactivate();
    await consumer.stop();
  };

  const le = config.leaderElection;
  const elector = le.enabled
    ? new LeaderElector({
        // A renewal that cannot finish within a retry period counts as failed, so a leader
        // cut off from the API server steps down before its lease can expire.
        api: withTimeout(kc.makeApiClient(k8s.CoordinationV1Api), le.retryPeriodSeconds * 1000),
        name: le.leaseName,
        namespace: le.namespace,
        identity,
        leaseDurationSeconds: le.leaseDurationSeconds,
        renewDeadlineSeconds: le.renewDeadlineSeconds,
        retryPeriodSeconds: le.retryPeriodSeconds,
        log,
        onStartedLeading: lead,
        onStoppedLeading: follow,
      })
    : undefined;

  let shuttingDown = false;
  const server = await startHttpServer(config.httpPort, metrics.registry, {
    ready: () =>
      shuttingDown
        ? { ok: false, reason: 'shutting down' }
        : watcher.ready
          ? { ok: true, reason: elector?.isLeader === false ? 'ready (follower, idle)' : 'ready' }
          : { ok: false, reason: 'not in sync with the Kubernetes API server' },
  });

  log.info('starting', {
    queueUrl: config.queueUrl,
    region: config.region,
    watchNamespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces.join(',') : '(all)',
    dryRun: config.dryRun,
    leaderElection: config.leaderElection.enabled,
    identity,
    httpPort: config.httpPort,
  });
  await watcher.startWatching(config.resyncIntervalSeconds);

  if (elector) elector.start();
  else lead();

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info('shutting down: finishing in-flight work', { signal });
    if (elector) await elector.stop();
    await follow();
    watcher.stop();
    server.close();
    log.info('stopped');
    log.on('finish', () => process.exit(0));
    log.end();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`fatal: ${errorMessage(err)}\n`);
  process.exit(1);
});
