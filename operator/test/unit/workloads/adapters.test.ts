import type * as k8s from '@kubernetes/client-node';
import { WorkloadClient, type CustomResourceAccess } from '../../../src/workloads/adapters';
import { RESTARTED_AT_ANNOTATION, ROLLOUT_API, SECRET_VERSIONS_ANNOTATION, parseAppliedVersions, recordedAnnotations, recordsAll, restartPatch, rolloutRestartAt } from '../../../src/workloads/workload';

describe('restart annotations', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');

  it('the patch changes the pod template: time and the merged versions', () => {
    expect(restartPatch('Deployment', { b: '1', a: 'old' }, { a: 'new' }, now)).toEqual({
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-01-02T03:04:05.000Z', [SECRET_VERSIONS_ANNOTATION]: '{"a":"new","b":"1"}' } } } },
    });
  });

  it('reads back what it wrote', () => {
    const patch = restartPatch('StatefulSet', {}, { s: 'v1' }, now) as { spec: { template: { metadata: { annotations: Record<string, string> } } } };
    expect(parseAppliedVersions(recordedAnnotations('StatefulSet', patch))).toEqual({ s: 'v1' });
  });

  it("a Rollout's patch sets spec.restartAt and records on the Rollout itself, never on its pod template", () => {
    expect(restartPatch('Rollout', { b: '1' }, { a: 'new' }, new Date('2026-01-02T03:04:05.250Z'), '7')).toEqual({
      metadata: { resourceVersion: '7', annotations: { [RESTARTED_AT_ANNOTATION]: '2026-01-02T03:04:05.250Z', [SECRET_VERSIONS_ANNOTATION]: '{"a":"new","b":"1"}' } },
      spec: { restartAt: '2026-01-02T03:04:06Z' },
    });
  });

  it("a Rollout reads back what it wrote from its own metadata, not from its template", () => {
    const patch = restartPatch('Rollout', {}, { s: 'v1' }, now) as { metadata: { annotations: Record<string, string> } };
    expect(parseAppliedVersions(recordedAnnotations('Rollout', patch))).toEqual({ s: 'v1' });
    const onTemplate = { spec: { template: { metadata: { annotations: { [SECRET_VERSIONS_ANNOTATION]: '{"s":"v1"}' } } } } };
    expect(parseAppliedVersions(recordedAnnotations('Rollout', onTemplate))).toEqual({});
  });

  it.each([
    ['2026-01-02T03:04:05.000Z', '2026-01-02T03:04:06Z'],
    ['2026-01-02T03:04:05.001Z', '2026-01-02T03:04:06Z'],
    ['2026-01-02T03:04:05.999Z', '2026-01-02T03:04:06Z'],
    ['2026-12-31T23:59:59.500Z', '2027-01-01T00:00:00Z'],
  ])("restartAt for %s is the next whole second, %s: no pod started before now is spared by Argo's whole-second comparison", (at, restartAt) => {
    expect(rolloutRestartAt(new Date(at))).toBe(restartAt);
    // Argo Rollouts restarts a pod when restartAt is after its creationTimestamp (both whole seconds).
    const createdAt = Math.floor(new Date(at).getTime() / 1000) * 1000;
    expect(Date.parse(restartAt)).toBeGreaterThan(createdAt);
  });

  it.each<[Record<string, string> | undefined]>([[undefined], [{}], [{ [SECRET_VERSIONS_ANNOTATION]: 'not json' }], [{ [SECRET_VERSIONS_ANNOTATION]: '[1]' }]])('a missing or hand-broken annotation counts as none: %j', (a) =>
    expect(parseAppliedVersions(a)).toEqual({}),
  );

  it('ignores non-string versions', () => expect(parseAppliedVersions({ [SECRET_VERSIONS_ANNOTATION]: '{"a":"1","b":2}' })).toEqual({ a: '1' }));
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

  it('lists when a restart stamped the versions beside them: drift orders what a consumer records by it', async () => {
    const c = cluster({ a: 'v1' });
    expect((await c.client.list('Deployment', 'ns', ''))[0].restartedAt).toBeUndefined();
    await c.client.restart((await c.client.list('Deployment', 'ns', ''))[0], { a: 'v2' }, now);
    expect(await c.client.list('Deployment', 'ns', '')).toMatchObject([{ appliedVersions: { a: 'v2' }, restartedAt: now.toISOString() }]);
  });

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

describe('WorkloadClient with Rollouts', () => {
  const now = new Date('2026-01-02T03:04:05.500Z');
  /** One Rollout (a custom object) whose resourceVersion moves on every write, like the API server's. */
  function rollouts(opts: { served?: boolean; versions?: Record<string, string>; listStatus?: number } = {}) {
    const obj = {
      metadata: { name: 'web', resourceVersion: '1', annotations: { [SECRET_VERSIONS_ANNOTATION]: JSON.stringify(opts.versions ?? {}) } as Record<string, string> },
      spec: { template: { metadata: { annotations: {} as Record<string, string> } } } as Record<string, unknown>,
    };
    const lists: unknown[][] = [];
    const patches: { args: unknown[]; status: number }[] = [];
    let forgotten = 0;
    const api = {
      listNamespacedCustomObject: async (...args: unknown[]) => {
        lists.push(args);
        if (opts.listStatus) throw Object.assign(new Error('not found'), { statusCode: opts.listStatus });
        return { body: { items: [JSON.parse(JSON.stringify(obj))] } };
      },
      patchNamespacedCustomObject: async (...args: unknown[]) => {
        const body = args[5] as { metadata: { resourceVersion?: string; annotations: Record<string, string> }; spec: Record<string, unknown> };
        if (body.metadata.resourceVersion && body.metadata.resourceVersion !== obj.metadata.resourceVersion) {
          patches.push({ args, status: 409 });
          throw Object.assign(new Error('conflict'), { statusCode: 409 });
        }
        patches.push({ args, status: 200 });
        Object.assign(obj.metadata.annotations, body.metadata.annotations);
        Object.assign(obj.spec, body.spec);
        obj.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
        return { body: obj };
      },
    };
    const access: CustomResourceAccess = { api: api as unknown as k8s.CustomObjectsApi, served: async () => opts.served ?? true, forget: () => void forgotten++ };
    const concurrently = (v: Record<string, string>) => {
      obj.metadata.annotations[SECRET_VERSIONS_ANNOTATION] = JSON.stringify(v);
      obj.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
    };
    return { client: new WorkloadClient({} as k8s.AppsV1Api, { Rollout: access }), obj, lists, patches, concurrently, forgotten: () => forgotten };
  }

  it('without Argo Rollouts support it refuses to touch a Rollout, naming why', async () => {
    await expect(new WorkloadClient({} as k8s.AppsV1Api).list('Rollout', 'ns', 'app=web')).rejects.toThrow('Rollout is not served by this operator (Argo Rollouts support is off)');
  });

  it('lists nothing, and sends no list, where the Rollout API is not served', async () => {
    const r = rollouts({ served: false });
    expect(await r.client.list('Rollout', 'ns', 'app=web')).toEqual([]);
    expect(await r.client.labels('Rollout', 'ns')).toEqual([]);
    expect(r.lists).toEqual([]);
  });

  it('a list answered 404 (the CRD went away) is no Rollout, and the next list asks discovery again', async () => {
    const r = rollouts({ listStatus: 404 });
    expect(await r.client.list('Rollout', 'ns', 'app=web')).toEqual([]);
    expect(r.forgotten()).toBe(1);
  });

  it('another list failure is an error (the rotation retries the message)', async () => {
    await expect(rollouts({ listStatus: 403 }).client.list('Rollout', 'ns', 'app=web')).rejects.toThrow('not found');
  });

  it("lists argoproj.io/v1alpha1 rollouts by the mapping's selector and reads the versions recorded on the Rollout", async () => {
    const r = rollouts({ versions: { a: 'v1' } });
    expect(await r.client.list('Rollout', 'ns', 'app=web')).toEqual([{ kind: 'Rollout', namespace: 'ns', name: 'web', rollout: 'Rolling', resourceVersion: '1', appliedVersions: { a: 'v1' }, references: { secrets: [], providerClasses: [] }, health: 'progressing' }]);
    const [group, version, ns, plural, , , , fieldSelector, labelSelector] = r.lists[0];
    expect({ group, version, ns, plural, fieldSelector, labelSelector }).toEqual({ ...ROLLOUT_API, ns: 'ns', fieldSelector: undefined, labelSelector: 'app=web' });
  });

  it('restarts through a JSON merge patch of spec.restartAt and the annotations, with the listed resourceVersion as precondition', async () => {
    const r = rollouts({ versions: { b: 'w1' } });
    const [w] = await r.client.list('Rollout', 'ns', 'app=web');
    expect(await r.client.restart(w, { a: 'v2' }, now)).toEqual({ patched: true, rollout: 'Rolling' });
    const [group, version, ns, plural, name, body, , fieldManager, , options] = r.patches[0].args;
    expect({ group, version, ns, plural, name, fieldManager }).toEqual({ ...ROLLOUT_API, ns: 'ns', name: 'web', fieldManager: 'secrets-rotation-operator' });
    expect(options).toEqual({ headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(body).toEqual(restartPatch('Rollout', { b: 'w1' }, { a: 'v2' }, now, '1'));
    expect(r.obj.spec.restartAt).toBe('2026-01-02T03:04:06Z');
    expect(r.obj.spec.template).toEqual({ metadata: { annotations: {} } });
    expect(parseAppliedVersions(r.obj.metadata.annotations)).toEqual({ a: 'v2', b: 'w1' });
  });

  it('a conflict re-reads the Rollout by name and rebuilds the patch from what it records now', async () => {
    const r = rollouts({ versions: { a: 'v1', b: 'w1' } });
    const [w] = await r.client.list('Rollout', 'ns', 'app=web');
    r.concurrently({ a: 'v2', b: 'w1' });
    await r.client.restart(w, { b: 'w2' }, now);
    expect(r.patches.map((p) => p.status)).toEqual([409, 200]);
    expect(r.lists.at(-1)?.[7]).toBe('metadata.name=web');
    expect(parseAppliedVersions(r.obj.metadata.annotations)).toEqual({ a: 'v2', b: 'w2' });
  });

  it('patches nothing when the re-read Rollout already records the versions (another replica did it)', async () => {
    const r = rollouts({ versions: { a: 'v1' } });
    const [w] = await r.client.list('Rollout', 'ns', 'app=web');
    r.concurrently({ a: 'v2' });
    expect(await r.client.restart(w, { a: 'v2' }, now)).toEqual({ patched: false });
    expect(r.patches.map((p) => p.status)).toEqual([409]);
  });
});
