import type * as k8s from '@kubernetes/client-node';
import type { Term } from '../../../src/leader/fence';
import { LeaderElector } from '../../../src/leader/lease';
import { createLogger } from '../../../src/core/log';

/** A Lease store with optimistic concurrency, like the API server's (exercised for real in the fault suite). */
class FakeLeases {
  lease?: { metadata: { name: string; namespace: string; resourceVersion: string }; spec: Record<string, unknown> };
  rv = 1;
  patches: Record<string, unknown>[] = [];
  reads = 0;
  api = {
    readNamespacedLease: async () => {
      this.reads++;
      if (!this.lease) throw Object.assign(new Error('not found'), { statusCode: 404 });
      return { body: JSON.parse(JSON.stringify(this.lease)) };
    },
    createNamespacedLease: async (namespace: string, body: { metadata: { name: string }; spec: Record<string, unknown> }) => {
      if (this.lease) throw Object.assign(new Error('exists'), { statusCode: 409 });
      this.lease = { metadata: { name: body.metadata.name, namespace, resourceVersion: String(++this.rv) }, spec: { ...body.spec } };
      return { body: JSON.parse(JSON.stringify(this.lease)) };
    },
    patchNamespacedLease: async (_n: string, _ns: string, patch: { metadata?: { resourceVersion?: string }; spec: Record<string, unknown> }) => {
      this.patches.push(patch);
      if (patch.metadata?.resourceVersion && patch.metadata.resourceVersion !== this.lease!.metadata.resourceVersion) throw Object.assign(new Error('conflict'), { statusCode: 409 });
      for (const [k, v] of Object.entries(patch.spec)) {
        if (v === null) delete this.lease!.spec[k];
        else this.lease!.spec[k] = v;
      }
      this.lease!.metadata.resourceVersion = String(++this.rv);
      return { body: JSON.parse(JSON.stringify(this.lease)) };
    },
  };
}

async function until(cond: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function elector(store: FakeLeases, identity: string, events: string[], now?: () => number, terms: Term[] = []) {
  return new LeaderElector({
    api: store.api as unknown as k8s.CoordinationV1Api,
    name: 'sro',
    namespace: 'ops',
    identity,
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 1,
    log: createLogger('silent'),
    onStartedLeading: (t) => (terms.push(t), events.push(`${identity}:lead`)),
    onStoppedLeading: () => void events.push(`${identity}:follow`),
    ...(now ? { now } : {}),
  });
}

/** Replica 'a' leading a fresh lease, on a clock the test moves by hand. */
async function leaderOnOwnClock() {
  const store = new FakeLeases();
  let clock = 1_000_000;
  const terms: Term[] = [];
  const events: string[] = [];
  const a = elector(store, 'a', events, () => clock, terms);
  a.start();
  await until(() => a.isLeader, 'a leads');
  return { store, a, terms, events, tick: (ms: number) => void (clock += ms) };
}

describe('LeaderElector', () => {
  it('takes a free lease, and stop() steps down and releases it promptly', async () => {
    const store = new FakeLeases();
    const events: string[] = [];
    const a = elector(store, 'a', events);
    a.start();
    await until(() => a.isLeader, 'a leads');
    expect(store.lease!.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 1 });
    expect(String(store.lease!.spec.renewTime)).toMatch(/\.\d{6}Z$/);
    const t0 = Date.now();
    await a.stop();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(events).toEqual(['a:lead', 'a:follow']);
    expect(store.lease!.spec.holderIdentity).toBeUndefined();
  });

  it('a candidate waits while the holder renews, and takes over once the lease expires on its own clock', async () => {
    const store = new FakeLeases();
    store.lease = { metadata: { name: 'sro', namespace: 'ops', resourceVersion: '1' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 3 } };
    let clock = 1_000_000;
    const events: string[] = [];
    const b = elector(store, 'b', events, () => clock);
    b.start();
    await until(() => store.reads >= 1, 'first look');
    await new Promise((r) => setImmediate(r));
    clock += 14_000;
    const reads = store.reads;
    await until(() => store.reads > reads + 1, 'two more looks', 4000);
    expect(b.isLeader).toBe(false);
    expect(store.patches).toEqual([]);
    clock += 2_000;
    await until(() => b.isLeader, 'b takes over', 3000);
    expect(store.lease!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    await b.stop();
  });

  it("a follower takes a dead holder's lease when it expires, not at the next retry after it", async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const store = new FakeLeases();
      // Another replica holds the lease and never renews it again (it was killed).
      store.lease = { metadata: { name: 'sro', namespace: 'ops', resourceVersion: '1' }, spec: { holderIdentity: 'dead', leaseDurationSeconds: 15, renewTime: '2020-01-01T00:00:00.000000Z', leaseTransitions: 1 } };
      const t0 = Date.now();
      let ledAt: number | undefined;
      const b = new LeaderElector({
        api: store.api as unknown as k8s.CoordinationV1Api,
        name: 'sro',
        namespace: 'ops',
        identity: 'b',
        leaseDurationSeconds: 15,
        renewDeadlineSeconds: 10,
        retryPeriodSeconds: 2,
        log: createLogger('silent'),
        onStartedLeading: () => (ledAt = Date.now()),
        onStoppedLeading: () => undefined,
      });
      b.start();
      // Tries at 0, 2, ... 14 s see a valid lease; with retries alone the next try would be at 16 s.
      await jest.advanceTimersByTimeAsync(14_900);
      expect(ledAt).toBeUndefined();
      await jest.advanceTimersByTimeAsync(200);
      expect(ledAt! - t0).toBeGreaterThanOrEqual(15_000);
      expect(ledAt! - t0).toBeLessThanOrEqual(15_100);
      const stopping = b.stop();
      await jest.advanceTimersByTimeAsync(10);
      await stopping;
    } finally {
      jest.useRealTimers();
    }
  });

  it('the lease stops being valid at the renew deadline on our own clock, before the loop notices (a frozen process)', async () => {
    const { a, tick } = await leaderOnOwnClock();
    expect(a.leaseValid()).toBe(true);
    tick(9_999);
    expect(a.leaseValid()).toBe(true);
    tick(1);
    // No renewal ran in between (as when SIGSTOPped): the fence must already refuse writes.
    expect(a.leaseValid()).toBe(false);
    await a.stop();
  });

  it('stepping down aborts the term, so its in-flight work is cancelled', async () => {
    const { store, a, terms, events, tick } = await leaderOnOwnClock();
    // Renewals now fail (API server unreachable) past the renew deadline.
    store.api.patchNamespacedLease = async () => {
      throw new Error('timeout');
    };
    tick(11_000);
    await until(() => !a.isLeader, 'a steps down', 4000);
    expect(terms[0].signal.aborted).toBe(true);
    expect(events).toEqual(['a:lead', 'a:follow']);
    expect(a.health()).toMatchObject({ ok: false, reason: expect.stringContaining('cannot reach the Lease ops/sro: timeout') });
    await a.stop();
  });

  it("release() only clears the lease it wrote itself: it never wipes another replica's", async () => {
    const store = new FakeLeases();
    const a = elector(store, 'a', []);
    a.start();
    await until(() => a.isLeader, 'a leads');
    const release = store.api.patchNamespacedLease;
    // Another replica takes the lease between our last renewal and our release.
    store.lease!.spec.holderIdentity = 'b';
    store.lease!.metadata.resourceVersion = String(++store.rv);
    store.api.patchNamespacedLease = async (...args: Parameters<typeof release>) => {
      if (args[2].spec.holderIdentity !== null) throw Object.assign(new Error('conflict'), { statusCode: 409 });
      return release(...args);
    };
    await a.stop();
    expect(store.lease!.spec.holderIdentity).toBe('b');
    expect(store.patches.at(-1)).toMatchObject({ metadata: { resourceVersion: expect.any(String) }, spec: { holderIdentity: null } });
  });

  it('relinquish() steps down without releasing, and does not campaign again for one lease duration', async () => {
    const { store, a, terms, tick } = await leaderOnOwnClock();
    await a.relinquish('work stalled');
    expect(a.isLeader).toBe(false);
    expect(terms[0].signal.aborted).toBe(true);
    expect(store.lease!.spec.holderIdentity).toBe('a');
    const patches = store.patches.length;
    tick(14_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.isLeader).toBe(false);
    expect(store.patches).toHaveLength(patches);
    tick(1_001);
    await until(() => a.isLeader, 'a leads again after the hold-off', 4000);
    expect(terms.map((t) => t.id)).toEqual([1, 2]);
    await a.stop();
  });
});
