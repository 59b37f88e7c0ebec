import { APPS_KINDS, KINDS, ROLLOUT_API, WORKLOAD_KINDS, customResourceKinds, type Health, type WorkloadKind, type WorkloadObject } from '../../../src/workloads/kinds';

const health = (kind: WorkloadKind, obj: WorkloadObject): Health => KINDS[kind].health(obj);

describe('the kind table', () => {
  it('has one entry per kind a mapping may name', () => expect(Object.keys(KINDS).sort()).toEqual([...WORKLOAD_KINDS].sort()));

  it('names each kind by its API: apps/v1, or Argo Rollouts', () => {
    expect(Object.fromEntries(WORKLOAD_KINDS.map((k) => [k, KINDS[k].apiVersion]))).toEqual({ Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Rollout: `${ROLLOUT_API.group}/${ROLLOUT_API.version}` });
  });

  it('asks whether a kind is served only for a custom resource (a Rollout, at its CRD), and only among the served kinds', () => {
    expect(customResourceKinds(WORKLOAD_KINDS)).toEqual([['Rollout', ROLLOUT_API]]);
    expect(customResourceKinds(APPS_KINDS)).toEqual([]);
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

describe('Deployment health (as kubectl rollout status decides)', () => {
  /** Three replicas, generation 2 observed, all updated and available. */
  const done = (over: { spec?: WorkloadObject['spec']; status?: WorkloadObject['status']; generation?: number } = {}): WorkloadObject => ({
    metadata: { generation: over.generation ?? 2 },
    spec: { replicas: 3, ...over.spec },
    status: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3, readyReplicas: 3, conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }], ...over.status },
  });

  it('is healthy when every replica is updated and available, and the generation observed', () => expect(health('Deployment', done())).toBe('healthy'));
  it('progresses while the controller has not observed the new generation', () => expect(health('Deployment', done({ generation: 3 }))).toBe('progressing'));
  it('progresses while nothing is observed yet (a new object)', () => expect(health('Deployment', done({ status: { observedGeneration: undefined } }))).toBe('progressing'));
  it('is healthy when the observed generation is ahead (never behind)', () => expect(health('Deployment', done({ status: { observedGeneration: 5 } }))).toBe('healthy'));
  it('progresses while fewer replicas are updated than desired', () => expect(health('Deployment', done({ status: { updatedReplicas: 2 } }))).toBe('progressing'));
  it('progresses while old replicas are still terminating', () => expect(health('Deployment', done({ status: { replicas: 4 } }))).toBe('progressing'));
  it('progresses while an updated replica is not available yet', () => expect(health('Deployment', done({ status: { availableReplicas: 2 } }))).toBe('progressing'));
  it('takes an absent spec.replicas as 1 (the API default)', () => {
    expect(health('Deployment', { metadata: { generation: 1 }, spec: {}, status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 } })).toBe('healthy');
    expect(health('Deployment', { metadata: { generation: 1 }, spec: {}, status: { observedGeneration: 1 } })).toBe('progressing');
  });
  it('is healthy scaled to zero once observed', () => expect(health('Deployment', { metadata: { generation: 4 }, spec: { replicas: 0 }, status: { observedGeneration: 4 } })).toBe('healthy'));
  it('fails past its progress deadline, with the controller\'s message', () => {
    const stuck = done({ status: { updatedReplicas: 1, availableReplicas: 0, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-7c9" has timed out progressing.' }] } });
    expect(health('Deployment', stuck)).toEqual({ failed: 'ProgressDeadlineExceeded: ReplicaSet "web-7c9" has timed out progressing.' });
  });
  it('fails past its deadline without a message too', () => {
    expect(health('Deployment', done({ status: { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] } }))).toEqual({ failed: expect.stringMatching(/^ProgressDeadlineExceeded: /) });
  });
  it('does not judge a deadline the controller has not observed yet (the condition speaks of the old spec)', () => {
    expect(health('Deployment', done({ generation: 3, status: { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] } }))).toBe('progressing');
  });
  it('reads only the Progressing condition for the deadline', () => {
    expect(health('Deployment', done({ status: { conditions: [{ type: 'Available', status: 'False', reason: 'ProgressDeadlineExceeded' }] } }))).toBe('healthy');
  });
  it('holds no slot while paused: stamped, it rolls when resumed (and no deadline runs)', () => {
    expect(health('Deployment', done({ spec: { paused: true }, generation: 3, status: { updatedReplicas: 0 } }))).toBe('healthy');
  });
});

describe('StatefulSet health', () => {
  const done = (over: { spec?: WorkloadObject['spec']; status?: WorkloadObject['status']; generation?: number } = {}): WorkloadObject => ({
    metadata: { generation: over.generation ?? 2 },
    spec: { replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, ...over.spec },
    status: { observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentRevision: 'db-2', updateRevision: 'db-2', ...over.status },
  });

  it('is healthy when every replica is ready and the current revision is the update revision', () => expect(health('StatefulSet', done())).toBe('healthy'));
  it('progresses while the revisions differ', () => expect(health('StatefulSet', done({ status: { currentRevision: 'db-1' } }))).toBe('progressing'));
  it('progresses while no update revision is reported', () => expect(health('StatefulSet', done({ status: { currentRevision: undefined, updateRevision: undefined } }))).toBe('progressing'));
  it('progresses while a replica is not ready', () => expect(health('StatefulSet', done({ status: { readyReplicas: 2 } }))).toBe('progressing'));
  it('progresses while the new generation is not observed', () => expect(health('StatefulSet', done({ generation: 3 }))).toBe('progressing'));
  it('progresses while nothing is observed (observedGeneration 0)', () => expect(health('StatefulSet', done({ status: { observedGeneration: 0 } }))).toBe('progressing'));
  it('with a partition, is healthy once the ordinals at or above it are updated', () => {
    const partitioned = (updatedReplicas: number) => done({ spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }, status: { updatedReplicas, currentRevision: 'db-1' } });
    expect(health('StatefulSet', partitioned(1))).toBe('healthy');
    expect(health('StatefulSet', partitioned(0))).toBe('progressing');
  });
  it('with a partition, still waits for every replica to be ready', () => {
    expect(health('StatefulSet', done({ spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }, status: { readyReplicas: 2, updatedReplicas: 1 } }))).toBe('progressing');
  });
  it('holds no slot with OnDelete: its pods take the template when deleted', () => {
    expect(health('StatefulSet', done({ spec: { updateStrategy: { type: 'OnDelete' } }, generation: 3, status: { currentRevision: 'db-1' } }))).toBe('healthy');
  });
  it('never fails by itself (no failure signal: the engine\'s own deadline decides)', () => {
    expect(health('StatefulSet', done({ status: { readyReplicas: 0, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] } }))).toBe('progressing');
  });
});

describe('DaemonSet health', () => {
  const done = (over: { spec?: WorkloadObject['spec']; status?: WorkloadObject['status']; generation?: number } = {}): WorkloadObject => ({
    metadata: { generation: over.generation ?? 2 },
    spec: { updateStrategy: { type: 'RollingUpdate' }, ...over.spec },
    status: { observedGeneration: 2, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4, ...over.status },
  });

  it('is healthy when every node runs an updated, available pod', () => expect(health('DaemonSet', done())).toBe('healthy'));
  it('progresses while a node runs an old pod', () => expect(health('DaemonSet', done({ status: { updatedNumberScheduled: 3 } }))).toBe('progressing'));
  it('progresses while a pod is not available', () => expect(health('DaemonSet', done({ status: { numberAvailable: 3 } }))).toBe('progressing'));
  it('progresses while the new generation is not observed', () => expect(health('DaemonSet', done({ generation: 3 }))).toBe('progressing'));
  it('is healthy with no node to run on, once observed', () => expect(health('DaemonSet', done({ status: { desiredNumberScheduled: 0, updatedNumberScheduled: 0, numberAvailable: 0 } }))).toBe('healthy'));
  it('holds no slot with OnDelete', () => expect(health('DaemonSet', done({ spec: { updateStrategy: { type: 'OnDelete' } }, status: { updatedNumberScheduled: 0 } }))).toBe('healthy'));
});

describe('Rollout health (Argo Rollouts\' status.phase)', () => {
  const at = (phase: string | undefined, over: { observedGeneration?: string | number; generation?: number; message?: string } = {}): WorkloadObject => ({
    metadata: { generation: over.generation ?? 5 },
    spec: { replicas: 2 },
    status: { observedGeneration: over.observedGeneration ?? '5', ...(phase ? { phase } : {}), ...(over.message ? { message: over.message } : {}) },
  });

  it('is healthy when Argo Rollouts says Healthy of the current generation', () => expect(health('Rollout', at('Healthy'))).toBe('healthy'));
  it('fails when Degraded, with Argo Rollouts\' message', () => expect(health('Rollout', at('Degraded', { message: 'RolloutAborted: metric "error-rate" assessed Failed' }))).toEqual({ failed: 'Degraded: RolloutAborted: metric "error-rate" assessed Failed' }));
  it('fails when Degraded without a message too', () => expect(health('Rollout', at('Degraded'))).toEqual({ failed: expect.stringMatching(/^Degraded: /) }));
  it('progresses while Progressing', () => expect(health('Rollout', at('Progressing'))).toBe('progressing'));
  it('progresses while Paused (a canary pause step)', () => expect(health('Rollout', at('Paused'))).toBe('progressing'));
  it('progresses while no phase is reported', () => expect(health('Rollout', at(undefined))).toBe('progressing'));
  it('does not trust a Healthy phase of an older generation (the restart not seen yet)', () => expect(health('Rollout', at('Healthy', { generation: 6 }))).toBe('progressing'));
  it('does not trust a Degraded phase of an older generation either', () => expect(health('Rollout', at('Degraded', { generation: 6 }))).toBe('progressing'));
  it('reads observedGeneration as Argo Rollouts writes it (a string), or as a number', () => expect(health('Rollout', at('Healthy', { observedGeneration: 5 }))).toBe('healthy'));
});
