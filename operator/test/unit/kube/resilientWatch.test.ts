import * as k8s from '@kubernetes/client-node';

describe('resilientWatch: a watch has a deadline', () => {
  it('asks the server to end it, and aborts and reconnects one whose connection went silent', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const calls: { query: Record<string, unknown>; done: (err: unknown) => void; aborted: boolean }[] = [];
      // The client-node watch as the framework reaches it: this one connects and then never says anything again.
      k8s.Watch.prototype.watch = async function (_path: string, query: Record<string, unknown>, _cb: unknown, done: (err: unknown) => void) {
        const call = { query, done, aborted: false };
        calls.push(call);
        return { on: () => undefined, abort: () => void (call.aborted = true) } as never;
      };
      const { installResilientWatch, WATCH_TIMEOUT_SECONDS } = await import('../../../src/kube/resilientWatch');
      const failures: string[] = [];
      const guard = installResilientWatch({ onConnected: () => undefined, onFailure: (_p, err, retryInMs) => failures.push(`${(err as Error).message} (retry in ${retryInMs} ms)`) });
      let restarts = 0;
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
      await new k8s.Watch(kc).watch('/apis/g/v1/things', {}, () => undefined, () => void restarts++);
      expect(calls[0].query).toMatchObject({ timeoutSeconds: WATCH_TIMEOUT_SECONDS });

      await jest.advanceTimersByTimeAsync(WATCH_TIMEOUT_SECONDS * 1000 + 29_000);
      expect(failures).toEqual([]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(calls[0].aborted).toBe(true);
      expect(failures).toEqual([expect.stringMatching(/^watch did not end within 300 s \+ 30 s: the connection went silent \(retry in \d+ ms\)$/)]);
      // The abort's own end is not a second restart: the framework restarts it once, after the backoff.
      calls[0].done(null);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(restarts).toBe(1);
      guard.stop();
    } finally {
      jest.useRealTimers();
    }
  });
});
