import { MappingIndex } from '../../../src/mappings/mappingIndex';
import { normaliseMapping, type Mapping } from '../../../src/mappings/model';
import { parseSecretId } from '../../../src/secrets/secretId';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';
function mapping(name: string, secretId: string, namespace = 'ns', generation = 1): Mapping {
  const n = normaliseMapping({ metadata: { name, namespace, uid: `${namespace}-${name}`, generation }, spec: { secretId, selector: { matchLabels: { app: name } } } });
  if (!n.ok) throw new Error('bad fixture');
  return n.mapping;
}
const keys = (ms: Mapping[]) => ms.map((m) => m.key);
const event = (fullArn: string) => parseSecretId(fullArn, 'full');

describe('MappingIndex', () => {
  it('finds every mapping of a secret whatever form each was written in', () => {
    const idx = new MappingIndex();
    idx.upsert(mapping('by-name', 'app'));
    idx.upsert(mapping('by-partial', `${ARN}app`));
    idx.upsert(mapping('by-full', `${ARN}app-AbC123`));
    idx.upsert(mapping('other', 'app-prod'));
    expect(keys(idx.lookup(event(`${ARN}app-AbC123`)))).toEqual(['ns/by-full', 'ns/by-name', 'ns/by-partial']);
    expect(keys(idx.lookup(event(`${ARN}app-prod-XyZ789`)))).toEqual(['ns/other']);
  });

  it('a replayed ADDED changes nothing', () => {
    const idx = new MappingIndex();
    expect(idx.upsert(mapping('a', 'app'))).toBe(true);
    expect(idx.upsert(mapping('a', 'app'))).toBe(false);
    expect(idx.size).toBe(1);
  });

  it('a modified mapping moves to its new secret', () => {
    const idx = new MappingIndex();
    idx.upsert(mapping('a', 'app'));
    idx.upsert(mapping('a', 'db', 'ns', 2));
    expect(idx.lookup(parseSecretId('app'))).toEqual([]);
    expect(keys(idx.lookup(parseSecretId('db')))).toEqual(['ns/a']);
  });

  it('remove and relist repair the index', () => {
    const idx = new MappingIndex();
    idx.upsert(mapping('a', 'app'));
    idx.upsert(mapping('b', 'app'));
    idx.upsert(mapping('c', 'db'));
    expect(idx.remove('ns/a')).toBe(true);
    expect(idx.remove('ns/a')).toBe(false);
    // The watch missed the delete of b and the creation of d: a relist repairs both.
    expect(idx.replaceAll([mapping('c', 'db'), mapping('d', 'app')])).toEqual(['ns/b']);
    expect(keys(idx.lookup(parseSecretId('app')))).toEqual(['ns/d']);
    expect(idx.size).toBe(2);
  });

  it('leaves no empty buckets behind', () => {
    const idx = new MappingIndex();
    idx.upsert(mapping('a', `${ARN}app-abcdef`));
    idx.remove('ns/a');
    expect((idx as unknown as { byName: Map<string, unknown> }).byName.size).toBe(0);
  });

  it('lookup cost does not grow with the number of mappings', () => {
    const idx = new MappingIndex();
    for (let i = 0; i < 20_000; i++) idx.upsert(mapping(`m${i}`, `secret-${i}`));
    const probe = jest.spyOn(Map.prototype, 'get');
    idx.lookup(parseSecretId('secret-777'));
    const calls = probe.mock.calls.length;
    probe.mockRestore();
    // One bucket probe per reading plus one read per hit: independent of 20 000 entries.
    expect(calls).toBeLessThanOrEqual(3);
  });
});
