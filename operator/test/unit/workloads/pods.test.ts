import fc from 'fast-check';
import type * as k8s from '@kubernetes/client-node';
import { crashLoopOf, podFacts, podSelectorOf, type PodFacts } from '../../../src/workloads/pods';
import { SECRET_VERSIONS_ANNOTATION } from '../../../src/workloads/workload';

const pod = (name: string, versions: Record<string, string>, statuses: Partial<k8s.V1ContainerStatus>[], init: Partial<k8s.V1ContainerStatus>[] = []): k8s.V1Pod => ({
  metadata: { name, annotations: { [SECRET_VERSIONS_ANNOTATION]: JSON.stringify(versions), unrelated: 'x' } },
  status: { containerStatuses: statuses as k8s.V1ContainerStatus[], initContainerStatuses: init as k8s.V1ContainerStatus[] },
});
const crashing = (name: string, restarts = 3): Partial<k8s.V1ContainerStatus> => ({ name, restartCount: restarts, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } });
const running = (name: string): Partial<k8s.V1ContainerStatus> => ({ name, restartCount: 0, state: { running: {} } });

describe('podFacts', () => {
  it('keeps the name, the stamped versions and the waiting containers (init ones too), nothing else', () => {
    const facts = podFacts(pod('web-1', { 'arn:s': 'v2' }, [running('app'), crashing('sidecar', 1)], [{ name: 'init', restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }]));
    expect(facts).toEqual({
      name: 'web-1',
      versions: { 'arn:s': 'v2' },
      waiting: [
        { container: 'init', reason: 'PodInitializing', restarts: 0 },
        { container: 'sidecar', reason: 'CrashLoopBackOff', restarts: 1 },
      ],
    });
  });

  it('reads a pod with no status and no annotations as nothing waiting, no versions', () => {
    expect(podFacts({ metadata: { name: 'p' } })).toEqual({ name: 'p', versions: {}, waiting: [] });
  });
});

describe('crashLoopOf', () => {
  const v2 = { 'arn:s': 'v2' };
  it('names a new pod (one carrying the versions) with a container in CrashLoopBackOff', () => {
    expect(crashLoopOf([podFacts(pod('web-new', v2, [crashing('app', 4)]))], v2)).toBe('pod web-new: container app in CrashLoopBackOff (4 restarts)');
  });

  it('ignores old pods crash-looping (not this rollout\'s doing) and new pods merely starting', () => {
    const old = podFacts(pod('web-old', { 'arn:s': 'v1' }, [crashing('app')]));
    const starting = podFacts(pod('web-new', v2, [{ name: 'app', restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }]));
    expect(crashLoopOf([old, starting], v2)).toBeUndefined();
  });

  it('needs every version of the rollout on the pod (settled rollouts carry several)', () => {
    const partly = podFacts(pod('p', v2, [crashing('app')]));
    expect(crashLoopOf([partly], { ...v2, 'arn:t': 'v7' })).toBeUndefined();
  });

  it('property: says something exactly when some pod carrying the versions has a CrashLoopBackOff container', () => {
    const reason = fc.constantFrom('CrashLoopBackOff', 'ContainerCreating', 'ImagePullBackOff', 'ErrImagePull');
    const facts = fc.record({
      name: fc.string({ minLength: 1, maxLength: 8 }),
      versions: fc.constantFrom<Record<string, string>[]>({}, { s: 'v1' }, { s: 'v2' }, { s: 'v2', t: 'x' }),
      waiting: fc.array(fc.record({ container: fc.string({ maxLength: 5 }), reason, restarts: fc.nat(50) }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(facts, { maxLength: 6 }), (pods: PodFacts[]) => {
        const expected = pods.some((p) => p.versions.s === 'v2' && p.waiting.some((w) => w.reason === 'CrashLoopBackOff'));
        expect(crashLoopOf(pods, { s: 'v2' }) !== undefined).toBe(expected);
      }),
    );
  });
});

describe('podSelectorOf', () => {
  it('writes matchLabels and every matchExpressions operator the API defines', () => {
    expect(
      podSelectorOf({
        matchLabels: { app: 'web', tier: 'api' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'staging'] },
          { key: 'canary', operator: 'NotIn', values: ['true'] },
          { key: 'team', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=web,tier=api,env in (prod,staging),canary notin (true),team,!legacy');
  });

  it('is undefined for no selector, an empty one, or an operator it cannot write (the pods are then not read)', () => {
    expect(podSelectorOf(undefined)).toBeUndefined();
    expect(podSelectorOf({})).toBeUndefined();
    expect(podSelectorOf({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x', operator: 'Gt', values: ['1'] }] })).toBeUndefined();
  });
});
