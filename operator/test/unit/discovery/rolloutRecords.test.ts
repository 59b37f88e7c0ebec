/**
 * Where a discovered source's rollout record is read from and written to (discovery/rolloutRecords.ts):
 * its annotation as discovery listed it, unless this replica wrote since (the listing is
 * shared for a moment); never another object's memory; nothing that is not a JSON object.
 */
import type * as k8s from '@kubernetes/client-node';
import { SOURCE_ROLLOUT_ANNOTATION } from '../../../src/core/names';
import { readExternalSecret, type DiscoveredSource } from '../../../src/discovery/model';
import { SourceRecords } from '../../../src/discovery/rolloutRecords';

const KEY = 'externalsecret:ns/app';

function source(uid: string, record?: string): DiscoveredSource {
  const annotations = record === undefined ? {} : { [SOURCE_ROLLOUT_ANNOTATION]: record };
  return readExternalSecret(
    { metadata: { name: 'app', namespace: 'ns', uid, generation: 1, annotations }, spec: { secretStoreRef: { name: 'aws' }, data: [{ remoteRef: { key: 'db/pass' } }] } },
    'external-secrets.io/v1',
    () => ({ awsSecretsManager: true, region: 'us-east-1' }),
  );
}

function setup(listed: DiscoveredSource[]) {
  const patches: { plural: string; name: string; body: unknown }[] = [];
  const api = { patchNamespacedCustomObject: async (_g: string, _v: string, _ns: string, plural: string, name: string, body: unknown) => void patches.push({ plural, name, body }) } as unknown as k8s.CustomObjectsApi;
  const records = new SourceRecords({ sources: { snapshot: async () => listed }, api, workloads: { list: async () => [] }, kinds: ['Deployment'] });
  return { records, patches, listed };
}

describe('SourceRecords', () => {
  it('reads the record from the listed annotation; one that is not a JSON object reads as none', async () => {
    expect((await setup([source('u1', '{"phase":"Rolling"}')]).records.of(KEY))?.record).toEqual({ phase: 'Rolling' });
    for (const bad of ['not json', '[1]', '"x"']) expect((await setup([source('u1', bad)]).records.of(KEY))?.record).toBeUndefined();
    expect(await setup([]).records.of(KEY)).toBeUndefined();
  });

  it('writes the whole record as the annotation, naming the object by uid, and reads it back before a listing older than the write, until it stops leading', async () => {
    const t = setup([source('u1', '{"phase":"Canary"}')]);
    const s = (await t.records.of(KEY))!;
    await t.records.write(s.mapping, { phase: 'Rolling' });
    expect(t.patches).toEqual([{ plural: 'externalsecrets', name: 'app', body: { metadata: { uid: 'u1', annotations: { [SOURCE_ROLLOUT_ANNOTATION]: '{"phase":"Rolling"}' } } } }]);
    expect((await t.records.of(KEY))?.record).toEqual({ phase: 'Rolling' });
    expect((await t.records.all()).map((r) => r.record)).toEqual([{ phase: 'Rolling' }]);
    t.records.forget();
    expect((await t.records.of(KEY))?.record).toEqual({ phase: 'Canary' });
  });

  it('does not lend what it wrote to a source of the same name recreated since (another uid), nor keep it for one deleted', async () => {
    const t = setup([source('u1')]);
    await t.records.write((await t.records.of(KEY))!.mapping, { phase: 'Rolling' });
    t.listed.splice(0, 1, source('u2'));
    expect((await t.records.of(KEY))?.record).toBeUndefined();
    t.listed.splice(0, 1);
    expect(await t.records.all()).toEqual([]);
    t.listed.push(source('u1'));
    expect((await t.records.of(KEY))?.record).toBeUndefined();
  });
});
