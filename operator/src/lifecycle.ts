/**
 * What the process does as its role changes, apart from the wiring in main.ts: leading
 * (the status reconciler, the queue, drift and the discovery pass start for the term),
 * following (they stop), the watchdog that gives leadership up when work stalls, what
 * /readyz says, and the orderly shutdown.
 */
import type { Term } from './leader/fence';
import { STALL_REQUEST_DEADLINES, stallOf } from './leader/stall';
import { errorMessage, type Logger } from './core/log';
import type { Metrics } from './core/metrics';

export interface Health {
  readonly ok: boolean;
  readonly reason?: string;
}

/** What /readyz says, from what each part says. Pure. The queue is asked only of a leader. */
export function readiness(s: {
  shuttingDown: boolean;
  /** The mapping watcher is in sync with the API server. */
  inSync: boolean;
  stalled?: { at: number; reason: string };
  now: number;
  leaseDurationMs: number;
  lease: Health;
  isLeader: boolean;
  queue: () => Health;
}): { ok: boolean; reason: string } {
  if (s.shuttingDown) return { ok: false, reason: 'shutting down' };
  if (!s.inSync) return { ok: false, reason: 'not in sync with the Kubernetes API server' };
  // A stall is said for one lease duration: the time another replica needs to take over.
  if (s.stalled && s.now - s.stalled.at < s.leaseDurationMs) return { ok: false, reason: s.stalled.reason };
  if (!s.lease.ok) return { ok: false, reason: s.lease.reason ?? 'lease unhealthy' };
  if (!s.isLeader) return { ok: true, reason: 'ready (follower, idle)' };
  const sqs = s.queue();
  return sqs.ok ? { ok: true, reason: 'ready' } : { ok: false, reason: sqs.reason ?? 'SQS unhealthy' };
}

/** The parts whose running follows the role; main.ts builds them. */
export interface LifecycleParts {
  /** LeaderElector or SoleLeader; only a Lease has a health of its own. */
  readonly leadership: { readonly isLeader: boolean; relinquish(reason: string): Promise<void>; stop(): Promise<void>; health?(): Health };
  readonly fence: { run<T>(term: Term, work: () => T): T };
  readonly consumer: { checkQueue(): Promise<void>; start(term?: Term): void; stop(): Promise<void>; busyForMs(now?: number): number; health(): Health };
  readonly status: { activate(term?: Term): void; deactivate(): void };
  readonly drift: { start(term: Term): void; stop(): Promise<void> | undefined };
  /** The rollout loop (rotation/rollouts.ts), leader only; absent in a dry run. */
  readonly rollouts?: { start(term: Term): void; stop(): Promise<void> | undefined };
  /** What discovery found, as Events and a gauge (discovery on only). */
  readonly reporter?: { pass(): Promise<void> };
  readonly notifier?: { stop(timeoutMs: number): Promise<void> };
  /** How long the last notifications may take at shutdown (one attempt's time). */
  readonly notifyTimeoutMs?: number;
  readonly watcher: { readonly ready: boolean; stop(): void };
  /** The rotation path's limiter: when a request last ended is the watchdog's sign of progress. */
  readonly apiLimiter: { readonly lastSettledAt: number };
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly identity: string;
  readonly requestMs: number;
  readonly leaseDurationMs: number;
  readonly driftEnabled: boolean;
  readonly discoveryPassIntervalMs: number;
  readonly exit?: (code: number) => void;
}

export class Lifecycle {
  private discoveryTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private stalled?: { at: number; reason: string };
  private shuttingDown = false;

  constructor(private readonly p: LifecycleParts) {}

  lead(term: Term): void {
    const { p } = this;
    p.metrics.leader.set(1);
    if (p.reporter) {
      this.discoveryPass(term);
      this.discoveryTimer = setInterval(() => this.discoveryPass(term), p.discoveryPassIntervalMs);
      this.discoveryTimer.unref();
    }
    p.status.activate(term);
    void p.consumer.checkQueue();
    p.consumer.start(term);
    if (p.driftEnabled) p.drift.start(term);
    p.rollouts?.start(term);
  }

  async follow(): Promise<void> {
    const { p } = this;
    p.metrics.leader.set(0);
    if (this.discoveryTimer) clearInterval(this.discoveryTimer);
    void p.drift.stop();
    void p.rollouts?.stop();
    p.status.deactivate();
    await p.consumer.stop();
  }

  /**
   * The watchdog (leader/stall.ts): a stuck batch makes this replica give up leadership
   * (its work is abandoned and fenced) and say so on /readyz.
   */
  startWatchdog(): void {
    const { p } = this;
    const stallMs = STALL_REQUEST_DEADLINES * p.requestMs;
    this.watchdog = setInterval(() => {
      const now = Date.now();
      const reason = p.leadership.isLeader ? stallOf({ now, busyMs: p.consumer.busyForMs(now), lastProgressAt: p.apiLimiter.lastSettledAt, stallMs }) : undefined;
      if (!reason) return;
      this.stalled = { at: now, reason };
      p.log.error('work stalled; giving up leadership so another replica takes over', { identity: p.identity, reason });
      void p.leadership.relinquish(reason);
    }, 1000);
    this.watchdog.unref();
  }

  ready(): { ok: boolean; reason: string } {
    const { p } = this;
    return readiness({
      shuttingDown: this.shuttingDown,
      inSync: p.watcher.ready,
      ...(this.stalled ? { stalled: this.stalled } : {}),
      now: Date.now(),
      leaseDurationMs: p.leaseDurationMs,
      lease: p.leadership.health?.() ?? { ok: true },
      isLeader: p.leadership.isLeader,
      queue: () => p.consumer.health(),
    });
  }

  /**
   * Stop taking work, finish the batch in hand while still renewing the lease, then
   * release the lease (only if no other replica took it) so a follower takes over at once.
   */
  async shutdown(signal: string, server: { close(): void }): Promise<void> {
    const { p } = this;
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    p.log.info('shutting down: finishing in-flight work', { signal });
    clearInterval(this.watchdog);
    await p.drift.stop();
    await p.rollouts?.stop();
    await p.consumer.stop();
    // The last rotations' notifications, while this replica still leads (one attempt's time).
    if (p.notifier) await p.notifier.stop(p.notifyTimeoutMs!);
    await p.leadership.stop();
    p.watcher.stop();
    server.close();
    p.log.info('stopped');
    const exit = p.exit ?? ((code: number) => process.exit(code));
    p.log.on('finish', () => exit(0));
    p.log.end();
    setTimeout(() => exit(0), 2000).unref();
  }

  private discoveryPass(term: Term): void {
    void this.p.fence
      .run(term, () => this.p.reporter!.pass())
      .catch((err) => this.p.log.warn('discovery pass failed', { error: errorMessage(err) }));
  }
}
