import { moves, newerChange, planRestarts, settleChange } from '../../../src/rotation/plan';
import { workloadId } from '../../../src/workloads/workload';
import { mapping, resolved, SECRET_ARN, SECRET_KEY, secretChange, workload } from '../../support/builders';

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

describe('settleChange', () => {
  const admitted = { changeId: 'm1', change: secretChange('e1', 'v-event', undefined, 'eks-controller-test-secret'), sentAt: 1234 };

  it('with Secrets Manager\'s answer: its exact identity and its AWSCURRENT version', () => {
    const r = settleChange(admitted, { arn: SECRET_ARN, name: 'app', currentVersion: 'v-current' });
    expect(r).toMatchObject({ changeId: 'm1', secretKey: SECRET_KEY, version: 'v-current', sentAt: 1234, change: { eventId: 'e1', secret: { raw: SECRET_ARN } } });
  });

  it('without an answer (or one without AWSCURRENT): the event\'s own version', () => {
    expect(settleChange(admitted, undefined)).toMatchObject({ version: 'v-event', secretKey: 'eks-controller-test-secret', change: { secret: { raw: 'eks-controller-test-secret' } } });
    expect(settleChange(admitted, { arn: SECRET_ARN, name: 'app' })).toMatchObject({ version: 'v-event', secretKey: SECRET_KEY });
  });

  it("an answer older than the event (DescribeSecret briefly stale after the write) does not take the event's version back", () => {
    const event = { changeId: 'm3', change: secretChange('e3', 'v3', '2026-12-07T12:00:00Z') };
    const stale = { arn: SECRET_ARN, name: 'app', currentVersion: 'v2', versions: { v2: ['AWSCURRENT'], v1: ['AWSPREVIOUS'] }, lastChanged: '2026-12-07T11:58:00Z' };
    expect(settleChange(event, stale)).toMatchObject({ version: 'v3', secretKey: SECRET_KEY });
    // A newer answer wins: the event's version is already AWSPREVIOUS (a late or redelivered event).
    const newer = { ...stale, currentVersion: 'v4', versions: { v4: ['AWSCURRENT'], v3: ['AWSPREVIOUS'] } };
    expect(settleChange(event, newer)).toMatchObject({ version: 'v4' });
  });

  it('a burst within one second settles on the newest version the read shows: v1 gone from the labels, v3 written in the same second as v1\'s event', () => {
    // Event times are whole seconds: v1's event at 12:00:00, v2 and v3 written by 12:00:00.400.
    const v1Event = { changeId: 'm1', change: secretChange('e1', 'v1', '2026-12-07T12:00:00Z') };
    const read = { arn: SECRET_ARN, name: 'app', currentVersion: 'v3', versions: { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'] }, lastChanged: '2026-12-07T12:00:00.400Z' };
    expect(settleChange(v1Event, read)).toMatchObject({ version: 'v3' });
    // A read changed in an earlier second than the event is older: the event's version stands.
    expect(settleChange(v1Event, { ...read, lastChanged: '2026-12-07T11:59:59.900Z' })).toMatchObject({ version: 'v1' });
  });

  it('no version anywhere: unresolved, never a made-up one', () => {
    const noVersion = { changeId: 'm2', change: secretChange('e2', undefined) };
    expect(settleChange(noVersion, undefined)).toBeUndefined();
    expect(settleChange(noVersion, { arn: SECRET_ARN, name: 'app' })).toBeUndefined();
  });
});
