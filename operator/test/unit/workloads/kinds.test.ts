import { KINDS, ROLLOUT_API, WORKLOAD_KINDS } from '../../../src/workloads/kinds';

describe('the kind table', () => {
  it('has one entry per kind a mapping may name', () => expect(Object.keys(KINDS).sort()).toEqual([...WORKLOAD_KINDS].sort()));

  it('names each kind by its API: apps/v1, or Argo Rollouts', () => {
    expect(Object.fromEntries(WORKLOAD_KINDS.map((k) => [k, KINDS[k].apiVersion]))).toEqual({ Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Rollout: `${ROLLOUT_API.group}/${ROLLOUT_API.version}` });
  });

  it('records a restart on the pod template, except a Rollout (on itself: its template is a revision)', () => {
    expect(Object.fromEntries(WORKLOAD_KINDS.map((k) => [k, KINDS[k].recordedOn]))).toEqual({ Deployment: 'podTemplate', StatefulSet: 'podTemplate', DaemonSet: 'podTemplate', Rollout: 'object' });
  });

  it('patches apps/v1 by strategic merge and a Rollout by JSON merge (a custom resource has no strategic merge)', () => {
    expect(Object.fromEntries(WORKLOAD_KINDS.map((k) => [k, KINDS[k].patchType]))).toEqual({ Deployment: 'strategic-merge', StatefulSet: 'strategic-merge', DaemonSet: 'strategic-merge', Rollout: 'merge' });
  });

  it('finds every kind\'s pod template under spec.template', () => {
    const template = { metadata: { annotations: { a: '1' } } };
    for (const k of WORKLOAD_KINDS) expect(KINDS[k].podTemplate({ spec: { template } })).toBe(template);
  });

  it('only Deployments pause; only StatefulSets and DaemonSets roll on delete; a Rollout restarts even when paused', () => {
    expect(KINDS.Deployment.rollout({ spec: { paused: true } })).toBe('Paused');
    expect(KINDS.Deployment.rollout({ spec: {} })).toBe('Rolling');
    expect(KINDS.Deployment.rollout({ spec: { updateStrategy: { type: 'OnDelete' } } })).toBe('Rolling');
    expect(KINDS.StatefulSet.rollout({ spec: { paused: true } })).toBe('Rolling');
    expect(KINDS.StatefulSet.rollout({ spec: { updateStrategy: { type: 'OnDelete' } } })).toBe('OnDelete');
    expect(KINDS.StatefulSet.rollout({ spec: { updateStrategy: { type: 'RollingUpdate' } } })).toBe('Rolling');
    expect(KINDS.DaemonSet.rollout({ spec: { updateStrategy: { type: 'OnDelete' } } })).toBe('OnDelete');
    expect(KINDS.DaemonSet.rollout({ spec: {} })).toBe('Rolling');
    expect(KINDS.Rollout.rollout({ spec: { paused: true } })).toBe('Rolling');
  });
});
