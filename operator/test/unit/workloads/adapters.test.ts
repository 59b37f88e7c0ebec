import { ADAPTERS, parseAppliedVersions, RESTARTED_AT_ANNOTATION, restartPatch, SECRET_VERSIONS_ANNOTATION } from '../../../src/workloads/adapters';
import { WORKLOAD_KINDS } from '../../../src/mappings/model';

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
  it('only Deployments pause', () => {
    expect(ADAPTERS.Deployment.paused({ spec: { paused: true } })).toBe(true);
    expect(ADAPTERS.Deployment.paused({ spec: {} })).toBe(false);
    expect(ADAPTERS.StatefulSet.paused({ spec: { paused: true } })).toBe(false);
    expect(ADAPTERS.DaemonSet.paused({ spec: { paused: true } })).toBe(false);
  });
});
