import { Fence, SoleLeader, type Term } from '../../src/leader/fence';
import { STALL_REQUEST_DEADLINES } from '../../src/leader/stall';
import { Lifecycle, readiness, type LifecycleParts } from '../../src/lifecycle';
import { createLogger } from '../../src/core/log';
import { createMetrics, METRIC_PREFIX } from '../../src/core/metrics';

const ok = { ok: true };

describe('readiness (/readyz)', () => {
  const base = { shuttingDown: false, inSync: true, now: 10_000, leaseDurationMs: 15_000, lease: ok, isLeader: true, queue: () => ok };

  it.each([
    ['shutting down', { shuttingDown: true }, { ok: false, reason: 'shutting down' }],
    ['not in sync', { inSync: false }, { ok: false, reason: 'not in sync with the Kubernetes API server' }],
    ['stalled within a lease duration', { stalled: { at: 0, reason: 'work stalled: x' } }, { ok: false, reason: 'work stalled: x' }],
    ['stalled longer ago than a lease duration', { stalled: { at: -5_001, reason: 'work stalled: x' } }, { ok: true, reason: 'ready' }],
    ['lease unhealthy', { lease: { ok: false, reason: 'renewals failing' } }, { ok: false, reason: 'renewals failing' }],
    ['lease unhealthy, no reason', { lease: { ok: false } }, { ok: false, reason: 'lease unhealthy' }],
    ['leader with SQS unhealthy', { queue: () => ({ ok: false, reason: 'receives failing' }) }, { ok: false, reason: 'receives failing' }],
    ['leader with SQS unhealthy, no reason', { queue: () => ({ ok: false }) }, { ok: false, reason: 'SQS unhealthy' }],
    ['leader', {}, { ok: true, reason: 'ready' }],
    ['follower (the queue is not asked)', { isLeader: false, queue: () => ({ ok: false }) }, { ok: true, reason: 'ready (follower, idle)' }],
  ])('%s', (_name, facts, expected) => {
    expect(readiness({ ...base, ...facts })).toEqual(expected);
  });
});

function parts(calls: string[], over: Partial<LifecycleParts> = {}) {
  const leadership = new SoleLeader({ onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
  let busyMs = 0;
  const p = {
    leadership,
    fence: new Fence(leadership),
    consumer: {
      checkQueue: async () => void calls.push('consumer.checkQueue'),
      start: (term?: Term) => void calls.push(`consumer.start ${term?.id}`),
      stop: async () => void calls.push('consumer.stop'),
      busyForMs: () => busyMs,
      health: () => ok,
    },
    status: { activate: (term?: Term) => void calls.push(`status.activate ${term?.id}`), deactivate: () => void calls.push('status.deactivate') },
    drift: { start: (term: Term) => void calls.push(`drift.start ${term.id}`), stop: async () => void calls.push('drift.stop') },
    watcher: { ready: true, stop: () => void calls.push('watcher.stop') },
    apiLimiter: { lastSettledAt: 0 },
    metrics: createMetrics(false),
    log: createLogger('silent'),
    identity: 'replica-a',
    requestMs: 1000,
    leaseDurationMs: 15_000,
    driftEnabled: true,
    discoveryPassIntervalMs: 15_000,
    exit: (code: number) => void calls.push(`exit ${code}`),
    ...over,
  } satisfies LifecycleParts;
  return { p, leadership, setBusy: (ms: number) => (busyMs = ms) };
}

describe('Lifecycle', () => {
  afterEach(() => jest.useRealTimers());

  it('leading starts the status reconciler, the queue and drift for the term; following stops them', async () => {
    const calls: string[] = [];
    const { p } = parts(calls);
    const life = new Lifecycle(p);
    life.lead({ id: 7, signal: new AbortController().signal });
    expect(calls).toEqual(['status.activate 7', 'consumer.checkQueue', 'consumer.start 7', 'drift.start 7']);
    expect((await p.metrics.registry.getSingleMetric(`${METRIC_PREFIX}leader`)?.get())?.values[0]?.value).toBe(1);
    calls.length = 0;
    await life.follow();
    expect(calls).toEqual(['drift.stop', 'status.deactivate', 'consumer.stop']);
  });

  it('leading starts the rollout loop for the term, after the queue; following and shutting down stop it before the queue', async () => {
    const calls: string[] = [];
    const rollouts = { start: (term: Term) => void calls.push(`rollouts.start ${term.id}`), stop: async () => void calls.push('rollouts.stop') };
    const { p, leadership } = parts(calls, { rollouts });
    jest.spyOn(leadership, 'stop').mockImplementation(async () => void calls.push('leadership.stop'));
    const life = new Lifecycle(p);
    life.lead({ id: 3, signal: new AbortController().signal });
    expect(calls).toEqual(['status.activate 3', 'consumer.checkQueue', 'consumer.start 3', 'drift.start 3', 'rollouts.start 3']);
    calls.length = 0;
    await life.follow();
    expect(calls).toEqual(['drift.stop', 'rollouts.stop', 'status.deactivate', 'consumer.stop']);
    calls.length = 0;
    await life.shutdown('SIGTERM', { close: () => undefined });
    expect(calls.filter((c) => !c.startsWith('exit'))).toEqual(['drift.stop', 'rollouts.stop', 'consumer.stop', 'leadership.stop', 'watcher.stop']);
  });

  it('does not start drift when its interval is 0', () => {
    const calls: string[] = [];
    new Lifecycle(parts(calls, { driftEnabled: false }).p).lead({ id: 1, signal: new AbortController().signal });
    expect(calls).not.toContain('drift.start 1');
  });

  it('a leader whose batch makes no progress for the stall time gives up leadership and says why on /readyz', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const calls: string[] = [];
    const { p, leadership, setBusy } = parts(calls);
    const relinquish = jest.spyOn(leadership, 'relinquish').mockResolvedValue();
    leadership.start();
    const life = new Lifecycle(p);
    life.startWatchdog();
    jest.advanceTimersByTime(1000);
    expect(relinquish).not.toHaveBeenCalled();
    setBusy(STALL_REQUEST_DEADLINES * p.requestMs);
    jest.advanceTimersByTime(1000);
    expect(relinquish).toHaveBeenCalledWith(expect.stringMatching(/^work stalled/));
    expect(life.ready()).toEqual({ ok: false, reason: expect.stringMatching(/^work stalled/) });
    await life.shutdown('SIGTERM', { close: () => undefined });
  });

  it('shuts down in order, once: drift, queue, notifications, lease, watcher, server; then /readyz says so', async () => {
    const calls: string[] = [];
    const notifier = { stop: async (ms: number) => void calls.push(`notifier.stop ${ms}`) };
    const { p, leadership } = parts(calls, { notifier, notifyTimeoutMs: 5000 });
    jest.spyOn(leadership, 'stop').mockImplementation(async () => void calls.push('leadership.stop'));
    const life = new Lifecycle(p);
    const server = { close: () => void calls.push('server.close') };
    await Promise.all([life.shutdown('SIGTERM', server), life.shutdown('SIGINT', server)]);
    expect(calls.filter((c) => !c.startsWith('exit'))).toEqual(['drift.stop', 'consumer.stop', 'notifier.stop 5000', 'leadership.stop', 'watcher.stop', 'server.close']);
    expect(life.ready()).toEqual({ ok: false, reason: 'shutting down' });
  });
});
