import type * as k8s from '@kubernetes/client-node';
import { ADAPTERS, WorkloadClient } from '../../../src/workloads/adapters';
import { RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION, WORKLOAD_KINDS, parseAppliedVersions, recordsAll, restartPatch } from '../../../src/workloads/workload';

describe('restart annotations', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');

  it('the patch changes the pod template: time and the merged versions', () => {
    expect(restartPatch({ b: '1', a: 'old' }, { a: 'new' }, now)).toEqual({
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-01-02T03:04:05.000Z', [SECRET_VERSIONS_ANNOTATION]: '{"a":"new","b":"1"}' } } } },
    });
  });

  it('reads back what it wrote', () => {
    const patch = restartPatch({}, { s: 'v1' }, now) as { spec: { template: { metadata: { annotations: Record<string, string> } } } };
    expect(parseAppliedVersions(patch.spec.template.metadata.annotations)).toEqual({ s: 'v1' });
  });

  it.each<[Record<string, string> | undefined]>([[undefined], [{}], [{ [SECRET_VERSIONS_ANNOTATION]: 'not json' }], [{ [SECRET_VERSIONS_ANNOTATION]: '[1]' }]])('a missing or hand-broken annotation counts as none: %j', (a) =>
    expect(parseAppliedVersions(a)).toEqual({}),
  );

  it('ignores non-string versions', () => expect(parseAppliedVersions({ [SECRET_VERSIONS_ANNOTATION]: '{"a":"1","b":2}' })).toEqual({ a: '1' }));
});

describe('adapter table', () => {
  it('has one adapter per supported kind', () => expect(Object.keys(ADAPTERS).sort()).toEqual([...WORKLOAD_KINDS].sort()));
  it('only Deployments pause; only StatefulSets and DaemonSets roll on delete', () => {
    expect(ADAPTERS.Deployment.rollout({ spec: { paused: true } })).toBe('Paused');
    expect(ADAPTERS.Deployment.rollout({ spec: {} })).toBe('Rolling');
    expect(ADAPTERS.Deployment.rollout({ spec: { updateStrategy: { type: 'OnDelete' } } })).toBe('Rolling');
    expect(ADAPTERS.StatefulSet.rollout({ spec: { paused: true } })).toBe('Rolling');
    expect(ADAPTERS.StatefulSet.rollout({ spec: { updateStrategy: { type: 'OnDelete' } } })).toBe('OnDelete');
    expect(ADAPTERS.StatefulSet.rollout({ spec: { updateStrategy: { type: 'RollingUpdate' } } })).toBe('Rolling');
    expect(ADAPTERS.DaemonSet.rollout({ spec: { updateStrategy: { type: 'OnDelete' } } })).toBe('OnDelete');
    expect(ADAPTERS.DaemonSet.rollout({ spec: {} })).toBe('Rolling');
  });
});

describe('WorkloadClient.restart', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');
  /** One Deployment whose resourceVersion moves on every write, like the API server's. */
  function cluster(versions: Record<string, string>) {
    const obj = { metadata: { name: 'web', resourceVersion: '1' }, spec: { template: { metadata: { annotations: { [SECRET_VERSIONS_ANNOTATION]: JSON.stringify(versions) } } } } };
    const patches: { body: { metadata?: { resourceVersion?: string } }; status: number }[] = [];
    const lists: (string | undefined)[] = [];
    const api = {
      listNamespacedDeployment: async (_ns: string, _p?: unknown, _c?: unknown, _k?: unknown, fieldSelector?: string) => {
        lists.push(fieldSelector);
        return { body: { items: [JSON.parse(JSON.stringify(obj))] } };
      },
      patchNamespacedDeployment: async (_name: string, _ns: string, body: { metadata?: { resourceVersion?: string }; spec: { template: { metadata: { annotations: Record<string, string> } } } }) => {
        if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== obj.metadata.resourceVersion) {
          patches.push({ body, status: 409 });
          throw Object.assign(new Error('conflict'), { statusCode: 409 });
        }
        patches.push({ body, status: 200 });
        Object.assign(obj.spec.template.metadata.annotations, body.spec.template.metadata.annotations);
        obj.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
        return { body: obj };
      },
    };
    /** Another writer (the other secret's rotation, another replica) changes it meanwhile. */
    const concurrently = (v: Record<string, string>) => {
      obj.spec.template.metadata.annotations[SECRET_VERSIONS_ANNOTATION] = JSON.stringify(v);
      obj.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
    };
    return { client: new WorkloadClient(api as unknown as k8s.AppsV1Api), obj, patches, lists, concurrently };
  }

  it('sends the resourceVersion it listed as the precondition', async () => {
    const c = cluster({});
    const [w] = await c.client.list('Deployment', 'ns', 'app=web');
    expect(await c.client.restart(w, { a: 'v2' }, now)).toEqual({ patched: true, rollout: 'Rolling' });
    expect(c.patches[0].body.metadata).toEqual({ resourceVersion: '1' });
  });

  it('two patches built from the same old annotation never drop a key: the second is refused, re-read and rebuilt', async () => {
    const c = cluster({ a: 'v1', b: 'w1' });
    const [w] = await c.client.list('Deployment', 'ns', 'app=web');
    c.concurrently({ a: 'v2', b: 'w1' }); // secret a's rotation landed first
    await c.client.restart(w, { b: 'w2' }, now);
    expect(c.patches.map((p) => p.status)).toEqual([409, 200]);
    expect(c.lists.at(-1)).toBe('metadata.name=web');
    expect(parseAppliedVersions(c.obj.spec.template.metadata.annotations)).toEqual({ a: 'v2', b: 'w2' });
  });

  it('patches nothing when the re-read workload already records the versions (another writer did it)', async () => {
    const c = cluster({ a: 'v1' });
    const [w] = await c.client.list('Deployment', 'ns', 'app=web');
    c.concurrently({ a: 'v2' });
    expect(await c.client.restart(w, { a: 'v2' }, now)).toEqual({ patched: false });
    expect(c.patches.map((p) => p.status)).toEqual([409]);
  });

  it('recordsAll', () => {
    expect(recordsAll({ a: '1', b: '2' }, { a: '1' })).toBe(true);
    expect(recordsAll({ a: '1' }, { a: '2' })).toBe(false);
    expect(recordsAll({}, {})).toBe(true);
  });
});
