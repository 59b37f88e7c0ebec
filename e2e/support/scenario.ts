/**
 * What the issue-4/5 e2e files share: a release of the chart with its operator
 * running under the chart's ServiceAccount, and the waits that tell "the operator
 * handled this message" apart from "nothing happened yet", so that a test can then
 * assert that nothing restarted without sleeping.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { DescribeSecretCommand, UpdateSecretCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { RESTARTED_AT_ANNOTATION, type WorkloadKind } from '../../operator/src/workloads/workload';
import type { SecretsRotationMapping } from '../../operator/src/mappings/model';
import type { Secret } from './aws';
import { startReleaseOperator, type Release } from './chart';
import type { E2eContext } from './context';
import { Fixture } from './fixture';
import type { LogLine, OperatorProcess } from './operator';
import { waitFor } from './wait';

export const M = METRIC_PREFIX;

/** Short random suffix for names (lowercase letters and digits, no dash: never an ARN suffix). */
export function rand(n = 5): string {
  return randomBytes(8).toString('hex').replace(/[^a-z0-9]/g, '').slice(0, n);
}

/** A random secret value; never logged or asserted on. */
export function value(): string {
  return `v-${randomBytes(12).toString('hex')}`;
}

export interface Scenario {
  readonly ctx: E2eContext;
  /** What the file made on the stack, given back by endScenario. */
  readonly fixture: Fixture;
  readonly release: Release;
  readonly releaseNamespace: string;
  /** The workload namespaces created for the test file, in the order of `namespaces`. */
  readonly namespaces: string[];
  op: OperatorProcess;
}

export interface ScenarioOptions {
  /** Name prefix of the release and its namespace. */
  readonly prefix: string;
  /** Prefixes of workload namespaces to create before the install. */
  readonly namespaces?: string[];
  /** Install with `--set watchNamespaces={...}` of those namespaces (default: watch all). */
  readonly watchOwnNamespaces?: boolean;
  /** Extra `helm install` arguments (e.g. `--set dryRun=true`). */
  readonly values?: string[];
}

/**
 * Installs the CRD and a release of the chart (real values, plus the emulator's
 * endpoint and queue), empties the queues and starts the operator as the release's
 * ServiceAccount; resolves once it leads and consumes.
 * Drift recovery is off (`driftCheckIntervalSeconds=0`) so that events are the only
 * thing that can restart a workload: a test that passes proves the event path.
 * Long polls of 5 s: stopping an operator waits for its pending poll.
 */
export async function startScenario(o: ScenarioOptions): Promise<Scenario> {
  const fixture = new Fixture();
  await fixture.prepare();
  const namespaces: string[] = [];
  for (const p of o.namespaces ?? []) namespaces.push(await fixture.namespace(p));
  const releaseNamespace = await fixture.namespace(`${o.prefix}-sro`);
  const watch = o.watchOwnNamespaces ? ['--set', `watchNamespaces={${namespaces.join(',')}}`] : [];
  const release = await fixture.installRelease(`sro-${o.prefix}-${rand(4)}`, releaseNamespace, ['--set', 'replicaCount=1', '--set', 'driftCheckIntervalSeconds=0', '--set', 'sqs.waitTimeSeconds=5', ...watch, ...(o.values ?? [])]);
  const op = await startOperatorFor(fixture.ctx, release);
  return { ctx: fixture.ctx, fixture, release, releaseNamespace, namespaces, op };
}

/** Starts the release's operator and waits until it holds the Lease and polls SQS. */
export async function startOperatorFor(ctx: E2eContext, release: Release, overrides: Record<string, string> = {}): Promise<OperatorProcess> {
  const op = await startReleaseOperator(ctx, release, overrides);
  await waitFor('operator leads and consumes SQS', async () => (await op.metric(`${M}leader`)) === 1 && op.logs.some((l) => l.message === 'consuming SQS'), { timeoutMs: 60_000 });
  return op;
}

/** afterAll: stops the operators, uninstalls the release, deletes the namespaces (Fixture.teardown). */
export async function endScenario(s: Scenario | undefined): Promise<void> {
  if (!s) return;
  const ops = [...s.ctx.operators];
  try {
    await s.fixture.teardown();
  } finally {
    // The operators' logs stay beside the stack's, for a failure's post-mortem.
    ops.forEach((op, i) => fs.writeFileSync(path.join(s.ctx.env.STACK_DIR, 'logs', `operator-${s.release.name}-${i}.log`), `${op.raw.join('\n')}\n`));
  }
}

// ---------------------------------------------------------------------------
// Waiting for "handled"

/** The log lines of the operator that name an event id (fields may join several ids with commas). */
export function linesFor(op: OperatorProcess, eventId: string): LogLine[] {
  return op.logs.filter((l) => typeof l.eventId === 'string' && l.eventId.split(',').includes(eventId));
}

/** Waits for a log line about `eventId` with `message`; returns it. */
export function waitForEventLog(op: OperatorProcess, eventId: string, message: string, timeoutMs = 60_000): Promise<LogLine> {
  return op.waitForLog(`operator log "${message}" for event ${eventId}`, (l) => l.message === message && typeof l.eventId === 'string' && l.eventId.split(',').includes(eventId), timeoutMs);
}

/** Both queues' messages: main queue empty means every message was deleted (or dead-lettered). */
export async function waitQueueEmpty(ctx: E2eContext, timeoutMs = 60_000): Promise<void> {
  await waitFor('the queue is empty (every message deleted)', async () => (await ctx.aws.depth(ctx.env.SQS_QUEUE_URL)).total === 0, { timeoutMs, intervalMs: 200 });
}

/**
 * Positive proof that `n` more messages were handled and deleted since `deletedBefore`
 * (the value of messages_deleted_total before sending), and the queue is empty.
 */
export async function waitDeleted(s: Scenario, deletedBefore: number, n: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${n} message(s) deleted by the operator`, async () => (await s.op.metric(`${M}messages_deleted_total`)) >= deletedBefore + n, { timeoutMs, intervalMs: 200 });
  await waitQueueEmpty(s.ctx, timeoutMs);
}

// ---------------------------------------------------------------------------
// Workloads

export interface Snapshot {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly podUids: string[];
  readonly podNames: string[];
}

export async function generation(s: { ctx: E2eContext }, kind: WorkloadKind, namespace: string, name: string): Promise<number> {
  return (await s.ctx.kube.readWorkload(kind, namespace, name)).metadata!.generation!;
}

export interface PodInfo {
  readonly name: string;
  readonly uid: string;
  readonly annotations: Record<string, string>;
}

/** The workload's pods, found through its own `spec.selector.matchLabels` (works for any manifest). */
export async function podsOf(ctx: E2eContext, kind: WorkloadKind, namespace: string, name: string): Promise<k8s.V1Pod[]> {
  const w = (await ctx.kube.readWorkload(kind, namespace, name)) as { spec?: { selector?: { matchLabels?: Record<string, string> } } };
  const selector = Object.entries(w.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  if (!selector) throw new Error(`${kind} ${namespace}/${name} has no matchLabels selector`);
  return (await ctx.kube.core.listNamespacedPod(namespace, undefined, undefined, undefined, undefined, selector)).body.items;
}

function running(pods: k8s.V1Pod[]): PodInfo[] {
  return pods
    .filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, annotations: p.metadata!.annotations ?? {} }));
}

/** Waits for `count` running pods (and no others) and records the workload's state. */
export async function snapshot(ctx: E2eContext, kind: WorkloadKind, namespace: string, name: string, count = 1): Promise<Snapshot> {
  const pods = await waitFor(
    `${count} running pod(s) of ${kind} ${namespace}/${name}`,
    async () => {
      const all = await podsOf(ctx, kind, namespace, name);
      const up = running(all);
      return up.length === count && all.length === count ? up : undefined;
    },
    { timeoutMs: 90_000 },
  );
  const gen = (await ctx.kube.readWorkload(kind, namespace, name)).metadata!.generation!;
  return { kind, namespace, name, generation: gen, podUids: pods.map((p) => p.uid).sort(), podNames: pods.map((p) => p.name).sort() };
}

/**
 * Waits until every pod of the snapshot is gone and `count` new ones run (by uid:
 * StatefulSet pods keep their names); returns the new pods.
 */
export async function waitForNewPods(ctx: E2eContext, before: Snapshot, count = before.podUids.length, timeoutMs = 120_000): Promise<PodInfo[]> {
  return waitFor(
    `pods of ${before.kind} ${before.namespace}/${before.name} replaced`,
    async () => {
      const all = await podsOf(ctx, before.kind, before.namespace, before.name);
      const up = running(all);
      const oldLeft = all.some((p) => before.podUids.includes(p.metadata!.uid!));
      return !oldLeft && all.length === count && up.length === count ? up : undefined;
    },
    { timeoutMs },
  );
}

/** The workload was not touched: same generation (no template patch), no restart annotation, the same pods. */
export async function expectUntouched(ctx: E2eContext, before: Snapshot): Promise<void> {
  const w = await ctx.kube.readWorkload(before.kind, before.namespace, before.name);
  expect({ workload: `${before.kind}/${before.namespace}/${before.name}`, generation: w.metadata!.generation, restartAnnotation: w.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] }).toEqual({
    workload: `${before.kind}/${before.namespace}/${before.name}`,
    generation: before.generation,
    restartAnnotation: undefined,
  });
  const uids = (await podsOf(ctx, before.kind, before.namespace, before.name)).map((p) => p.metadata!.uid!).sort();
  expect(uids).toEqual(before.podUids);
}

// ---------------------------------------------------------------------------
// Mappings

export async function createMapping(ctx: E2eContext, namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await ctx.kube.createMapping(namespace, name, spec);
}

/**
 * Waits until the operator has taken the mapping in: Ready, and the secret's current
 * version recorded as the baseline (so a later change is a change, not the baseline).
 */
export async function waitMappingSynced(ctx: E2eContext, namespace: string, name: string, version: string, timeoutMs = 60_000): Promise<SecretsRotationMapping> {
  return waitFor(
    `mapping ${namespace}/${name} Ready with baseline version`,
    async () => {
      const m = await ctx.kube.mapping(namespace, name);
      const ready = m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (ready && m.status?.appliedVersion === version) return m;
      throw new Error(`status is ${JSON.stringify({ conditions: m.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}`), appliedVersion: m.status?.appliedVersion })}`);
    },
    { timeoutMs },
  );
}

/** Waits until the mapping's lastRotation is for `version`. */
export async function waitLastRotation(ctx: E2eContext, namespace: string, name: string, version: string, timeoutMs = 60_000): Promise<SecretsRotationMapping> {
  return waitFor(`mapping ${namespace}/${name} records the rotation to ${version}`, async () => {
    const m = await ctx.kube.mapping(namespace, name);
    return m.status?.lastRotation?.secretVersion === version ? m : undefined;
  }, { timeoutMs });
}

export async function eventReasons(ctx: E2eContext, namespace: string, mapping: string): Promise<string[]> {
  return (await ctx.kube.eventsFor(namespace, mapping)).map((e) => e.reason ?? '');
}

// ---------------------------------------------------------------------------
// AWS calls the Aws helper does not have

export function partialArn(s: Secret): string {
  return s.arn.replace(/-[A-Za-z0-9]{6}$/, '');
}

/** `update-secret-version-stage`: moves `stage` to `moveTo` (from `removeFrom`). */
export async function moveStage(ctx: E2eContext, s: Secret, stage: string, moveTo: string, removeFrom?: string): Promise<void> {
  await ctx.aws.sm.send(new UpdateSecretVersionStageCommand({ SecretId: s.arn, VersionStage: stage, MoveToVersionId: moveTo, ...(removeFrom ? { RemoveFromVersionId: removeFrom } : {}) }));
}

export async function updateDescription(ctx: E2eContext, s: Secret, description: string): Promise<void> {
  await ctx.aws.sm.send(new UpdateSecretCommand({ SecretId: s.arn, Description: description }));
}

export async function stagesOf(ctx: E2eContext, s: Secret): Promise<Record<string, string[]>> {
  return (await ctx.aws.sm.send(new DescribeSecretCommand({ SecretId: s.arn }))).VersionIdsToStages ?? {};
}

/** An SQS body as EventBridge delivers it (envelope + detail), with a fresh id unless given. */
export function eventBody(ctx: E2eContext, e: { detailType: string; detail: unknown; resources?: string[]; id?: string; source?: string; time?: Date }): { id: string; body: string } {
  const id = e.id ?? randomUUID();
  const body = JSON.stringify({
    version: '0',
    id,
    'detail-type': e.detailType,
    source: e.source ?? 'aws.secretsmanager',
    account: ctx.aws.account,
    time: (e.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: ctx.env.AWS_REGION,
    resources: e.resources ?? [],
    detail: e.detail,
  });
  return { id, body };
}

/**
 * The body of a native `Secret Label Updated` event for the version `s` carries. `time`:
 * when the label moved (the event's time, as AWS stamps it), if not now.
 */
export function labelUpdatedBody(ctx: E2eContext, s: Secret, id?: string, time?: Date): { id: string; body: string } {
  return eventBody(ctx, { detailType: 'Secret Label Updated', resources: [s.arn], detail: { name: s.name, labelUpdated: 'AWSCURRENT', versionId: s.version }, id, time });
}

/** The `detail` of a CloudTrail record of a Secrets Manager call (as Aws.sendApiCall sends it). */
export function apiCallDetail(ctx: E2eContext, eventName: string, requestParameters: Record<string, unknown> | null, responseElements: Record<string, unknown> | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    eventSource: 'secretsmanager.amazonaws.com',
    eventName,
    awsRegion: ctx.env.AWS_REGION,
    recipientAccountId: ctx.aws.account,
    eventID: randomUUID(),
    eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventType: 'AwsApiCall',
    requestParameters,
    responseElements,
    ...extra,
  };
}

export { kubectl, kubectlStdin } from '../../scripts/kit/kubectl';
