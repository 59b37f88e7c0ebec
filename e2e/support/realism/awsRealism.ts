/**
 * The AWS realism layer: one HTTP proxy in front of the emulators' Secrets Manager
 * (moto) and SQS (moto or ElasticMQ) that behaves as AWS documents and the emulators
 * do not (see policy.ts for each behaviour and its source): stale ListSecrets and
 * DescribeSecret after a write, throttling, occasional 5xx, and a standard queue's
 * duplicated, reordered and late deliveries. Every behaviour is off unless a scenario
 * turns it on; what the proxy did is counted, so a scenario can prove its fault was
 * really in play. The operator reaches it through AWS_ENDPOINT_URL_SECRETS_MANAGER and
 * AWS_ENDPOINT_URL_SQS (chart: aws.endpointUrlSecretsManager, aws.endpointUrlSqs).
 *
 * Staleness needs to know when a secret was written and what it was before: the
 * scenario's writes go through the proxy (realismWriter), which reads the secret's
 * stages upstream just before forwarding a write.
 */
import { Aws, type AwsEnv } from '../aws';
import { jsonAnswer, startForwardingProxy, type Answer, type AwsCall, type Forward } from '../forward';
import { SERVER_ERROR, THROTTLED, deliver, originalHandle, stagesSeen, stalenessOf, stream, take, waitSeconds, type Bound, type Bucket, type DeliveryOptions, type Scheduled, type SqsMessage, type Stages, type Write } from './policy';

export interface RealismOptions {
  /** Upstream of Secrets Manager (and of anything not SQS): moto. */
  readonly secretsManager: string;
  /** Upstream of SQS; default the same as secretsManager (moto's). */
  readonly sqs?: string;
  /** Seed of every random choice; default $REALISM_SEED, else 1. The run's seed is in `seed`. */
  readonly seed?: number;
  /** ListSecrets reflects each secret as it was this long ago (per secret, within the bound). */
  readonly listStale?: Bound;
  /** DescribeSecret reflects each secret as it was this long ago (per secret, within the bound). */
  readonly describeStale?: Bound;
  /** `ThrottlingException` above `ratePerSecond` (bursts of `burst`), per operation of `operations` (e.g. `secretsmanager.DescribeSecret`). */
  readonly throttle?: { readonly ratePerSecond: number; readonly burst: number; readonly operations: readonly string[] };
  /** A 500 instead of an answer, with this probability, for calls of `operations`. */
  readonly serverErrors?: { readonly probability: number; readonly operations: readonly string[] };
  /** Standard-queue deliveries: copies, late messages, order. */
  readonly sqsDelivery?: DeliveryOptions;
  /**
   * Answers to calls of `operations` reach the client this much later than the emulator
   * gave them (the answer is the state when the call arrived): a slow provider, e.g. the
   * External Secrets Operator fetching a value (`secretsmanager.GetSecretValue`).
   */
  readonly latency?: { readonly operations: readonly string[]; readonly ms: number };
}

/** What the proxy did, for a scenario's assertions and report. */
export interface RealismCounts {
  /** ListSecrets entries answered with older stages than the emulator's, by secret name. */
  readonly staleListed: string[];
  /** DescribeSecret answers with older stages than the emulator's, by secret name. */
  readonly staleDescribed: string[];
  /** Calls answered ThrottlingException, by operation. */
  readonly throttled: string[];
  /** Calls answered with a 5xx, by operation. */
  readonly serverErrors: string[];
  /** MessageIds delivered a second time, late or out of their queue order. */
  readonly duplicated: string[];
  readonly late: string[];
  /** Receives whose messages were shuffled (more than one message). */
  reordered: number;
  /** Every call, by operation, in order of arrival. */
  readonly calls: string[];
}

export interface AwsRealism {
  readonly url: string;
  readonly seed: number;
  readonly counts: RealismCounts;
  /** Changes `latency.ms` from now on (e.g. 0: the slow provider recovered). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

const SM = 'secretsmanager.';
const SQS = 'AmazonSQS.';
/** Writes after which reads may be stale. */
const WRITES = ['PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage', 'RotateSecret'].map((op) => SM + op);

export function realismSeed(o: { seed?: number } = {}): number {
  return o.seed ?? (process.env.REALISM_SEED ? Number(process.env.REALISM_SEED) : 1);
}

export async function startAwsRealism(o: RealismOptions): Promise<AwsRealism> {
  const seed = realismSeed(o);
  const random = stream(seed);
  const sqsUpstream = o.sqs ?? o.secretsManager;
  const writes = new Map<string, Write[]>();
  const buckets = new Map<string, Bucket>();
  let scheduled: Scheduled[] = [];
  let copies = 0;
  let latencyMs = o.latency?.ms ?? 0;
  const counts: RealismCounts = { staleListed: [], staleDescribed: [], throttled: [], serverErrors: [], duplicated: [], late: [], reordered: 0, calls: [] };

  const error = (e: { status: number; type: string; message: string }): Answer => jsonAnswer(e.status, { __type: e.type, message: e.message }, { 'x-amzn-errortype': e.type });

  /** The stages a stale read shows for one secret, or undefined when it sees the emulator's. */
  const staleStages = (bound: Bound | undefined, what: string, arn: unknown, name: unknown, current: Stages | undefined): Stages | undefined => {
    if (!bound || typeof arn !== 'string' || typeof name !== 'string' || !current) return undefined;
    const seen = stagesSeen(writes.get(arn) ?? [], current, Date.now(), stalenessOf(bound, seed, what, name));
    return seen === current ? undefined : seen;
  };

  const secretsManager = async (call: AwsCall, forward: Forward): Promise<Answer> => {
    if (WRITES.includes(call.target)) {
      const before = await forward(o.secretsManager, Buffer.from(JSON.stringify({ SecretId: call.input.SecretId })), `${SM}DescribeSecret`);
      const answer = await forward(o.secretsManager);
      if (before.status === 200 && answer.status === 200) {
        const d = JSON.parse(before.body.toString('utf8')) as { ARN: string; VersionIdsToStages?: Stages };
        writes.set(d.ARN, [...(writes.get(d.ARN) ?? []), { at: Date.now(), before: d.VersionIdsToStages ?? {} }]);
      }
      return answer;
    }
    const answer = await forward(o.secretsManager);
    if (answer.status !== 200) return answer;
    if (call.target === `${SM}ListSecrets` && o.listStale) {
      const out = JSON.parse(answer.body.toString('utf8')) as { SecretList?: Record<string, unknown>[] };
      let changed = false;
      for (const e of out.SecretList ?? []) {
        const seen = staleStages(o.listStale, 'list', e.ARN, e.Name, e.SecretVersionsToStages as Stages | undefined);
        if (!seen) continue;
        e.SecretVersionsToStages = seen;
        counts.staleListed.push(String(e.Name));
        changed = true;
      }
      return changed ? jsonAnswer(200, out, answer.headers) : answer;
    }
    if (call.target === `${SM}DescribeSecret` && o.describeStale) {
      const out = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
      const seen = staleStages(o.describeStale, 'describe', out.ARN, out.Name, out.VersionIdsToStages as Stages | undefined);
      if (!seen) return answer;
      counts.staleDescribed.push(String(out.Name));
      return jsonAnswer(200, { ...out, VersionIdsToStages: seen }, answer.headers);
    }
    return answer;
  };

  const sqs = async (call: AwsCall, forward: Forward): Promise<Answer> => {
    const d = o.sqsDelivery;
    if (!d) return forward(sqsUpstream);
    const op = call.target.slice(SQS.length);
    if (op === 'ReceiveMessage') {
      const requested = Number(call.input.WaitTimeSeconds ?? 0);
      const wait = waitSeconds(requested, scheduled, Date.now());
      const answer = await forward(sqsUpstream, wait === requested ? undefined : Buffer.from(JSON.stringify({ ...call.input, WaitTimeSeconds: wait })));
      if (answer.status !== 200) return answer;
      const out = JSON.parse(answer.body.toString('utf8') || '{}') as { Messages?: SqsMessage[] };
      const received = out.Messages ?? [];
      const next = deliver(received, scheduled, Date.now(), Number(call.input.MaxNumberOfMessages ?? 1), d, random, () => ++copies);
      const receivedIds = new Set(received.map((m) => m.MessageId));
      for (const s of next.scheduled) {
        if (scheduled.includes(s)) continue;
        if (s.message.ReceiptHandle !== originalHandle(s.message.ReceiptHandle)) counts.duplicated.push(s.message.MessageId);
        else if (receivedIds.has(s.message.MessageId)) counts.late.push(s.message.MessageId);
      }
      if (d.reorder && next.answer.length > 1) counts.reordered++;
      scheduled = next.scheduled;
      if (received.length === 0 && next.answer.length === 0) return answer;
      return jsonAnswer(200, { ...out, Messages: next.answer }, answer.headers);
    }
    // A copy's receipt handle stands for the queue's own: deleting or extending a copy acts on the message.
    const unwrap = (x: unknown): unknown => {
      if (typeof x !== 'object' || x === null) return x;
      const r = x as Record<string, unknown>;
      return typeof r.ReceiptHandle === 'string' ? { ...r, ReceiptHandle: originalHandle(r.ReceiptHandle) } : r;
    };
    const input = Array.isArray(call.input.Entries) ? { ...call.input, Entries: call.input.Entries.map(unwrap) } : unwrap(call.input);
    return forward(sqsUpstream, Buffer.from(JSON.stringify(input)));
  };

  const proxy = await startForwardingProxy(async (call, forward) => {
    counts.calls.push(call.target);
    const bucketed = o.throttle?.operations.includes(call.target);
    if (o.throttle && bucketed) {
      const t = take(buckets.get(call.target), Date.now(), o.throttle.ratePerSecond, o.throttle.burst);
      buckets.set(call.target, t.bucket);
      if (!t.allowed) {
        counts.throttled.push(call.target);
        return error(THROTTLED);
      }
    }
    if (o.serverErrors?.operations.includes(call.target) && random() < o.serverErrors.probability) {
      counts.serverErrors.push(call.target);
      return error(SERVER_ERROR);
    }
    const answer = await (call.target.startsWith(SQS) ? sqs(call, forward) : secretsManager(call, forward));
    if (latencyMs > 0 && o.latency?.operations.includes(call.target)) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    return answer;
  });
  return {
    url: proxy.url,
    seed,
    counts,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: () => proxy.close(),
  };
}

/** An Aws client whose Secrets Manager writes go through the proxy (so it knows when each secret changed); its reads too. */
export function realismWriter(env: AwsEnv, realism: AwsRealism): Aws {
  return new Aws({ ...env, AWS_ENDPOINT_URL: realism.url, AWS_ENDPOINT_URL_SQS: env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL });
}
