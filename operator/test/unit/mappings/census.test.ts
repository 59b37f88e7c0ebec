import fc from 'fast-check';
import { WorkloadCensus, selectorMatches } from '../../../src/mappings/census';
import type { LabelSelector, LabelSelectorRequirement } from '../../../src/mappings/model';
import type { WorkloadKind } from '../../../src/workloads/workload';

describe('selectorMatches (the API server label selector semantics)', () => {
  const labels = { app: 'web', tier: 'front' };
  it.each<[string, LabelSelector, boolean]>([
    ['matchLabels, all equal', { matchLabels: { app: 'web', tier: 'front' } }, true],
    ['matchLabels, one differs', { matchLabels: { app: 'web', tier: 'back' } }, false],
    ['matchLabels, one missing', { matchLabels: { zone: 'a' } }, false],
    ['In, value listed', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['back', 'front'] }] }, true],
    ['In, key absent', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    ['NotIn, key absent', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['NotIn, value listed', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist, present', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['labels and expressions together', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
  ])('%s → %s', (_what, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it('agrees with reading the selector as a conjunction of single requirements (property)', () => {
    const key = fc.constantFrom('app', 'tier', 'zone');
    const val = fc.constantFrom('a', 'b', 'c');
    const requirement: fc.Arbitrary<LabelSelectorRequirement> = fc.oneof(
      fc.record({ key, operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.array(val, { minLength: 1, maxLength: 3 }) }),
      fc.record({ key, operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
    );
    fc.assert(
      fc.property(fc.dictionary(key, val), fc.dictionary(key, val), fc.array(requirement, { maxLength: 4 }), (labels, matchLabels, matchExpressions) => {
        const whole = selectorMatches({ matchLabels, matchExpressions }, labels);
        const parts = [
          ...Object.entries(matchLabels).map(([k, v]) => selectorMatches({ matchExpressions: [{ key: k, operator: 'In', values: [v] }] }, labels)),
          ...matchExpressions.map((e) => selectorMatches({ matchExpressions: [e] }, labels)),
        ];
        expect(whole).toBe(parts.every(Boolean));
      }),
    );
  });
});

describe('WorkloadCensus', () => {
  const lists: string[] = [];
  const inventory: Record<string, Record<string, string>[]> = {
    'Deployment/ns1': [{ app: 'a' }, { app: 'b' }, { app: 'a', tier: 'x' }],
    'StatefulSet/ns1': [{ app: 'a' }],
    'DaemonSet/ns1': [],
    'Deployment/ns2': [{ app: 'a' }],
  };
  const listLabels = async (kind: WorkloadKind, ns: string) => (lists.push(`${kind}/${ns}`), [...(inventory[`${kind}/${ns}`] ?? [])]);
  beforeEach(() => (lists.length = 0));
  const mapping = (namespace: string, app: string, workloadKinds: WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet']) => ({ namespace, workloadKinds, selector: { matchLabels: { app } } });

  it('counts what each mapping selects, from one list per kind and namespace shared by its mappings', async () => {
    const c = new WorkloadCensus(listLabels, 2_000, () => 0);
    const counts = await Promise.all([c.count(mapping('ns1', 'a')), c.count(mapping('ns1', 'b')), c.count(mapping('ns1', 'z')), c.count(mapping('ns2', 'a', ['Deployment']))]);
    expect(counts).toEqual([3, 1, 0, 1]);
    expect(lists.sort()).toEqual(['DaemonSet/ns1', 'Deployment/ns1', 'Deployment/ns2', 'StatefulSet/ns1']);
  });

  it('lists again once the shared list is older than maxAgeMs (a workload created since is counted)', async () => {
    let t = 0;
    const c = new WorkloadCensus(listLabels, 2_000, () => t);
    expect(await c.count(mapping('ns2', 'a', ['Deployment']))).toBe(1);
    inventory['Deployment/ns2'].push({ app: 'a' });
    t = 1_999;
    expect(await c.count(mapping('ns2', 'a', ['Deployment']))).toBe(1);
    t = 2_001;
    expect(await c.count(mapping('ns2', 'a', ['Deployment']))).toBe(2);
    expect(lists).toEqual(['Deployment/ns2', 'Deployment/ns2']);
  });

  it('a failed list fails the counts waiting on it, and the next count lists again', async () => {
    let fail = true;
    const c = new WorkloadCensus(async (k, ns) => {
      if (fail) throw new Error('503');
      return listLabels(k, ns);
    }, 2_000, () => 0);
    await expect(c.count(mapping('ns1', 'a', ['Deployment']))).rejects.toThrow('503');
    fail = false;
    expect(await c.count(mapping('ns1', 'a', ['Deployment']))).toBe(2);
  });
});
