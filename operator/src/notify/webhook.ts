/**
 * Posts a RotationNotification (payload.ts) to NOTIFY_WEBHOOK_URL after each rotation,
 * off the rotation lane: `rotated` only puts the notification on a bounded queue, and
 * one sender works through it.
 *
 * - Retries: a network error, a timeout, 408, 429 or 5xx is tried again after a capped
 *   exponential backoff (backoff.ts; a longer Retry-After is honoured), until the
 *   notification's deadline, counted from its first attempt. Any other answer is final.
 * - Only the leader sends (leader/fence.ts): the notification keeps the term of the
 *   rotation that made it, and each attempt is made only while that term leads with a
 *   valid lease; otherwise it is dropped, counted and logged.
 * - A full queue refuses the new notification: counted (`result="queue_full"`) and
 *   logged at warn with what it would have said (mapping, secret, version, outcome),
 *   never dropped unseen. The queue keeps the older ones, already waiting.
 * - The URL may hold a token: logs and errors name only its scheme and host.
 */
import { abortableSleep } from '../core/sleep';
import { backoffMs } from '../core/backoff';
import type { Fence, Term } from '../leader/fence';
import { errorMessage, type Logger } from '../core/log';
import type { Metrics } from '../core/metrics';
import { OPERATOR_NAME } from '../core/names';
import type { RolloutHalt, RotationNotifier } from '../rotation/notifier';
import type { MappingReport } from '../rotation/summary';
import { haltNotification, notificationOf, redactUrl, type RotationNotification } from './payload';

export interface PostResult {
  readonly status: number;
  /** The Retry-After header, when the receiver sent one. */
  readonly retryAfter?: string;
}

/** One HTTP POST of a JSON body; rejects on a network error or when `signal` aborts. */
export type Post = (url: URL, body: string, signal: AbortSignal) => Promise<PostResult>;

export interface WebhookOptions {
  readonly url: URL;
  readonly clusterName?: string;
  /** Deadline of one attempt. */
  readonly timeoutMs: number;
  /** Deadline of one notification, all its attempts and waits included. */
  readonly deadlineMs: number;
  readonly queueSize: number;
  readonly fence: Pick<Fence, 'term' | 'run' | 'refusal'>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly post?: Post;
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface Queued {
  readonly notification: RotationNotification;
  readonly term: Term;
}

export type DeliveryResult = 'sent' | 'failed' | 'not_leader' | 'queue_full' | 'shutdown';

export class WebhookNotifier implements RotationNotifier {
  private readonly queue: Queued[] = [];
  private sending?: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly post: Post;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Where logs say notifications go. */
  readonly target: string;

  constructor(private readonly opts: WebhookOptions) {
    this.post = opts.post ?? httpPost;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? abortableSleep;
    this.target = redactUrl(opts.url);
  }

  rotated(report: MappingReport): void {
    try {
      this.enqueue(notificationOf(report, this.opts.clusterName));
    } catch (err) {
      // Never the rotation's problem.
      this.opts.log.error('notification could not be queued', { mapping: report.mapping.key, error: errorMessage(err) });
    }
  }

  rolloutHalted(halt: RolloutHalt): void {
    try {
      this.enqueue(haltNotification(halt, this.opts.clusterName));
    } catch (err) {
      this.opts.log.error('notification could not be queued', { mapping: halt.mapping.key, error: errorMessage(err) });
    }
  }

  /** Queued notifications and the one being sent. */
  get pending(): number {
    return this.queue.length + (this.sending ? 1 : 0);
  }

  enqueue(notification: RotationNotification): void {
    const term = this.opts.fence.term;
    if (!term) return this.drop(notification, 'not_leader', 'notification made outside leader work; not sent');
    if (this.stopping.signal.aborted) return this.drop(notification, 'shutdown', 'shutting down; notification not sent');
    if (this.queue.length >= this.opts.queueSize) {
      return this.drop(notification, 'queue_full', `notification queue full (${this.opts.queueSize}); this notification is not sent`);
    }
    this.queue.push({ notification, term });
    this.opts.metrics.notificationsQueued.set(this.queue.length);
    this.sending ??= this.work().finally(() => {
      this.sending = undefined;
    });
  }

  /**
   * Waits up to `timeoutMs` for the queue to empty, then stops: what is still queued is
   * counted and logged as not sent (`result="shutdown"`), an attempt under way is aborted.
   */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (this.sending && this.now() < deadline) {
      await Promise.race([this.sending, new Promise((r) => setTimeout(r, Math.max(1, Math.min(100, deadline - this.now()))))]);
    }
    this.stopping.abort(new Error('shutting down'));
    for (const q of this.queue.splice(0)) this.drop(q.notification, 'shutdown', 'shutting down; notification not sent');
    this.opts.metrics.notificationsQueued.set(0);
    await this.sending;
  }

  private async work(): Promise<void> {
    for (let q = this.queue.shift(); q; q = this.queue.shift()) {
      this.opts.metrics.notificationsQueued.set(this.queue.length);
      try {
        await this.deliver(q);
      } catch (err) {
        this.drop(q.notification, 'failed', `notification failed: ${this.scrub(errorMessage(err))}`);
      }
    }
  }

  private async deliver({ notification, term }: Queued): Promise<void> {
    const { fence, timeoutMs, deadlineMs, log } = this.opts;
    const body = JSON.stringify(notification);
    const deadline = this.now() + deadlineMs;
    for (let attempt = 1; ; attempt++) {
      const refusal = fence.run(term, () => fence.refusal());
      if (refusal) return this.drop(notification, 'not_leader', `notification not sent: ${refusal}`);
      if (this.stopping.signal.aborted) return this.drop(notification, 'shutdown', 'shutting down; notification not sent');
      const remaining = deadline - this.now();
      let problem: string;
      let wait = backoffMs(attempt, this.opts.backoff?.baseMs ?? 500, this.opts.backoff?.capMs ?? 10_000);
      let retry = true;
      try {
        const r = await this.post(this.opts.url, body, AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(timeoutMs, remaining))), this.stopping.signal]));
        if (r.status >= 200 && r.status < 300) {
          this.opts.metrics.notifications.inc({ result: 'sent' });
          log.info('notification sent', { ...fieldsOf(notification), webhook: this.target, attempt, status: r.status });
          return;
        }
        problem = `HTTP ${r.status}`;
        retry = r.status === 408 || r.status === 429 || r.status >= 500;
        wait = Math.max(wait, retryAfterMs(r.retryAfter, this.now()) ?? 0);
      } catch (err) {
        problem = (err as Error)?.name === 'TimeoutError' ? `no answer within ${Math.min(timeoutMs, remaining)} ms` : this.scrub(errorMessage(causeOf(err)));
      }
      if (this.stopping.signal.aborted) return this.drop(notification, 'shutdown', 'shutting down; notification not sent', { attempt });
      if (!retry) return this.drop(notification, 'failed', `notification refused by the webhook (${problem}); not retried`, { attempt });
      if (this.now() + wait >= deadline) return this.drop(notification, 'failed', `notification not delivered within ${deadlineMs} ms (last: ${problem})`, { attempt });
      log.warn('notification attempt failed; retrying', { ...fieldsOf(notification), webhook: this.target, attempt, error: problem, retryInMs: wait });
      await this.sleep(wait, this.stopping.signal).catch(() => undefined);
    }
  }

  private drop(n: RotationNotification, result: Exclude<DeliveryResult, 'sent'>, message: string, extra: Record<string, unknown> = {}): void {
    this.opts.metrics.notifications.inc({ result });
    this.opts.log.warn(message, { ...fieldsOf(n), webhook: this.target, result, ...extra });
  }

  /** An error's text with the URL's path and query (a token, perhaps) taken out. */
  private scrub(message: string): string {
    const { url } = this.opts;
    let out = message;
    for (const secretish of [url.href, `${url.pathname}${url.search}`, url.search, url.username, url.password]) {
      if (secretish && secretish !== '/') out = out.split(secretish).join('…');
    }
    return out;
  }
}

/** The log fields of a notification: what it was about, never the URL. */
function fieldsOf(n: RotationNotification): Record<string, unknown> {
  return { mapping: `${n.mapping.namespace}/${n.mapping.name}`, eventId: n.eventId, secret: n.secretId, version: n.version, outcome: n.outcome };
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED, ...) in its cause. */
function causeOf(err: unknown): unknown {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof Error ? cause : err;
}

/** Retry-After in seconds or as an HTTP date, as milliseconds from now. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * POST with fetch. Credentials in the URL (https://user:pass@host/...) become a Basic
 * Authorization header, since fetch refuses URLs that hold them. Redirects are not
 * followed: a 3xx is the webhook's (final) answer.
 */
export const httpPost: Post = async (url, body, signal) => {
  const target = new URL(url.href);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': OPERATOR_NAME };
  if (target.username || target.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  const res = await fetch(target, { method: 'POST', headers, body, signal, redirect: 'manual' });
  await res.body?.cancel().catch(() => undefined);
  return { status: res.status, ...(res.headers.get('retry-after') ? { retryAfter: res.headers.get('retry-after')! } : {}) };
};
