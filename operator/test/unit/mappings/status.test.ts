import { createLogger } from '../../../src/core/log';
import { StatusReconciler, statusIsCurrent } from '../../../src/mappings/status';
import { appliedVersionOf, type SecretsRotationMapping, type SecretsRotationMappingStatus, type SecretsRotationMappingStatusPatch } from '../../../src/mappings/model';
import type { MappingWatcher } from '../../../src/mappings/watcher';

const ready = (status: 'True' | 'False', observedGeneration = 2) => ({ type: 'Ready', status, reason: 'x', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration });
const obj = (status?: SecretsRotationMapping['status']): Pick<SecretsRotationMapping, 'metadata' | 'status'> => ({ metadata: { name: 'm', namespace: 'ns', generation: 2 }, ...(status ? { status } : {}) });

/** A watcher holding one object, and a writer recording the status patches written to it. */
function fakeWatcher(obj: SecretsRotationMapping) {
  const patches: SecretsRotationMappingStatusPatch[] = [];
  const watcher = {
    keys: () => [`${obj.metadata.namespace}/${obj.metadata.name}`],
    object: () => obj,
    patchStatus: async (_k: string, build: (c: SecretsRotationMappingStatus) => SecretsRotationMappingStatusPatch | undefined) => {
      const p = build(obj.status ?? {});
      if (p) patches.push(p);
      return true;
    },
  };
  return { watcher: watcher as unknown as MappingWatcher, writer: watcher, patches };
}

describe('statusIsCurrent (whether a reconcile would write anything)', () => {
  it.each([
    ['no status yet', obj(), false],
    ['an older generation observed', obj({ observedGeneration: 1, conditions: [ready('True', 1)], appliedVersion: 'v1' }), false],
    ['Ready decided for an older generation', obj({ observedGeneration: 2, conditions: [ready('True', 1)], appliedVersion: 'v1' }), false],
    ['no Ready condition', obj({ observedGeneration: 2, conditions: [], appliedVersion: 'v1' }), false],
    ['Ready without a baseline version (DescribeSecret failed)', obj({ observedGeneration: 2, conditions: [ready('True')] }), false],
    ['Ready with a baseline', obj({ observedGeneration: 2, conditions: [ready('True')], appliedVersion: 'v1' }), true],
    ['refused as invalid for this generation', obj({ observedGeneration: 2, conditions: [ready('False')] }), true],
  ])('%s → %s', (_what, o, current) => {
    expect(statusIsCurrent(o)).toBe(current);
  });

  it('a mapping that is gone needs nothing', () => {
    expect(statusIsCurrent(undefined)).toBe(true);
  });
});

describe('StatusReconciler: the drift baseline belongs to one secret', () => {
  const cur = (status: SecretsRotationMappingStatus): SecretsRotationMapping => ({
    metadata: { name: 'web', namespace: 'ns', uid: 'u1', generation: 3 },
    spec: { secretId: 'new-secret', selector: { matchLabels: { app: 'web' } } },
    status,
  });

  function reconciler(obj: SecretsRotationMapping, current?: string) {
    const { watcher, writer, patches } = fakeWatcher(obj);
    const r = new StatusReconciler({
      watcher,
      writer,
      census: { count: async () => 0 },
      describer: { describe: async (id) => ({ arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbC123`, name: id, ...(current ? { currentVersion: current } : {}) }) },
      region: 'us-east-1',
      log: createLogger('silent'),
    });
    return { r, patches };
  }

  it('a changed spec.secretId records the new secret’s current version in place of the old one’s', async () => {
    const { r, patches } = reconciler(cur({ secretId: 'old-secret', appliedVersion: 'old-v7', observedGeneration: 2 }), 'new-v1');
    await r.reconcile('ns/web');
    expect(patches[0]).toMatchObject({ secretId: 'new-secret', appliedVersion: 'new-v1' });
  });

  it('without the new secret’s version (DescribeSecret found none), the old one is removed, not kept', async () => {
    const { r, patches } = reconciler(cur({ secretId: 'old-secret', appliedVersion: 'old-v7', observedGeneration: 2 }));
    await r.reconcile('ns/web');
    expect(patches[0]).toMatchObject({ secretId: 'new-secret', appliedVersion: null });
  });

  it('a baseline of the same secret is kept', async () => {
    const { r, patches } = reconciler(cur({ secretId: 'new-secret', appliedVersion: 'new-v1', observedGeneration: 2 }), 'new-v2');
    await r.reconcile('ns/web');
    expect(patches[0].appliedVersion).toBeUndefined();
  });

  it('appliedVersionOf ignores a version recorded for another secret', () => {
    expect(appliedVersionOf({ secretId: 'a', appliedVersion: 'v1' }, 'a')).toBe('v1');
    expect(appliedVersionOf({ secretId: 'a', appliedVersion: 'v1' }, 'b')).toBeUndefined();
    // Written before status.secretId existed: taken as it is.
    expect(appliedVersionOf({ appliedVersion: 'v1' }, 'b')).toBe('v1');
  });
});

describe('StatusReconciler: drift leaves a mapping waiting for its reconcile to it', () => {
  it('records no baseline of its own while the mapping is queued or being reconciled; the reconcile writes it', async () => {
    const obj: SecretsRotationMapping = { metadata: { name: 'web', namespace: 'ns', uid: 'u1', generation: 1 }, spec: { secretId: 's', selector: { matchLabels: { app: 'web' } } } };
    const { watcher, writer, patches } = fakeWatcher(obj);
    let release!: () => void;
    const listed = new Promise<void>((r) => (release = r));
    const r = new StatusReconciler({
      watcher,
      writer,
      census: { count: async () => (await listed, 0) },
      describer: { describe: async (id) => ({ arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbC123`, name: id, currentVersion: 'v1' }) },
      region: 'us-east-1',
      log: createLogger('silent'),
    });
    r.activate();
    const mapping = { key: 'ns/web', namespace: 'ns', name: 'web', secret: { raw: 's' } } as unknown as Parameters<StatusReconciler['recordBaseline']>[0];
    expect(await r.recordBaseline(mapping, 'v1')).toBe(true);
    expect(patches).toEqual([]);
    release();
    for (let i = 0; i < 100 && patches.length === 0; i++) await new Promise((t) => setTimeout(t, 5));
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({ appliedVersion: 'v1', secretId: 's' });
    r.deactivate();
    // Not waiting for a reconcile any more: drift records it.
    expect(await r.recordBaseline(mapping, 'v2')).toBe(true);
    expect(patches).toHaveLength(2);
  });
});

describe('StatusReconciler.recordBaseline never replaces a recorded version', () => {
  function withStatus(status: SecretsRotationMappingStatus) {
    const obj: SecretsRotationMapping = { metadata: { name: 'web', namespace: 'ns', uid: 'u1', generation: 1 }, spec: { secretId: 's', selector: { matchLabels: { app: 'web' } } }, status };
    const { watcher, writer, patches } = fakeWatcher(obj);
    const r = new StatusReconciler({ watcher, writer, census: { count: async () => 0 }, region: 'us-east-1', log: createLogger('silent') });
    const mapping = { key: 'ns/web', namespace: 'ns', name: 'web', secret: { raw: 's' } } as unknown as Parameters<StatusReconciler['recordBaseline']>[0];
    return { r, patches, mapping };
  }

  it('a baseline recorded since drift saw the mapping unrecorded stays (a newer one would skip the changes between)', async () => {
    const { r, patches, mapping } = withStatus({ secretId: 's', appliedVersion: 'v0' });
    await r.recordBaseline(mapping, 'v10');
    expect(patches).toEqual([]);
  });

  it('records one where none is, or where only another secret\'s is', async () => {
    const none = withStatus({});
    await none.r.recordBaseline(none.mapping, 'v10');
    expect(none.patches).toEqual([{ appliedVersion: 'v10', secretId: 's' }]);
    const other = withStatus({ secretId: 'old-secret', appliedVersion: 'x7' });
    await other.r.recordBaseline(other.mapping, 'v10');
    expect(other.patches).toEqual([{ appliedVersion: 'v10', secretId: 's' }]);
  });
});
