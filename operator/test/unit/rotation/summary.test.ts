import type { WorkloadRecord } from '../../../src/mappings/model';
import type { WorkloadAction } from '../../../src/rotation/plan';
import { MAX_MESSAGE_CHARS, MAX_RECORDED_WORKLOADS, summariseBatch, summariseRotation, truncate, type Outcome } from '../../../src/rotation/summary';
import { mapping, resolved, workload } from '../../support/builders';

const change = { secretKey: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app', version: 'v2', eventId: 'e1', eventTime: '2026-01-01T00:00:00Z' };
const w = (name: string, result: WorkloadRecord['result'], reason?: string): WorkloadRecord => ({ kind: 'Deployment', name, result, ...(reason ? { reason } : {}) });

describe('summariseRotation', () => {
  it('counts every result and names the workloads', () => {
    const s = summariseRotation(change, [w('a', 'Restarted'), w('b', 'Skipped', 'AlreadyAtVersion')], 't', false);
    expect(s.record).toMatchObject({ secretVersion: 'v2', eventId: 'e1', summary: { Restarted: 1, Skipped: 1 }, workloadCount: 2 });
    expect(s.succeeded).toBe(true);
    expect([s.eventReason, s.conditionReason]).toEqual(['Rotated', 'WorkloadsRestarted']);
    expect(s.message).toBe(`secret ${change.secretKey} version v2: 1 Restarted, 1 Skipped (Deployment/a Restarted, Deployment/b Skipped (AlreadyAtVersion))`);
  });

  it.each([
    ['Deferred', 'Paused'],
    ['Pending', 'OnDelete'],
  ] as const)('a %s workload is said to be deferred, not restarted', (result, reason) => {
    const s = summariseRotation(change, [w('a', 'Restarted'), w('p', result, reason)], 't', false);
    expect(s.succeeded).toBe(true);
    expect([s.eventReason, s.conditionReason]).toEqual(['RotationDeferred', 'RolloutDeferred']);
    expect(s.record.workloads[0]).toEqual(w('p', result, reason));
  });

  it('a failure fails the rotation and is listed first', () => {
    const s = summariseRotation(change, [w('a', 'Restarted'), w('z', 'Failed', 'boom')], 't', false);
    expect(s.succeeded).toBe(false);
    expect([s.eventReason, s.conditionReason]).toEqual(['RotationFailed', 'RestartFailed']);
    expect(s.record.workloads.map((x) => x.name)).toEqual(['z', 'a']);
  });

  it('stays bounded whatever the number of workloads and the length of reasons', () => {
    const many = Array.from({ length: 5000 }, (_, i) => w(`workload-with-a-long-name-${i}`, i % 7 === 0 ? 'Failed' : 'Restarted', i % 7 === 0 ? 'x'.repeat(10_000) : undefined));
    const s = summariseRotation(change, many, 't', false);
    expect(s.record.workloads).toHaveLength(MAX_RECORDED_WORKLOADS);
    expect(s.record.workloadCount).toBe(5000);
    expect(s.record.summary).toEqual({ Failed: 715, Restarted: 4285 });
    expect(s.message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(s.message).toMatch(/^secret .* version v2: 715 Failed, 4285 Restarted/);
    expect(JSON.stringify(s.record).length).toBeLessThan(32 * 1024);
  });

  it('incomplete (workloads held back or not listed): never a success, whatever the others did; a failed restart still says so first', () => {
    const held = { reason: 'WaitingForExternalSecret' as const, detail: 'Deployment/web held back until ESO syncs the Secret it reads' };
    const s = summariseRotation(change, [w('a', 'Restarted')], 't', false, held);
    expect([s.succeeded, s.eventReason, s.conditionReason]).toEqual([false, 'RotationIncomplete', 'WaitingForExternalSecret']);
    expect(s.message).toBe(`secret ${change.secretKey} version v2: 1 Restarted (Deployment/a Restarted); not complete, retried: ${held.detail}`);
    const none = summariseRotation(change, [], 't', false, { reason: 'ListFailed', detail: 'listing its workloads failed: 503' });
    expect([none.eventReason, none.conditionReason]).toEqual(['RotationIncomplete', 'ListFailed']);
    expect(none.message).toContain('nothing rolled yet');
    expect(none.message).not.toContain('no workloads selected');
    const failed = summariseRotation(change, [w('a', 'Failed', 'boom')], 't', false, held);
    expect([failed.eventReason, failed.conditionReason]).toEqual(['RotationFailed', 'RestartFailed']);
  });

  it('no workloads: still a record (the version advances)', () => {
    const s = summariseRotation(change, [], 't', false);
    expect(s.record).toMatchObject({ workloads: [], workloadCount: 0, summary: {} });
    expect(s.message).toBe(`secret ${change.secretKey} version v2: no workloads selected`);
  });

  it('truncate keeps short strings and marks cut ones', () => {
    expect(truncate('abc', 10)).toBe('abc');
    const t = truncate('x'.repeat(100), 30);
    expect(t).toHaveLength(30);
    expect(t.endsWith(' … (truncated)')).toBe(true);
  });
});

describe('summariseBatch', () => {
  const web = mapping('web');
  const api = mapping('api');
  const m1 = resolved('m1', 'v1', '2026-01-01T00:00:00Z');
  const m2 = resolved('m2', 'v2', '2026-01-01T00:00:05Z');
  const action = (name: string, ...causes: [string, string][]): WorkloadAction => ({
    workload: workload(name),
    decision: 'restart',
    versions: { k: 'v2' },
    causes: causes.map(([mappingKey, changeId]) => ({ mappingKey, changeId, eventId: `ev-${changeId}`, secretKey: 'k', version: 'v2' })),
  });
  const run = (o: Partial<Parameters<typeof summariseBatch>[0]>) =>
    summariseBatch({ changes: [m1, m2], matches: [], unlisted: [], executed: [], completionTime: 't', dryRun: false, ...o });
  const ok: Outcome = { result: 'Restarted' };
  const failed: Outcome = { result: 'Failed', reason: 'boom' };

  it('every change is done unless its listing failed or a workload it caused failed', () => {
    expect([...run({}).done]).toEqual([['m1', true], ['m2', true]]);
    expect(run({ unlisted: ['m1'] }).done.get('m1')).toBe(false);
    const s = run({ executed: [{ action: action('a', ['ns/web', 'm2']), outcome: failed }, { action: action('b', ['ns/web', 'm1']), outcome: ok }] });
    expect([...s.done]).toEqual([['m1', true], ['m2', false]]);
  });

  it('one report per mapping, for its newest change, naming its own workloads only', () => {
    const s = run({
      matches: [
        { change: m2, mapping: web, workloads: [] },
        { change: m1, mapping: web, workloads: [] },
        { change: m1, mapping: api, workloads: [] },
      ],
      executed: [{ action: action('a', ['ns/web', 'm1'], ['ns/web', 'm2']), outcome: ok }, { action: action('b', ['ns/api', 'm1']), outcome: failed }],
    });
    expect(s.reports.map((r) => [r.mapping.key, r.change.changeId, r.summary.record.workloads.map((w) => `${w.name} ${w.result}`), r.summary.succeeded])).toEqual([
      ['ns/web', 'm2', ['a Restarted'], true],
      ['ns/api', 'm1', ['b Failed'], false],
    ]);
  });

  it('records the version as applied only when every workload took it, and never in a dry run', () => {
    const matches = [{ change: m2, mapping: web, workloads: [] }];
    expect(run({ matches, executed: [{ action: action('a', ['ns/web', 'm2']), outcome: ok }] }).reports[0].appliedVersion).toBe('v2');
    expect(run({ matches, executed: [{ action: action('a', ['ns/web', 'm2']), outcome: failed }] }).reports[0].appliedVersion).toBeUndefined();
    const dry = run({ matches, dryRun: true, executed: [{ action: action('a', ['ns/web', 'm2']), outcome: { result: 'WouldRestart', reason: 'DryRun' } }] });
    expect(dry.reports[0]).toMatchObject({ summary: { eventReason: 'RotationDryRun' } });
    expect(dry.reports[0].appliedVersion).toBeUndefined();
  });

  it('a mapping that selects no workload is still reported (its baseline advances); one that already recorded the version is not', () => {
    expect(run({ matches: [{ change: m2, mapping: web, workloads: [] }] }).reports.map((r) => [r.mapping.key, r.appliedVersion])).toEqual([['ns/web', 'v2']]);
    expect(run({ matches: [{ change: m2, mapping: mapping('web', { appliedVersion: 'v2' }), workloads: [] }] }).reports).toEqual([]);
  });

  it('a drift change reports nothing for a mapping that records a version it does not replace: its appliedVersion never goes back', () => {
    const drift = { ...m2, replaces: ['v1'] };
    expect(run({ changes: [drift], matches: [{ change: drift, mapping: mapping('web', { appliedVersion: 'v3' }), workloads: [] }] }).reports).toEqual([]);
    expect(run({ changes: [drift], matches: [{ change: drift, mapping: mapping('web', { appliedVersion: 'v1' }), workloads: [] }] }).reports.map((r) => r.appliedVersion)).toEqual(['v2']);
  });

  it('an incomplete mapping is reported, not succeeded, with no version recorded: also one the batch could not list (no match)', () => {
    const s = run({
      matches: [{ change: m2, mapping: web, workloads: [] }],
      executed: [{ action: action('a', ['ns/web', 'm2']), outcome: ok }],
      incomplete: [
        { mapping: web, change: m2, reason: 'WaitingForExternalSecret', detail: 'Deployment/b held back' },
        { mapping: api, change: m1, reason: 'ListFailed', detail: 'listing its workloads failed: 503' },
      ],
    });
    expect(s.reports.map((r) => [r.mapping.key, r.summary.succeeded, r.summary.conditionReason, r.appliedVersion])).toEqual([
      ['ns/web', false, 'WaitingForExternalSecret', undefined],
      ['ns/api', false, 'ListFailed', undefined],
    ]);
  });
});
