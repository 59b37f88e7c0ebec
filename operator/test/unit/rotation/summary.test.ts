import type { WorkloadRecord } from '../../../src/mappings/model';
import { MAX_MESSAGE_CHARS, MAX_RECORDED_WORKLOADS, summariseRotation, truncate } from '../../../src/rotation/summary';

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
