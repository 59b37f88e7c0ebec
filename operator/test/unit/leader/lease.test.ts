import type * as k8s from '@kubernetes/client-node';
import { LeaderElector } from '../../../src/leader/lease';
import { createLogger } from '../../../src/log';

/** A Lease API with one Lease, enough for the elector: read, create, merge patch. */
function fakeLeaseApi() {
  let lease: { metadata: Record<string, unknown>; spec: Record<string, unknown> } | undefined;
  let rv = 0;
  const patches: Record<string, unknown>[] = [];
  const api = {
    readNamespacedLease: async () => {
      if (!lease) throw Object.assign(new Error('not found'), { statusCode: 404 });
      return { body: lease };
    },
    createNamespacedLease: async (_ns: string, body: { metadata: Record<string, unknown>; spec: Record<string, unknown> }) => {
      lease = { metadata: { ...body.metadata, resourceVersion: String(++rv) }, spec: { ...body.spec } };
      return { body: lease };
    },
    patchNamespacedLease: async (_name: string, _ns: string, patch: { spec: Record<string, unknown> }) => {
      patches.push(patch.spec);
      lease = { metadata: { ...lease!.metadata, resourceVersion: String(++rv) }, spec: { ...lease!.spec, ...patch.spec } };
      return { body: lease };
    },
  };
  return { api: api as unknown as k8s.CoordinationV1Api, patches };
}

test('stop() returns promptly while the elector waits between tries, and releases the lease', async () => {
  const { api, patches } = fakeLeaseApi();
  let leading = false;
  const elector = new LeaderElector({
    api,
    name: 'l',
    namespace: 'ns',
    identity: 'me',
    leaseDurationSeconds: 60,
    renewDeadlineSeconds: 50,
    retryPeriodSeconds: 40,
    log: createLogger('silent'),
    onStartedLeading: () => (leading = true),
    onStoppedLeading: () => {
      leading = false;
    },
  });
  elector.start();
  while (!leading) await new Promise((r) => setTimeout(r, 5));
  // The elector now sleeps for its 40 s retry period: stop() must not wait for it (it used to wait forever).
  const t0 = Date.now();
  await elector.stop();
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(leading).toBe(false);
  expect(patches.at(-1)).toMatchObject({ holderIdentity: null });
});

test('a follower takes a dead holder\'s lease when it expires, not at the next retry after it', async () => {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
  try {
    const { api } = fakeLeaseApi();
    // Another replica holds the lease and never renews it again (it was killed).
    await api.createNamespacedLease('ns', { metadata: { name: 'l', namespace: 'ns' }, spec: { holderIdentity: 'dead', leaseDurationSeconds: 15, renewTime: '2020-01-01T00:00:00.000000Z' as unknown as Date } });
    let ledAt: number | undefined;
    const t0 = Date.now();
    const elector = new LeaderElector({
      api,
      name: 'l',
      namespace: 'ns',
      identity: 'me',
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
      log: createLogger('silent'),
      onStartedLeading: () => (ledAt = Date.now()),
      onStoppedLeading: () => undefined,
    });
    elector.start();
    // Tries at 0, 2, ... 14 s see a valid lease; with retries only, the next try would be at 16 s.
    await jest.advanceTimersByTimeAsync(14_900);
    expect(ledAt).toBeUndefined();
    await jest.advanceTimersByTimeAsync(200);
    expect(ledAt! - t0).toBeGreaterThanOrEqual(15_000);
    expect(ledAt! - t0).toBeLessThanOrEqual(15_100);
    const stopping = elector.stop();
    await jest.advanceTimersByTimeAsync(10);
    await stopping;
  } finally {
    jest.useRealTimers();
  }
});
