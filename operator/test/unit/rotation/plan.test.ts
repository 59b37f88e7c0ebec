import { moves, newerChange, planRestarts } from '../../../src/rotation/plan';
import { workloadId } from '../../../src/workloads/workload';
import { mapping, resolved, SECRET_KEY, workload } from '../../support/builders';

describe('planRestarts', () => {
  it('restarts each selected workload and records the version', () => {
    const m = mapping('web');
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: m, workloads: [workload('web'), workload('db', { kind: 'StatefulSet' })] }]);
    expect(plan.map((a) => [workloadId(a.workload), a.decision, a.versions])).toEqual([
      ['Deployment/ns/web', 'restart', { [SECRET_KEY]: 'v2' }],
      ['StatefulSet/ns/db', 'restart', { [SECRET_KEY]: 'v2' }],
    ]);
    expect(plan[0].causes).toEqual([{ mappingKey: 'ns/web', changeId: 'm1', eventId: 'ev-m1', secretKey: SECRET_KEY, version: 'v2' }]);
  });

  it("a drift change moves only from the versions it replaces: a mapping or workload recording another (newer) one is left alone", () => {
    const drift = { ...resolved('d1', 'v4'), replaces: ['v3'] };
    const plan = planRestarts([
      { change: drift, mapping: mapping('behind', { appliedVersion: 'v3' }), workloads: [workload('behind', { applied: { [SECRET_KEY]: 'v3' } }), workload('newer', { applied: { [SECRET_KEY]: 'v5' } }), workload('unstamped')] },
      { change: drift, mapping: mapping('ahead', { appliedVersion: 'v5' }), workloads: [workload('ahead', { applied: { [SECRET_KEY]: 'v5' } })] },
    ]);
    expect(plan.map((a) => [a.workload.name, a.decision])).toEqual([
      ['behind', 'restart'],
      ['newer', 'skip'],
      ['unstamped', 'restart'],
    ]);
    expect(moves(mapping('ahead', { appliedVersion: 'v5' }), drift)).toBe(false);
    expect(moves(mapping('fresh'), drift)).toBe(false);
    expect(moves(mapping('fresh'), resolved('m1', 'v4'))).toBe(true);
  });

  it('rolls no workload back: an older change of the batch does not win over a newer one its mapping already records', () => {
    // A burst: DescribeSecret settled the newest event on the version the mapping already
    // records (so its workloads were not even listed), an older event of the same second on its own.
    const m = mapping('web', { appliedVersion: 'v2' });
    const w = workload('web', { applied: { [SECRET_KEY]: 'v2' } });
    const older = { change: resolved('m1', 'v1', '2025-03-11T09:14:27Z'), mapping: m, workloads: [w] };
    const newest = { change: resolved('m2', 'v2', '2025-03-11T09:14:28Z'), mapping: m, workloads: [] };
    expect(planRestarts([older, newest])).toEqual([]);
    expect(planRestarts([newest, older])).toEqual([]);
  });

  it('coalesces the same workload across messages and mappings into one action', () => {
    const w = workload('shared');
    const plan = planRestarts([
      { change: resolved('m1', 'v2'), mapping: mapping('a'), workloads: [w] },
      { change: resolved('m2', 'v2'), mapping: mapping('b'), workloads: [w] },
      { change: resolved('m3', 'v2'), mapping: mapping('a'), workloads: [w] },
    ]);
    expect(plan).toHaveLength(1);
    expect(plan[0].decision).toBe('restart');
    expect(plan[0].causes.map((c) => c.changeId)).toEqual(['m1', 'm2', 'm3']);
  });

  it('a burst of versions ends on the newest event', () => {
    const w = workload('web');
    const m = mapping('web');
    const plan = planRestarts([
      { change: resolved('m1', 'v3', '2025-03-11T09:00:03Z'), mapping: m, workloads: [w] },
      { change: resolved('m2', 'v5', '2025-03-11T09:00:05Z'), mapping: m, workloads: [w] },
      { change: resolved('m3', 'v4', '2025-03-11T09:00:04Z'), mapping: m, workloads: [w] },
    ]);
    expect(plan).toHaveLength(1);
    expect(plan[0].versions).toEqual({ [SECRET_KEY]: 'v5' });
  });

  it('equal times keep batch order: the later message wins', () => {
    const w = workload('web');
    const m = mapping('web');
    const plan = planRestarts([
      { change: resolved('m1', 'v1'), mapping: m, workloads: [w] },
      { change: resolved('m2', 'v2'), mapping: m, workloads: [w] },
    ]);
    expect(plan[0].versions).toEqual({ [SECRET_KEY]: 'v2' });
  });

  it('skips a workload whose pod template already records the version (redelivery)', () => {
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: mapping('web'), workloads: [workload('web', { applied: { [SECRET_KEY]: 'v2' } })] }]);
    expect(plan[0]).toMatchObject({ decision: 'skip', reason: 'AlreadyAtVersion', versions: {} });
  });

  it('restarts a workload that records an older version', () => {
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: mapping('web'), workloads: [workload('web', { applied: { [SECRET_KEY]: 'v1', other: 'x' } })] }]);
    expect(plan[0]).toMatchObject({ decision: 'restart', versions: { [SECRET_KEY]: 'v2' } });
  });

  it.each(['Paused', 'OnDelete'] as const)('stamps a %s workload all the same (its pods take the version when resumed or deleted)', (rollout) => {
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: mapping('web'), workloads: [workload('web', { rollout })] }]);
    expect(plan[0]).toMatchObject({ decision: 'restart', workload: { rollout }, versions: { [SECRET_KEY]: 'v2' } });
  });

  it('carries the resourceVersion the workload was listed at (the patch precondition)', () => {
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: mapping('web'), workloads: [{ ...workload('web'), resourceVersion: '42' }] }]);
    expect(plan[0]).toMatchObject({ decision: 'restart', workload: { resourceVersion: '42' } });
  });

  it('never touches a workload outside the mapping namespace', () => {
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: mapping('web', { namespace: 'team-a' }), workloads: [workload('web', { namespace: 'team-b' })] }]);
    expect(plan).toEqual([]);
  });

  it('honours workloadKinds', () => {
    const plan = planRestarts([
      { change: resolved('m1', 'v2'), mapping: mapping('web', { kinds: ['StatefulSet'] }), workloads: [workload('web'), workload('db', { kind: 'StatefulSet' }), workload('agent', { kind: 'DaemonSet' })] },
    ]);
    expect(plan.map((a) => workloadId(a.workload))).toEqual(['StatefulSet/ns/db']);
  });

  it('does nothing for a mapping that already recorded this version (created after the change)', () => {
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: mapping('web', { appliedVersion: 'v2' }), workloads: [workload('web')] }]);
    expect(plan).toEqual([]);
  });

  it('two secrets for one workload land in one restart', () => {
    const w = workload('web');
    const other = { ...resolved('m2', 'd7'), secretKey: 'db-secret' };
    const plan = planRestarts([
      { change: resolved('m1', 'v2'), mapping: mapping('web'), workloads: [w] },
      { change: other, mapping: mapping('web-db', { secretId: 'db-secret' }), workloads: [w] },
    ]);
    expect(plan).toHaveLength(1);
    expect(plan[0].versions).toEqual({ [SECRET_KEY]: 'v2', 'db-secret': 'd7' });
  });

  it('is deterministic: actions sorted by workload', () => {
    const m = mapping('web');
    const plan = planRestarts([{ change: resolved('m1', 'v2'), mapping: m, workloads: [workload('z'), workload('a'), workload('m', { kind: 'DaemonSet' })] }]);
    expect(plan.map((a) => workloadId(a.workload))).toEqual(['DaemonSet/ns/m', 'Deployment/ns/a', 'Deployment/ns/z']);
  });
});

describe('newerChange', () => {
  const early = resolved('a', 'v1', '2026-01-01T00:00:00Z');
  const late = resolved('b', 'v2', '2026-01-01T00:00:05Z');
  const untimed = { ...resolved('c', 'v3'), change: { ...resolved('c', 'v3').change, eventTime: undefined } };

  it('the later event wins, in whichever order the batch holds them', () => {
    expect(newerChange(late, early)).toBe(late);
    expect(newerChange(early, late)).toBe(late);
  });

  it('equal or unknown times keep batch order: the later one (the candidate) wins', () => {
    const same = resolved('d', 'v4', '2026-01-01T00:00:00Z');
    expect(newerChange(same, early)).toBe(same);
    expect(newerChange(untimed, late)).toBe(untimed);
    expect(newerChange(late, untimed)).toBe(late);
  });

  it('the first change seen wins against none', () => expect(newerChange(early, undefined)).toBe(early));
});
