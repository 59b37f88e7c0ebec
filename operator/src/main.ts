/** Wiring only: configuration, clients, the mapping watcher, leadership, the SQS loop, HTTP; what runs when is lifecycle.ts. */
import os from 'node:os';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { ConfigError, loadConfig, TUNING, type Config } from './config';
import { startHttpServer } from './http/server';
import { kubeAgent, withAgent } from './kube/connections';
import { ServedCache, servesResource } from './kube/discovery';
import { EventRecorder } from './mappings/events';
import { Limiter, withLimit } from './kube/limit';
import { withTimeout, type KubeApi } from './kube/timeout';
import { whereAmI } from './kube/where';
import { Fence, SoleLeader, withFence, type Term } from './leader/fence';
import { LeaderElector } from './leader/lease';
import { Lifecycle } from './lifecycle';
import { createLogger, errorMessage } from './core/log';
import { WorkloadCensus } from './mappings/census';
import { MappingIndex } from './mappings/mappingIndex';
import { StatusReconciler } from './mappings/status';
import { MappingWatcher } from './mappings/watcher';
import { createMetrics } from './core/metrics';
import { operatorVersion } from './version';
import { Discovery } from './discovery/discovery';
import { sourcesAsMappings } from './discovery/model';
import { EsoRefresher } from './discovery/esoRefresh';
import { DiscoveryReporter } from './discovery/reporter';
import { DiscoveredSources } from './discovery/sources';
import { SourceRecords } from './discovery/rolloutRecords';
import { WebhookNotifier } from './notify/webhook';
import { DriftScheduler, checkDrift } from './rotation/drift';
import type { RecordedVersion } from './secrets/versionOrder';
import { GiveWay, RotationLane } from './rotation/lane';
import { Rollouts } from './rotation/rollouts';
import { Rotator } from './rotation/rotator';
import { compileWindows } from './rollout/windows';
import { AwsSecretDescriber } from './secrets/describer';
import { SecretListing } from './secrets/listing';
import { RecentDescriptions } from './secrets/recent';
import { secretScope } from './secrets/secretId';
import { SqsConsumer } from './sqs/consumer';
import { Intake } from './sqs/intake';
import { podLister, WorkloadClient, type CustomResourceAccess } from './workloads/adapters';
import { customResourceKinds } from './workloads/kinds';
import { servedKinds } from './workloads/workload';
import type { ResourceName } from './kube/discovery';

function readConfig(kc: k8s.KubeConfig): Config {
  try {
    return loadConfig(process.env, os.hostname(), whereAmI(kc));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const config = readConfig(kc);
  const log = createLogger(config.logLevel);
  // Said once, as a JSON log line, instead of the SDK's multi-line warning on stderr.
  if (Number(process.versions.node.split('.')[0]) < 22) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    log.warn('running on Node.js below 22: AWS SDK for JavaScript releases after January 2027 require Node.js 22', { node: process.version });
  }
  const build = { version: operatorVersion(), nodeVersion: process.version };
  const metrics = createMetrics(true, build);
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: errorMessage(reason) }));

  // Every Kubernetes client below shares one pool of kept-alive connections (kube/connections.ts).
  const agent = await kubeAgent(kc);
  const scope = secretScope(config.home, config.allowedAccountIds, config.allowedRegions);
  const index = new MappingIndex(scope);
  const requestMs = config.kubeRequestTimeoutSeconds * 1000;
  // One bound for every request of the rotation path and status (Lease renewals and watches stay apart).
  const apiLimiter = new Limiter(config.maxConcurrentApiRequests);
  const identity = config.leaderElection.identity;

  // Leadership first: every write below is fenced by it (leader/fence.ts). What leading
  // and following start and stop is the lifecycle's (lifecycle.ts), built once its parts are.
  let life: Lifecycle | undefined;
  const le = config.leaderElection;
  const leadership = le.enabled
    ? new LeaderElector({
        // A renewal that cannot finish within a retry period counts as failed, so a leader
        // cut off from the API server steps down before its lease can expire.
        api: withTimeout(withAgent(kc.makeApiClient(k8s.CoordinationV1Api), agent), le.retryPeriodSeconds * 1000),
        name: le.leaseName,
        namespace: le.namespace,
        identity,
        leaseDurationSeconds: le.leaseDurationSeconds,
        renewDeadlineSeconds: le.renewDeadlineSeconds,
        retryPeriodSeconds: le.retryPeriodSeconds,
        log,
        onStartedLeading: (term) => life?.lead(term),
        onStoppedLeading: () => life?.follow(),
      })
    : new SoleLeader({ onStartedLeading: (term) => life?.lead(term), onStoppedLeading: () => life?.follow() });
  const fence = new Fence(leadership);
  /** Deadline, fence (writes only), then the shared limiter: a request waits for a slot, is checked, then sent. */
  const guarded = <T extends KubeApi>(api: T, limiter = apiLimiter): T => withLimit(withFence(withTimeout(withAgent(api, agent), requestMs), fence), limiter);

  const kinds = servedKinds(config.argoRollouts);
  const watcher = new MappingWatcher({ namespaces: config.watchNamespaces, index, log, kubeConfig: kc, agent, limiter: apiLimiter, fence, writeTimeoutMs: requestMs, kinds });
  const workloads = new WorkloadClient(guarded(kc.makeApiClient(k8s.AppsV1Api)), Object.fromEntries(customResourceKinds(kinds).map(([kind, resource]) => [kind, customResourceAccess(kind, resource)])));
  /** A served kind that is a custom resource (workloads/kinds.ts), asked whether its API is served before any is listed (kube/discovery.ts). */
  function customResourceAccess(kind: string, resource: ResourceName): CustomResourceAccess {
    const api = `${resource.group}/${resource.version}`;
    const served = new ServedCache(() => apiLimiter.run(() => servesResource(kc, agent, resource, requestMs)), {
      presentMaxAgeMs: TUNING.customResourceServedMaxAgeMs,
      absentMaxAgeMs: TUNING.customResourceAbsentMaxAgeMs,
      onChange: (isServed) =>
        isServed
          ? log.info(`${kind} API is served: mappings may select ${kind}s`, { api })
          : log.warn(`${kind} API is not served (its CRD is not installed): mappings select no ${kind} until it is`, { api }),
    });
    return { api: guarded(kc.makeApiClient(k8s.CustomObjectsApi)), served: () => served.served(), forget: () => served.forget() };
  }
  // AWS calls get deadlines too; a long poll may take waitTimeSeconds before answering.
  const awsTimeouts = (ms: number) => ({ requestHandler: { connectionTimeout: 5_000, requestTimeout: ms, throwOnRequestTimeout: true } });
  const describer = new AwsSecretDescriber(new SecretsManagerClient({ region: config.region, ...awsTimeouts(10_000) }));
  const status = new StatusReconciler({
    watcher,
    writer: watcher.statusWriter,
    // One list per kind and namespace for a moment, shared by its mappings (mappings/census.ts).
    census: new WorkloadCensus((kind, namespace) => workloads.labels(kind, namespace), TUNING.censusListMaxAgeMs),
    // Baselines of one secret's mappings share a description (secrets/recent.ts).
    describer: new RecentDescriptions(describer, TUNING.baselineDescriptionMaxAgeMs),
    region: config.region,
    log,
    concurrency: config.maxConcurrentApiRequests,
    onBacklog: (n) => metrics.statusBacklog.set(n),
    fence,
    kinds,
  });
  watcher.onChange((key, part) => {
    metrics.mappings.set(index.size);
    // A status-only change (most often our own write, or a resync's relist) needs a
    // reconcile only when the status is behind the spec.
    if (part === 'spec') status.enqueue(key);
    else status.enqueueIfBehind(key);
  });
  // Rotation notifications leave from a bounded queue of their own, sent by the leader only.
  const notifier = config.notify ? new WebhookNotifier({ ...config.notify, fence, metrics, log }) : undefined;
  const events = new EventRecorder(guarded(kc.makeApiClient(k8s.CoreV1Api)), identity);
  // Discovery (opt-in): ExternalSecrets and SecretProviderClasses as mappings (discovery/).
  const dc = config.discovery;
  const discoveryOn = dc.externalSecrets || dc.providerClasses;
  const discoveryApi = discoveryOn ? guarded(kc.makeApiClient(k8s.CustomObjectsApi)) : undefined;
  const sources = discoveryApi
    ? new DiscoveredSources({ api: discoveryApi, namespaces: config.watchNamespaces, externalSecrets: dc.externalSecrets, providerClasses: dc.providerClasses, log, maxAgeMs: TUNING.discoveryListMaxAgeMs })
    : undefined;
  const discovery =
    sources && discoveryApi ? new Discovery({ sources, refresher: new EsoRefresher({ api: discoveryApi, timeoutMs: dc.esoSyncTimeoutSeconds * 1000, events, metrics, log }), scope, kinds }) : undefined;
  // The discovery pass lists and writes through clients of its own limiter (TUNING.discoveryMaxConcurrentRequests).
  const discoveryLimiter = new Limiter(TUNING.discoveryMaxConcurrentRequests);
  const reporter = discoveryOn
    ? new DiscoveryReporter({
        sources: new DiscoveredSources({
          api: guarded(kc.makeApiClient(k8s.CustomObjectsApi), discoveryLimiter),
          namespaces: config.watchNamespaces,
          externalSecrets: dc.externalSecrets,
          providerClasses: dc.providerClasses,
          log,
          maxAgeMs: TUNING.discoveryListMaxAgeMs,
        }),
        events: new EventRecorder(guarded(kc.makeApiClient(k8s.CoreV1Api), discoveryLimiter), identity),
        metrics,
        log,
        kinds: [...(dc.externalSecrets ? (['externalsecret'] as const) : []), ...(dc.providerClasses ? (['csi'] as const) : [])],
      })
    : undefined;
  // Each mapping's rollout (rotation/rollouts.ts): recorded in its status before anything is stamped, then paced by a loop;
  // a discovered source's likewise, recorded in an annotation on it (discovery/rolloutRecords.ts).
  const rollouts = config.dryRun
    ? undefined
    : new Rollouts({
        mappings: watcher,
        index,
        writer: watcher.statusWriter,
        workloads,
        events,
        metrics,
        log,
        chart: { ...config.rollouts, windows: compileWindows(config.rollouts.windows) },
        ...(config.rollouts.detectCrashLoop ? { pods: podLister(guarded(kc.makeApiClient(k8s.CoreV1Api))) } : {}),
        ...(sources && discoveryApi ? { sources: new SourceRecords({ sources, api: discoveryApi, workloads, kinds }) } : {}),
        ...(notifier ? { notifier } : {}),
      });
  const rotator = new Rotator({
    index,
    ...(rollouts ? { rollouts } : {}),
    workloads,
    describer,
    ...(discovery ? { discovery } : {}),
    status,
    events,
    ...(notifier ? { notifier } : {}),
    metrics,
    log,
    region: config.region,
    dryRun: config.dryRun,
  });
  // SQS batches and drift take turns on one serial path (rotation/lane.ts).
  const lane = new RotationLane();
  const consumer = new SqsConsumer({
    // A receive that has not answered 5 s after its long poll ends never will (a frozen endpoint):
    // it fails, is logged, and the loop backs off. The loop is the retry: the SDK's own
    // retries would hide an outage behind three timeouts.
    sqs: new SQSClient({ region: config.region, useQueueUrlAsEndpoint: !config.sqsEndpointSet, maxAttempts: 1, ...awsTimeouts((config.waitTimeSeconds + 5) * 1000) }),
    queueUrl: config.queueUrl,
    handler: new Intake({
      rotate: (changes, signal) => lane.run(() => rotator.handle(changes, signal), signal),
      allow: { accountIds: config.allowedAccountIds, regions: config.allowedRegions },
      metrics,
      log,
    }),
    metrics,
    log,
    waitTimeSeconds: config.waitTimeSeconds,
    maxMessages: config.maxMessages,
    visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    coalesceWindowMs: config.coalesceWindowMs,
    fence,
  });
  const listing = new SecretListing(describer, config.home, log);
  const sourceBaselines = new Map<string, RecordedVersion>();
  const drift = new DriftScheduler(
    config.driftCheckIntervalSeconds * 1000,
    (term, signal) =>
      fence.run(term, () =>
        checkDrift(
          {
            index,
            describer,
            listing,
            rotate: (changes, signal) => lane.run(() => rotator.rotate(changes, signal), signal),
            recordBaseline: (m, v) => status.recordBaseline(m, v),
            ...(sources ? { discovered: { sources: async () => sourcesAsMappings(await sources.snapshot(), kinds), workloads, baselines: sourceBaselines } } : {}),
            metrics,
            log,
            region: config.region,
          },
          signal,
        ),
      ),
    log,
  );

  // The rollout loop takes its turns on the rotation's serial path, as drift does, fenced by the term.
  // A pass gives way to batches (a burst is taken in first), but never for longer than rolloutPassMaxDeferMs.
  const passes = new GiveWay(TUNING.rolloutPassMaxDeferMs);
  const rolloutScheduler = rollouts
    ? new DriftScheduler(
        TUNING.rolloutPassIntervalMs,
        (term, signal) => passes.unless(lane.busy, () => fence.run(term, () => lane.run(() => rollouts.tick(signal), signal))),
        log,
        'rollout pass',
      )
    : undefined;
  const rolloutLoop =
    rollouts && rolloutScheduler
      ? {
          start: (term: Term) => rolloutScheduler.start(term),
          stop: async () => {
            await rolloutScheduler.stop();
            rollouts.stopped();
          },
        }
      : undefined;

  life = new Lifecycle({
    leadership,
    fence,
    consumer,
    status,
    drift,
    ...(rolloutLoop ? { rollouts: rolloutLoop } : {}),
    ...(reporter ? { reporter } : {}),
    ...(notifier ? { notifier, notifyTimeoutMs: config.notify!.timeoutMs } : {}),
    watcher,
    apiLimiter,
    metrics,
    log,
    identity,
    requestMs,
    leaseDurationMs: le.leaseDurationSeconds * 1000,
    driftEnabled: config.driftCheckIntervalSeconds > 0,
    // What discovery found, as Events and a gauge: at once, then this often, by the leader.
    discoveryPassIntervalMs: TUNING.discoveryPassIntervalMs,
  });
  life.startWatchdog();
  const server = await startHttpServer(config.httpPort, metrics.registry, { ready: () => life.ready() });

  log.info('starting', {
    release: build.version,
    node: build.nodeVersion,
    queueUrl: config.queueUrl,
    region: config.region,
    homeAccount: config.home.account ?? '(unknown)',
    watchNamespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces.join(',') : '(all)',
    dryRun: config.dryRun,
    workloadKinds: kinds.join(','),
    discovery: [dc.externalSecrets ? 'ExternalSecrets' : '', dc.providerClasses ? 'SecretProviderClasses' : ''].filter(Boolean).join(',') || 'off',
    ...(dc.externalSecrets ? { esoSyncTimeoutSeconds: dc.esoSyncTimeoutSeconds } : {}),
    leaderElection: config.leaderElection.enabled,
    ...(le.enabled ? { leaseNamespace: le.namespace, leaseNamespaceFrom: le.namespaceFrom } : {}),
    identity,
    httpPort: config.httpPort,
    ...(notifier ? { notifyWebhook: notifier.target } : {}),
  });
  await watcher.startWatching(config.resyncIntervalSeconds);
  leadership.start();

  process.on('SIGTERM', () => void life.shutdown('SIGTERM', server));
  process.on('SIGINT', () => void life.shutdown('SIGINT', server));
}

main().catch((err) => {
  process.stderr.write(`fatal: ${errorMessage(err)}\n`);
  process.exit(1);
});
