import type * as k8s from '@kubernetes/client-node';
import { LeaderElector } from '../../../src/leader/lease';
import { createLogger } from '../../../src/log';

/** A Lease API that always grants: enough to reach the wait between two renewals. */
function grantingApi() {
  let spec: Record<string, unknown> = {};
  const patches: Record<string, unknown>[] = [];
  const api = {
    readNamespacedLease: async () => ({ body: { metadata: { resourceVersion: '1' }, spec } }),
    patchNamespacedLease: async (_n: string, _ns: string, body: { spec: Record<string, unknown> }) => {
      patches.push(body.spec);
      spec = { ...spec, ...body.spec };
      return { body: { spec } };
    },
    createNamespacedLease: async () => ({ body: { spec } }),
  };
  return { api: api as unknown as k8s.CoordinationV1Api, patches };
}

test('stop() of a leader waiting for its next renewal resolves at once, steps down and releases the lease', async () => {
  const { api, patches } = grantingApi();
  const events: string[] = [];
  const elector = new LeaderElector({
    api,
    name: 'l',
    namespace: 'ns',
    identity: 'me',
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 3600,
    log: createLogger('error'),
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => {
      events.push('stopped');
    },
  });
  elector.start();
  while (!elector.isLeader) await new Promise((r) => setImmediate(r));

  const outcome = await Promise.race([elector.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still waiting'), 1000).unref())]);

  expect(outcome).toBe('stopped');
  expect(events).toEqual(['started', 'stopped']);
  expect(patches.at(-1)).toMatchObject({ holderIdentity: null });
});
