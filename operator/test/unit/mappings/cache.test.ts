import { createLogger } from '../../../src/core/log';
import { MappingCache } from '../../../src/mappings/cache';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import type { SecretsRotationMapping } from '../../../src/mappings/model';
import { parseSecretId } from '../../../src/secrets/secretId';

const srm = (rv: number, o: { generation?: number; uid?: string; secretId?: string; status?: SecretsRotationMapping['status']; selector?: object } = {}): SecretsRotationMapping => ({
  metadata: { name: 'a', namespace: 'ns', uid: o.uid ?? 'uid-a', generation: o.generation ?? 1, resourceVersion: String(rv) },
  spec: { secretId: o.secretId ?? 'secret-a', ...(o.selector === undefined ? { selector: { matchLabels: { app: 'a' } } } : o.selector ? { selector: o.selector } : {}) },
  ...(o.status ? { status: o.status } : {}),
});

function setup() {
  const index = new MappingIndex();
  return { index, cache: new MappingCache(index, createLogger('silent')) };
}

describe('MappingCache', () => {
  it('tells a spec change from a status-only one, and a delete as a spec change', () => {
    const { cache, index } = setup();
    expect(cache.apply('ADDED', srm(1))).toEqual({ key: 'ns/a', part: 'spec' });
    expect(cache.apply('MODIFIED', srm(2, { status: { observedGeneration: 1 } }))).toEqual({ key: 'ns/a', part: 'status' });
    expect(cache.apply('MODIFIED', srm(3, { generation: 2 }))).toEqual({ key: 'ns/a', part: 'spec' });
    expect(cache.apply('MODIFIED', srm(4, { generation: 2, uid: 'uid-a-2' }))).toEqual({ key: 'ns/a', part: 'spec' });
    expect(cache.apply('DELETED', srm(5))).toEqual({ key: 'ns/a', part: 'spec' });
    expect(cache.keys()).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('ignores a replayed object older than the one it holds', () => {
    const { cache, index } = setup();
    cache.apply('ADDED', srm(5, { secretId: 'secret-b' }));
    expect(cache.apply('ADDED', srm(4))).toBeUndefined();
    expect(cache.object('ns/a')?.metadata.resourceVersion).toBe('5');
    expect(index.lookup(parseSecretId('secret-b'))).toHaveLength(1);
  });

  it('keeps an invalid mapping out of the index with its errors, until it is fixed', () => {
    const { cache, index } = setup();
    cache.apply('ADDED', srm(1, { selector: null as unknown as object }));
    expect(cache.invalidErrors('ns/a')).toEqual([expect.objectContaining({ field: 'spec.selector' })]);
    expect(index.size).toBe(0);
    cache.apply('MODIFIED', srm(2, { generation: 2 }));
    expect(cache.invalidErrors('ns/a')).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it('indexes the version its status records for its own secret only', () => {
    const { cache, index } = setup();
    cache.apply('ADDED', srm(1, { status: { appliedVersion: 'v1', secretId: 'other-secret' } }));
    expect(index.get('ns/a')?.appliedVersion).toBeUndefined();
    cache.apply('MODIFIED', srm(2, { status: { appliedVersion: 'v2', secretId: 'secret-a' } }));
    expect(index.get('ns/a')?.appliedVersion).toBe('v2');
  });

  it('indexes when the applied version became current: the time of the rotation that brought it, none for a baseline', () => {
    const { cache, index } = setup();
    const lastRotation = { secretVersion: 'v2', eventId: 'e', eventTime: '2026-12-07T12:00:00Z', completionTime: '2026-12-07T12:00:03Z', workloads: [] };
    cache.apply('ADDED', srm(1, { status: { appliedVersion: 'v2', secretId: 'secret-a', lastRotation } }));
    expect(index.get('ns/a')).toMatchObject({ appliedVersion: 'v2', appliedSince: '2026-12-07T12:00:00Z' });
    // A baseline recorded since (another version, no rotation of its own) has no time.
    cache.wrote('ns/a', { appliedVersion: 'v3', secretId: 'secret-a' }, '9');
    expect(index.get('ns/a')?.appliedVersion).toBe('v3');
    expect(index.get('ns/a')?.appliedSince).toBeUndefined();
  });

  it('a status write it is told of is held at once, and a version it records reaches the index', () => {
    const { cache, index } = setup();
    cache.apply('ADDED', srm(1));
    const before = index.get('ns/a');
    cache.wrote('ns/a', { matchedWorkloads: 3 }, '7');
    expect(cache.object('ns/a')).toMatchObject({ metadata: { resourceVersion: '7' }, status: { matchedWorkloads: 3 } });
    expect(index.get('ns/a')).toBe(before);
    cache.wrote('ns/a', { appliedVersion: 'v3', secretId: 'secret-a' }, '8');
    expect(index.get('ns/a')?.appliedVersion).toBe('v3');
    expect(cache.object('ns/a')?.status).toEqual({ matchedWorkloads: 3, appliedVersion: 'v3', secretId: 'secret-a' });
  });

  it('a written null removes the field, as the API server\'s merge patch does', () => {
    const { cache, index } = setup();
    cache.apply('ADDED', srm(1, { status: { appliedVersion: 'v1', secretId: 'secret-a' } }));
    cache.wrote('ns/a', { appliedVersion: null }, '2');
    expect(cache.object('ns/a')?.status).toEqual({ secretId: 'secret-a' });
    expect(index.get('ns/a')?.appliedVersion).toBeUndefined();
  });

  it('merges a written object into the one held, key by key, as the merge patch does (status.rollout after a halt)', () => {
    const { cache } = setup();
    cache.apply('ADDED', srm(1, { status: { rollout: { phase: 'Halted', reason: 'CanaryUnhealthy', versions: { 'secret-a': 'v1' }, handled: { resume: 'r1' } } } }));
    cache.wrote('ns/a', { rollout: { phase: 'Rolling', reason: null, versions: { 'secret-a': null, 'secret-b': 'v2' } } }, '2');
    expect(cache.object('ns/a')?.status?.rollout).toEqual({ phase: 'Rolling', versions: { 'secret-b': 'v2' }, handled: { resume: 'r1' } });
  });

  it("keeps the operator's own annotations (a person's requests to a rollout) and drops the others", () => {
    const { cache } = setup();
    const obj = srm(1);
    cache.apply('ADDED', { ...obj, metadata: { ...obj.metadata, annotations: { 'awssecretsoperator.secretoperator/rollout-resume': 't1', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } });
    expect(cache.object('ns/a')?.metadata.annotations).toEqual({ 'awssecretsoperator.secretoperator/rollout-resume': 't1' });
  });
});
