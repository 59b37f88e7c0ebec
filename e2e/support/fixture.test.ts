/** The fixture base's teardown, on a fake context: what it started stops first, last started first; namespaces go whatever failed. */
import type { E2eContext } from './context';
import { Fixture } from './fixture';

function fakeContext(calls: string[], opts: { goneAfterLists?: number } = {}) {
  const existing = new Set<string>();
  let lists = 0;
  const ctx = {
    operators: [],
    kube: {
      core: {
        createNamespace: async (body: { metadata: { name: string; labels: Record<string, string> } }) => {
          calls.push(`create ${body.metadata.name} ${JSON.stringify(body.metadata.labels)}`);
          existing.add(body.metadata.name);
        },
        listNamespace: async () => {
          // The API server takes a while to finalise a deleted namespace.
          if (++lists >= (opts.goneAfterLists ?? 1)) for (const n of [...existing]) if (calls.includes(`delete ${n}`)) existing.delete(n);
          calls.push('list');
          return { body: { items: [...existing].map((name) => ({ metadata: { name } })) } };
        },
      },
      deleteNamespace: async (name: string) => void calls.push(`delete ${name}`),
    },
  };
  return ctx as unknown as E2eContext;
}

describe('Fixture teardown', () => {
  it('stops what it owns, the last started first, before deleting its namespaces', async () => {
    const calls: string[] = [];
    const f = new Fixture(fakeContext(calls));
    await f.labelledNamespace('bench-a-0', { 'bench/run': 'true' });
    f.own({ stop: async () => void calls.push('stop queue') });
    f.own({ stop: async () => void calls.push('stop operator') });
    f.own({ stop: () => void calls.push('stop watch') });
    await f.teardown();
    expect(calls).toEqual(['create bench-a-0 {"bench/run":"true"}', 'stop watch', 'stop operator', 'stop queue', 'delete bench-a-0']);
  });

  it('deletes the namespaces even when stopping something failed, and says why it failed', async () => {
    const calls: string[] = [];
    const f = new Fixture(fakeContext(calls));
    await f.labelledNamespace('n', {});
    f.own({ stop: async () => Promise.reject(new Error('operator exited with 1')) });
    await expect(f.teardown()).rejects.toThrow('operator exited with 1');
    expect(calls).toContain('delete n');
  });

  it('with namespacesGoneWithinMs, returns only once the namespaces are gone', async () => {
    const calls: string[] = [];
    const f = new Fixture(fakeContext(calls, { goneAfterLists: 3 }), { namespacesGoneWithinMs: 10_000 });
    await f.labelledNamespace('a', {});
    await f.labelledNamespace('b', {});
    await f.teardown();
    expect(calls.filter((c) => c === 'list')).toHaveLength(3);
    expect(calls.slice(-1)).toEqual(['list']);
  });
});
