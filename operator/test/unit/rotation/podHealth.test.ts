import { createLogger, type Logger } from '../../../src/core/log';
import type { RolloutRecord } from '../../../src/rollout/engine';
import { withPodHealth } from '../../../src/rotation/podHealth';
import type { PodFacts } from '../../../src/workloads/pods';
import type { WorkloadState } from '../../../src/workloads/workload';

const V = { 'arn:s': 'v2' };
const record = (workloads: string[], states: string): RolloutRecord => ({ versions: V, phase: 'Rolling', since: 0, workloads, canaries: 0, states, stampedAt: workloads.map(() => 1), handled: {} });
const w = (name: string, over: Partial<WorkloadState> = {}): WorkloadState => ({ kind: 'Deployment', namespace: 'ns', name, rollout: 'Rolling', appliedVersions: V, health: 'progressing', podSelector: `app=${name}`, ...over });
const crashLooping = (name: string): PodFacts => ({ name: `${name}-abc`, versions: V, waiting: [{ container: 'app', reason: 'CrashLoopBackOff', restarts: 2 }] });

describe('withPodHealth', () => {
  it('reads only the pods of workloads stamped by the record and still rolling, and fails one whose new pods crash-loop', async () => {
    const asked: string[] = [];
    const listPods = async (ns: string, sel: string) => {
      asked.push(`${ns}:${sel}`);
      return sel === 'app=a' ? [crashLooping('a')] : [];
    };
    const listed = [w('a'), w('b'), w('healthy', { health: 'healthy' }), w('pending', { appliedVersions: {} }), w('unknown')];
    const out = await withPodHealth(listed, record(['Deployment/a', 'Deployment/b', 'Deployment/healthy', 'Deployment/pending'], 'sshp'), listPods, createLogger('silent'), 'ns/m');
    expect(asked).toEqual(['ns:app=a', 'ns:app=b']);
    expect(out[0].health).toEqual({ failed: 'its new pods crash-loop: pod a-abc: container app in CrashLoopBackOff (2 restarts)' });
    expect(out.slice(1)).toEqual(listed.slice(1));
  });

  it('leaves an Argo Rollout (its versions are not on its pods) and a workload without a selector alone', async () => {
    const listPods = jest.fn(async () => [crashLooping('x')]);
    const listed = [w('r', { kind: 'Rollout' }), w('nosel', { podSelector: undefined })];
    expect(await withPodHealth(listed, record(['Rollout/r', 'Deployment/nosel'], 'ss'), listPods, createLogger('silent'), 'ns/m')).toEqual(listed);
    expect(listPods).not.toHaveBeenCalled();
  });

  it('a pod list that fails changes nothing (the health deadline still holds) and is logged', async () => {
    const warn = jest.fn();
    const listed = [w('a')];
    const out = await withPodHealth(listed, record(['Deployment/a'], 's'), async () => Promise.reject(new Error('pods is forbidden')), { warn } as unknown as Logger, 'ns/m');
    expect(out).toEqual(listed);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('health deadline still holds'), expect.objectContaining({ mapping: 'ns/m', workload: 'Deployment/a', error: 'pods is forbidden' }));
  });
});
