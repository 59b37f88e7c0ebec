/**
 * Configuration from the environment (README.md, "Configuration").
 * Pure: `loadConfig(env, hostname, where)` either returns a complete Config or throws a
 * ConfigError naming the one variable that is missing or malformed. Where the process
 * runs (`where`) is found by the shell (kube/where.ts) and passed in.
 */
import { OPERATOR_NAME } from './core/names';
import type { Where } from './kube/where';
import type { LogLevel } from './core/log';
import { SQS_LIMITS } from './sqs/limits';
import { compileWindows, type RestartWindow } from './rollout/windows';

export interface Config {
  readonly queueUrl: string;
  readonly region: string;
  /**
   * The queue's account and region (from SQS_QUEUE_URL, the region falling back to
   * AWS_REGION): a secret named by name or partial ARN lives there unless
   * ALLOWED_ACCOUNT_IDS / ALLOWED_REGIONS say otherwise.
   */
  readonly home: { readonly account?: string; readonly region: string };
  /** Empty: every namespace. */
  readonly watchNamespaces: readonly string[];
  readonly logLevel: LogLevel;
  readonly httpPort: number;
  readonly dryRun: boolean;
  /**
   * Most requests to the API server the rotation path and status have in flight at once:
   * workload lists, restart patches, status writes and Events together.
   */
  readonly maxConcurrentApiRequests: number;
  /** Deadline of one request to the API server (watches and full relists aside). */
  readonly kubeRequestTimeoutSeconds: number;
  /**
   * AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL is set (an emulator): SQS is called there,
   * not at the queue URL's host, which may name another.
   */
  readonly sqsEndpointSet: boolean;
  readonly waitTimeSeconds: number;
  readonly maxMessages: number;
  readonly visibilityTimeoutSeconds: number;
  /** After messages arrive, keep receiving until the queue is quiet this long; one batch. */
  readonly coalesceWindowMs: number;
  readonly resyncIntervalSeconds: number;
  /** 0 disables drift recovery. */
  readonly driftCheckIntervalSeconds: number;
  /** Empty: any. */
  readonly allowedAccountIds: readonly string[];
  readonly allowedRegions: readonly string[];
  /** Rotation notifications to a webhook (notify/webhook.ts); absent without NOTIFY_WEBHOOK_URL. */
  readonly notify?: NotifyConfig;
  /**
   * Argo Rollouts' Rollout is a workload kind: listed and restarted (spec.restartAt)
   * where its CRD is installed. Off: the operator never lists or patches a Rollout, and
   * refuses a mapping that names the kind.
   */
  readonly argoRollouts: boolean;
  /** What discovery (discovery/) looks at besides mappings; both off by default. */
  readonly discovery: DiscoveryConfig;
  /** The chart-wide rollout policy (docs/rollouts.md); a mapping's spec.rollout overrides it field by field. */
  readonly rollouts: RolloutsConfig;
  readonly leaderElection: {
    readonly enabled: boolean;
    readonly leaseName: string;
    readonly namespace: string;
    /** Where the Lease's namespace came from: said in the start-up log. */
    readonly namespaceFrom: LeaseNamespaceSource;
    readonly identity: string;
    readonly leaseDurationSeconds: number;
    readonly renewDeadlineSeconds: number;
    readonly retryPeriodSeconds: number;
  };
}

export interface NotifyConfig {
  /** May hold a token: never logged in full (notify/payload.ts redactUrl). */
  readonly url: URL;
  readonly clusterName?: string;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  readonly queueSize: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`configuration error: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export type LeaseNamespaceSource = 'POD_NAMESPACE' | 'kubeconfig context' | 'default';

export interface DiscoveryConfig {
  /** ExternalSecrets (External Secrets Operator) through AWS Secrets Manager stores: synced, then their consumers rolled. */
  readonly externalSecrets: boolean;
  /** SecretProviderClasses of the Secrets Store CSI driver's AWS provider: their consumers rolled. */
  readonly providerClasses: boolean;
  /** How long a change waits for ESO to sync an ExternalSecret it asked to. */
  readonly esoSyncTimeoutSeconds: number;
}

export interface RolloutsConfig {
  /** Most workloads rolling at once (stamped, not yet healthy), cluster-wide. */
  readonly maxConcurrent: number;
  /** How long a rollout waits after its first change for related ones to join it. */
  readonly settleSeconds: number;
  /** A canary's deadline to become healthy; absent: each Deployment's own progressDeadlineSeconds. */
  readonly healthTimeoutSeconds?: number;
  /** Restart windows for every mapping without its own, and for discovered sources. */
  readonly windows: readonly RestartWindow[];
  /** Read a rolling workload's pods: new pods in CrashLoopBackOff fail it at once (rotation/podHealth.ts), not at its deadline. */
  readonly detectCrashLoop: boolean;
}

/** Outside a cluster with no namespace in the kubeconfig's current context, as kubectl does. */
export const DEFAULT_LEASE_NAMESPACE = 'default';

/** Every knob with its default: the README's table is checked against this. */
export const DEFAULTS = {
  LOG_LEVEL: 'info',
  HTTP_PORT: 8080,
  DRY_RUN: false,
  MAX_CONCURRENT_API_REQUESTS: 5,
  KUBE_REQUEST_TIMEOUT_SECONDS: 5,
  SQS_WAIT_TIME_SECONDS: 20,
  SQS_MAX_MESSAGES: 10,
  SQS_VISIBILITY_TIMEOUT_SECONDS: 60,
  SQS_COALESCE_WINDOW_MS: 1000,
  RESYNC_INTERVAL_SECONDS: 300,
  DRIFT_CHECK_INTERVAL_SECONDS: 300,
  ARGO_ROLLOUTS_ENABLED: false,
  DISCOVERY_EXTERNAL_SECRETS: false,
  DISCOVERY_SECRET_PROVIDER_CLASSES: false,
  ESO_SYNC_TIMEOUT_SECONDS: 30,
  LEADER_ELECTION: true,
  LEASE_NAME: OPERATOR_NAME,
  LEASE_DURATION_SECONDS: 15,
  LEASE_RENEW_DEADLINE_SECONDS: 10,
  LEASE_RETRY_PERIOD_SECONDS: 2,
  NOTIFY_TIMEOUT_SECONDS: 5,
  NOTIFY_DEADLINE_SECONDS: 60,
  NOTIFY_QUEUE_SIZE: 100,
  ROLLOUT_MAX_CONCURRENT: 10,
  ROLLOUT_SETTLE_SECONDS: 0,
  ROLLOUT_DETECT_CRASH_LOOP: true,
} as const;

/**
 * Tuning the operator does not take from the environment (DEFAULTS are the settings a
 * user may change; these are fixed, said here so there is one home for both).
 */
export const TUNING = {
  /** How long the status reconciler's baselines share one secret's description. */
  baselineDescriptionMaxAgeMs: 30_000,
  /** How long the status reconciler's mappings of one namespace share its workload lists. */
  censusListMaxAgeMs: 2_000,
  /** Discovery's lists of ExternalSecrets, stores and SecretProviderClasses are shared this long (discovery/sources.ts). */
  discoveryListMaxAgeMs: 2_000,
  /** How often the leader says what discovery found (Discovered Events, the gauge): a new ExternalSecret is reported within this. */
  discoveryPassIntervalMs: 15_000,
  /**
   * The discovery pass's own bound on requests in flight (its lists and Events), apart from
   * the rotation path's: thousands of Discovered Events queue here, never ahead of a restart.
   */
  discoveryMaxConcurrentRequests: 2,
  /**
   * How long the API server's answer to "is this custom resource kind (a Rollout) served?"
   * holds: a present CRD for a minute; an absent one only briefly, so a CRD installed
   * later is found before an object created with it can be missed by a rotation.
   */
  customResourceServedMaxAgeMs: 60_000,
  customResourceAbsentMaxAgeMs: 5_000,
  /**
   * How long the rollout loop rests between passes (rotation/rollouts.ts): how soon a
   * workload turning healthy frees its slot. A pass lists only the workloads of rollouts in
   * progress, and writes only what changed.
   */
  rolloutPassIntervalMs: 1_000,
  /** A pass due while batches hold the rotation lane is skipped, for at most this long after the last pass ran. */
  rolloutPassMaxDeferMs: 5_000,
} as const;

const QUEUE_URL_REGION = /^https?:\/\/sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//;
/** Queue URLs name the account as their first path segment, on AWS and on emulators alike. */
const QUEUE_URL_ACCOUNT = /^https?:\/\/[^/]+\/(\d{12})\//;

export function loadConfig(env: Env, hostname = 'localhost', where: Where = { inCluster: true }): Config {
  const queueUrl = required(env, 'SQS_QUEUE_URL');
  if (!/^https?:\/\/[^/]+\/.+/.test(queueUrl)) throw new ConfigError('SQS_QUEUE_URL', `is not a queue URL: ${JSON.stringify(queueUrl)}`);
  const queueRegion = QUEUE_URL_REGION.exec(queueUrl)?.[1];
  const region = optional(env, 'AWS_REGION') ?? optional(env, 'AWS_DEFAULT_REGION') ?? queueRegion;
  if (!region) throw new ConfigError('AWS_REGION', 'is not set and cannot be derived from SQS_QUEUE_URL');

  const leaseDurationSeconds = int(env, 'LEASE_DURATION_SECONDS', DEFAULTS.LEASE_DURATION_SECONDS, 1);
  const renewDeadlineSeconds = int(env, 'LEASE_RENEW_DEADLINE_SECONDS', DEFAULTS.LEASE_RENEW_DEADLINE_SECONDS, 1);
  const retryPeriodSeconds = int(env, 'LEASE_RETRY_PERIOD_SECONDS', DEFAULTS.LEASE_RETRY_PERIOD_SECONDS, 1);
  if (renewDeadlineSeconds >= leaseDurationSeconds) {
    throw new ConfigError('LEASE_RENEW_DEADLINE_SECONDS', `must be less than LEASE_DURATION_SECONDS (${leaseDurationSeconds})`);
  }
  if (retryPeriodSeconds >= renewDeadlineSeconds) {
    throw new ConfigError('LEASE_RETRY_PERIOD_SECONDS', `must be less than LEASE_RENEW_DEADLINE_SECONDS (${renewDeadlineSeconds})`);
  }
  const kubeRequestTimeoutSeconds = int(env, 'KUBE_REQUEST_TIMEOUT_SECONDS', DEFAULTS.KUBE_REQUEST_TIMEOUT_SECONDS, 1, 300);
  const leaderElection = bool(env, 'LEADER_ELECTION', DEFAULTS.LEADER_ELECTION);
  // A write is sent only while the lease is valid (renewed within the renew deadline) and
  // ends within its request deadline: both must fit in the lease duration, or the write
  // could still be in flight when another replica takes over (fence.ts).
  if (leaderElection && renewDeadlineSeconds + kubeRequestTimeoutSeconds > leaseDurationSeconds) {
    throw new ConfigError(
      'LEASE_DURATION_SECONDS',
      `must be at least LEASE_RENEW_DEADLINE_SECONDS + KUBE_REQUEST_TIMEOUT_SECONDS (${renewDeadlineSeconds + kubeRequestTimeoutSeconds}), got ${leaseDurationSeconds}: a write sent just before the renew deadline could still be in flight when another replica takes over`,
    );
  }
  const lease = leaseNamespace(optional(env, 'POD_NAMESPACE'), where);
  if (leaderElection && !lease) throw new ConfigError('POD_NAMESPACE', 'is required when LEADER_ELECTION is true (the Lease lives there)');

  const queueAccount = QUEUE_URL_ACCOUNT.exec(queueUrl)?.[1];
  return {
    queueUrl,
    region,
    home: { region: queueRegion ?? region, ...(queueAccount ? { account: queueAccount } : {}) },
    watchNamespaces: list(env, 'WATCH_NAMESPACES', /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
    logLevel: oneOf(env, 'LOG_LEVEL', ['error', 'warn', 'info', 'debug'] as const, DEFAULTS.LOG_LEVEL),
    httpPort: int(env, 'HTTP_PORT', DEFAULTS.HTTP_PORT, 0, 65535),
    dryRun: bool(env, 'DRY_RUN', DEFAULTS.DRY_RUN),
    maxConcurrentApiRequests: maxConcurrentApiRequests(env),
    kubeRequestTimeoutSeconds,
    sqsEndpointSet: optional(env, 'AWS_ENDPOINT_URL_SQS') !== undefined || optional(env, 'AWS_ENDPOINT_URL') !== undefined,
    waitTimeSeconds: int(env, 'SQS_WAIT_TIME_SECONDS', DEFAULTS.SQS_WAIT_TIME_SECONDS, SQS_LIMITS.waitTimeSeconds.min, SQS_LIMITS.waitTimeSeconds.max),
    maxMessages: int(env, 'SQS_MAX_MESSAGES', DEFAULTS.SQS_MAX_MESSAGES, SQS_LIMITS.maxMessages.min, SQS_LIMITS.maxMessages.max),
    // 0 would hand a message to the next receive at once, while it is still being handled.
    visibilityTimeoutSeconds: int(env, 'SQS_VISIBILITY_TIMEOUT_SECONDS', DEFAULTS.SQS_VISIBILITY_TIMEOUT_SECONDS, 1, SQS_LIMITS.visibilityTimeoutSeconds.max),
    coalesceWindowMs: int(env, 'SQS_COALESCE_WINDOW_MS', DEFAULTS.SQS_COALESCE_WINDOW_MS, 0, 10_000),
    resyncIntervalSeconds: int(env, 'RESYNC_INTERVAL_SECONDS', DEFAULTS.RESYNC_INTERVAL_SECONDS, 1),
    driftCheckIntervalSeconds: int(env, 'DRIFT_CHECK_INTERVAL_SECONDS', DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS, 0),
    allowedAccountIds: list(env, 'ALLOWED_ACCOUNT_IDS', /^\d{12}$/),
    allowedRegions: list(env, 'ALLOWED_REGIONS', /^[a-z]{2}(-[a-z]+)+-\d+$/),
    ...notifyConfig(env),
    argoRollouts: bool(env, 'ARGO_ROLLOUTS_ENABLED', DEFAULTS.ARGO_ROLLOUTS_ENABLED),
    discovery: {
      externalSecrets: bool(env, 'DISCOVERY_EXTERNAL_SECRETS', DEFAULTS.DISCOVERY_EXTERNAL_SECRETS),
      providerClasses: bool(env, 'DISCOVERY_SECRET_PROVIDER_CLASSES', DEFAULTS.DISCOVERY_SECRET_PROVIDER_CLASSES),
      esoSyncTimeoutSeconds: int(env, 'ESO_SYNC_TIMEOUT_SECONDS', DEFAULTS.ESO_SYNC_TIMEOUT_SECONDS, 1, 600),
    },
    rollouts: rolloutsConfig(env),
    leaderElection: {
      enabled: leaderElection,
      leaseName: optional(env, 'LEASE_NAME') ?? DEFAULTS.LEASE_NAME,
      namespace: lease?.namespace ?? '',
      namespaceFrom: lease?.from ?? 'POD_NAMESPACE',
      identity: optional(env, 'POD_NAME') ?? hostname,
      leaseDurationSeconds,
      renewDeadlineSeconds,
      retryPeriodSeconds,
    },
  };
}

/**
 * POD_NAMESPACE when set; inside a cluster nothing else (the chart sets it from the
 * downward API); outside one, the kubeconfig's current context's namespace, else `default`.
 */
function leaseNamespace(podNamespace: string | undefined, where: Where): { namespace: string; from: LeaseNamespaceSource } | undefined {
  if (podNamespace) return { namespace: podNamespace, from: 'POD_NAMESPACE' };
  if (where.inCluster) return undefined;
  const context = where.kubeconfigNamespace?.trim();
  return context ? { namespace: context, from: 'kubeconfig context' } : { namespace: DEFAULT_LEASE_NAMESPACE, from: 'default' };
}

/**
 * NOTIFY_WEBHOOK_URL and its knobs. The URL is checked but never echoed: a webhook URL
 * often is its own credential (Slack's, for one).
 */
function notifyConfig(env: Env): { notify?: NotifyConfig } {
  const raw = optional(env, 'NOTIFY_WEBHOOK_URL');
  const timeoutSeconds = int(env, 'NOTIFY_TIMEOUT_SECONDS', DEFAULTS.NOTIFY_TIMEOUT_SECONDS, 1, 60);
  const deadlineSeconds = int(env, 'NOTIFY_DEADLINE_SECONDS', DEFAULTS.NOTIFY_DEADLINE_SECONDS, 1, 3600);
  const queueSize = int(env, 'NOTIFY_QUEUE_SIZE', DEFAULTS.NOTIFY_QUEUE_SIZE, 1, 10_000);
  const clusterName = optional(env, 'NOTIFY_CLUSTER_NAME');
  if (raw === undefined) return {};
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('NOTIFY_WEBHOOK_URL', 'is not a URL (its value is not shown: it may hold a token)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('NOTIFY_WEBHOOK_URL', `must be an http:// or https:// URL, got a ${url.protocol} URL`);
  }
  if (!url.hostname) throw new ConfigError('NOTIFY_WEBHOOK_URL', 'names no host');
  if (url.hash) throw new ConfigError('NOTIFY_WEBHOOK_URL', 'has a #fragment, which is never sent to the server: drop it');
  if (deadlineSeconds < timeoutSeconds) {
    throw new ConfigError('NOTIFY_DEADLINE_SECONDS', `must be at least NOTIFY_TIMEOUT_SECONDS (${timeoutSeconds}), got ${deadlineSeconds}`);
  }
  return { notify: { url, ...(clusterName ? { clusterName } : {}), timeoutMs: timeoutSeconds * 1000, deadlineMs: deadlineSeconds * 1000, queueSize } };
}

/** ROLLOUT_*: the chart's rollouts.* values; ROLLOUT_WINDOWS is the JSON of rollouts.windows. */
function rolloutsConfig(env: Env): RolloutsConfig {
  const healthTimeout = optional(env, 'ROLLOUT_HEALTH_TIMEOUT_SECONDS') === undefined ? undefined : int(env, 'ROLLOUT_HEALTH_TIMEOUT_SECONDS', 0, 1);
  return {
    maxConcurrent: int(env, 'ROLLOUT_MAX_CONCURRENT', DEFAULTS.ROLLOUT_MAX_CONCURRENT, 1),
    settleSeconds: int(env, 'ROLLOUT_SETTLE_SECONDS', DEFAULTS.ROLLOUT_SETTLE_SECONDS, 0),
    ...(healthTimeout === undefined ? {} : { healthTimeoutSeconds: healthTimeout }),
    windows: restartWindows(env, 'ROLLOUT_WINDOWS'),
    detectCrashLoop: bool(env, 'ROLLOUT_DETECT_CRASH_LOOP', DEFAULTS.ROLLOUT_DETECT_CRASH_LOOP),
  };
}

/** A JSON list of windows, each checked as the CRD checks a mapping's (rollout/windows.ts). */
function restartWindows(env: Env, name: string): RestartWindow[] {
  const raw = optional(env, name);
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed)) throw new ConfigError(name, 'must be a JSON list of windows ({kind, schedule, duration, timeZone}), as the chart writes rollouts.windows');
  const windows = parsed.map((w: unknown, i) => {
    const { kind, schedule, duration, timeZone } = (w ?? {}) as Record<string, unknown>;
    if (![kind, schedule, duration, timeZone].every((f) => typeof f === 'string')) {
      throw new ConfigError(name, `window ${i}: needs kind, schedule, duration and timeZone, each a string`);
    }
    return { kind, schedule, duration, timeZone } as RestartWindow;
  });
  try {
    compileWindows(windows);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
  return windows;
}

/**
 * MAX_CONCURRENT_API_REQUESTS, or its deprecated name MAX_CONCURRENT_RESTARTS (it always
 * bounded every API request, not only restarts). Both set to different values is refused.
 */
function maxConcurrentApiRequests(env: Env): number {
  const current = int(env, 'MAX_CONCURRENT_API_REQUESTS', DEFAULTS.MAX_CONCURRENT_API_REQUESTS, 1, 100);
  if (optional(env, 'MAX_CONCURRENT_RESTARTS') === undefined) return current;
  const deprecated = int(env, 'MAX_CONCURRENT_RESTARTS', DEFAULTS.MAX_CONCURRENT_API_REQUESTS, 1, 100);
  if (optional(env, 'MAX_CONCURRENT_API_REQUESTS') !== undefined && deprecated !== current) {
    throw new ConfigError('MAX_CONCURRENT_RESTARTS', `is the deprecated name of MAX_CONCURRENT_API_REQUESTS and disagrees with it (${deprecated} vs ${current}): set only MAX_CONCURRENT_API_REQUESTS`);
  }
  return deprecated;
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function required(env: Env, name: string): string {
  const v = optional(env, name);
  if (v === undefined) throw new ConfigError(name, 'is required but not set');
  return v;
}

function int(env: Env, name: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = optional(env, name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = optional(env, name)?.toLowerCase();
  if (v === undefined) return dflt;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(env[name])}`);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], dflt: T): T {
  const v = optional(env, name)?.toLowerCase();
  if (v === undefined) return dflt;
  if (!(values as readonly string[]).includes(v)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got ${JSON.stringify(env[name])}`);
  return v as T;
}

function list(env: Env, name: string, item: RegExp): string[] {
  const v = optional(env, name);
  if (v === undefined) return [];
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = items.find((s) => !item.test(s));
  if (bad !== undefined) throw new ConfigError(name, `has an invalid entry ${JSON.stringify(bad)}`);
  return [...new Set(items)];
}
