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
