/**
 * The decisions of the AWS realism proxy (awsRealism.ts), pure so they can be tested
 * without a socket: which version stages a read sees while AWS is still eventually
 * consistent, when a call is throttled or fails, and which SQS messages a receive hands
 * out. Everything random is drawn from a seed, so a run can be repeated exactly.
 *
 * What AWS documents and moto does not do:
 * - Secrets Manager is eventually consistent; "ListSecrets might not reflect changes
 *   from the last five minutes" and a DescribeSecret just after a write can be briefly
 *   stale (Secrets Manager API reference, ListSecrets and "eventual consistency");
 * - a standard queue delivers at least once, "occasionally more than one copy", and
 *   in best-effort order (SQS developer guide, standard queues);
 * - above an API's rate, calls fail with `ThrottlingException` (HTTP 400), and
 *   occasionally with a 5xx; the SDK retries both.
 */

/** Version id → staging labels, as DescribeSecret's VersionIdsToStages and ListSecrets' SecretVersionsToStages. */
export type Stages = Readonly<Record<string, readonly string[]>>;

/** Milliseconds, drawn once per secret within [minMs, maxMs]. */
export interface Bound {
  readonly minMs: number;
  readonly maxMs: number;
}

/** One write to a secret as the proxy saw it: when, and the stages just before it. */
export interface Write {
  readonly at: number;
  readonly before: Stages;
}

/** A uniform draw in [0, 1) from the seed and a key: the same pair always draws the same number (FNV-1a, then mulberry32's mix). */
export function draw(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  let t = (h + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A stream of uniform draws in [0, 1) from a seed (mulberry32). */
export function stream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How stale `what` ('list', 'describe') is for this secret in this run: fixed per (seed, secret), within the bound. */
export function stalenessOf(bound: Bound, seed: number, what: string, secretName: string): number {
  return Math.round(bound.minMs + draw(seed, `${what}:${secretName}`) * Math.max(0, bound.maxMs - bound.minMs));
}

/**
 * The stages a read answered at `now` shows when it reflects the secret as it was
 * `stalenessMs` ago: the stages before the first write after that instant, or `current`
 * when nothing was written since. `writes` in the order they happened.
 */
export function stagesSeen(writes: readonly Write[], current: Stages, now: number, stalenessMs: number): Stages {
  const asOf = now - stalenessMs;
  return writes.find((w) => w.at > asOf)?.before ?? current;
}

/** A token bucket: `rate` calls a second on average, bursts of `burst`. */
export interface Bucket {
  readonly tokens: number;
  readonly at: number;
}

/** Whether a call at `now` may pass, and the bucket after it. */
export function take(bucket: Bucket | undefined, now: number, rate: number, burst: number): { allowed: boolean; bucket: Bucket } {
  const before = bucket ?? { tokens: burst, at: now };
  const tokens = Math.min(burst, before.tokens + ((now - before.at) / 1000) * rate);
  return tokens >= 1 ? { allowed: true, bucket: { tokens: tokens - 1, at: now } } : { allowed: false, bucket: { tokens, at: now } };
}

/**
 * The answer AWS gives a throttled call in the JSON protocol: HTTP 400, the error's
 * name in `__type` and X-Amzn-ErrorType. The SDK v3 reads the name from either and
 * retries `ThrottlingException` with its throttling back-off.
 */
export const THROTTLED = { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' } as const;
/** An occasional server-side failure; the SDK retries 5xx as transient. */
export const SERVER_ERROR = { status: 500, type: 'InternalServiceError', message: 'An error occurred on the server side.' } as const;

/** A message as ReceiveMessage returns it (JSON protocol); only the fields the proxy uses are typed. */
export interface SqsMessage {
  readonly MessageId: string;
  readonly ReceiptHandle: string;
  readonly [field: string]: unknown;
}

/** A message the proxy hands out later than the queue did: a late one, or a second copy. */
export interface Scheduled {
  readonly message: SqsMessage;
  readonly dueAt: number;
}

export interface DeliveryOptions {
  /** Chance that a received message is also delivered a second time, later. */
  readonly duplicate: number;
  /** Chance that a received message is held back and delivered later (after others). */
  readonly late: number;
  /** How much later a copy or a late message comes: uniform in [0, maxDelayMs]. */
  readonly maxDelayMs: number;
  /** Whether the messages of one answer are shuffled. */
  readonly reorder: boolean;
}

/** The receipt handle of the n-th extra copy of a message: the proxy maps it back to the queue's own handle. */
export function copyHandle(handle: string, n: number): string {
  return `realism-copy-${n}:${handle}`;
}

/** The queue's own handle behind a handle the proxy gave out. */
export function originalHandle(handle: string): string {
  return handle.startsWith('realism-copy-') ? handle.slice(handle.indexOf(':') + 1) : handle;
}

/**
 * What one ReceiveMessage answer hands out at `now`, given what the queue returned and
 * what is scheduled from earlier answers: due scheduled messages join it, late ones
 * leave it, copies are scheduled; at most `max` messages, the rest stay scheduled.
 */
export function deliver(received: readonly SqsMessage[], scheduled: readonly Scheduled[], now: number, max: number, o: DeliveryOptions, random: () => number, copies: () => number): { answer: SqsMessage[]; scheduled: Scheduled[] } {
  const later: Scheduled[] = scheduled.filter((s) => s.dueAt > now);
  const answer: SqsMessage[] = scheduled.filter((s) => s.dueAt <= now).map((s) => s.message);
  for (const m of received) {
    if (random() < o.late) later.push({ message: m, dueAt: now + random() * o.maxDelayMs });
    else answer.push(m);
    if (random() < o.duplicate) later.push({ message: { ...m, ReceiptHandle: copyHandle(m.ReceiptHandle, copies()) }, dueAt: now + random() * o.maxDelayMs });
  }
  if (o.reorder) {
    for (let i = answer.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [answer[i], answer[j]] = [answer[j], answer[i]];
    }
  }
  // At most `max`, and one receive never carries a message twice (SQS does not): the rest wait for the next.
  const fits: SqsMessage[] = [];
  const wait: SqsMessage[] = [];
  for (const m of answer) {
    if (fits.length < max && !fits.some((f) => f.MessageId === m.MessageId)) fits.push(m);
    else wait.push(m);
  }
  return { answer: fits, scheduled: [...wait.map((message) => ({ message, dueAt: now })), ...later] };
}

/** How long a receive may long-poll the queue when something scheduled falls due sooner: whole seconds, as SQS takes. */
export function waitSeconds(requested: number, scheduled: readonly Scheduled[], now: number): number {
  if (scheduled.length === 0) return requested;
  const due = Math.min(...scheduled.map((s) => s.dueAt));
  return Math.max(0, Math.min(requested, Math.ceil((due - now) / 1000)));
}
