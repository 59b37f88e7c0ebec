import fc from 'fast-check';
import { mergePatch } from '../../../src/core/json';
import { admitChange, decide } from '../../../src/rollout/engine';
import { compileWindows } from '../../../src/rollout/windows';
import { haltedCondition, observe, preferredCanaries, readRecord, requestsOf, resolvePolicy, rolloutPatch, type ChartPolicy } from '../../../src/rotation/rolloutState';
import type { WorkloadState } from '../../../src/workloads/workload';
import { workload } from '../../support/builders';

const CHART: ChartPolicy = { maxConcurrent: 10, settleSeconds: 0, windows: [] };
const T0 = new Date('2026-03-02T10:00:00Z');

describe('resolvePolicy', () => {
  it('is the chart policy for a mapping without its own, never suspended', () => {
    expect(resolvePolicy(undefined, CHART)).toEqual({ maxConcurrent: 10, settleSeconds: 0, windows: [], suspend: false });
  });

  it('takes each field of spec.rollout over the chart, and spec.suspend', () => {
    const chart = { ...CHART, healthTimeoutSeconds: 300, windows: compileWindows([{ kind: 'deny', schedule: '0 0 * * *', duration: '1h', timeZone: 'UTC' }]) };
    const p = resolvePolicy({ suspend: true, rollout: { maxConcurrent: 2, canary: { percent: 10 }, settleSeconds: 5, windows: [{ kind: 'allow', schedule: '0 19 * * MON-FRI', duration: '3h', timeZone: 'Europe/Berlin' }] } }, chart);
    expect(p).toMatchObject({ maxConcurrent: 2, canary: { percent: 10 }, healthTimeoutSeconds: 300, settleSeconds: 5, suspend: true });
    expect(p.windows.map((w) => w.kind)).toEqual(['allow']);
    expect(resolvePolicy({ rollout: { canary: { count: 2 }, healthTimeoutSeconds: 60 } }, chart)).toMatchObject({ canary: { count: 2 }, healthTimeoutSeconds: 60, windows: chart.windows });
  });
});

describe('observe', () => {
  const versions = { s: 'v2' };
  it("says whether the pod template carries the versions, and counts the deadline from that stamp's restartedAt", () => {
    expect(observe({ ...workload('a', { applied: { s: 'v1' } }), health: 'healthy', restartedAt: '2026-03-02T09:00:00Z' }, versions)).toEqual({ health: 'healthy', hasVersion: false });
    expect(observe({ ...workload('a', { applied: { s: 'v2', t: 'x' } }), health: 'progressing', restartedAt: '2026-03-02T10:00:05.500Z', progressDeadlineSeconds: 30 }, versions)).toEqual({
      health: 'progressing',
      hasVersion: true,
      progressDeadlineSeconds: 30,
      stampedAt: T0.getTime() / 1000 + 5,
    });
  });

  it('takes a paused or OnDelete workload as deferred, and one of unknown health as progressing', () => {
    expect(observe(workload('a', { rollout: 'Paused' }), versions)).toEqual({ health: 'progressing', hasVersion: false, deferred: true });
    expect(observe(workload('a', { rollout: 'OnDelete' }), versions).deferred).toBe(true);
  });
});

describe('preferredCanaries and requestsOf', () => {
  it('names the workloads the canary selector matches', () => {
    const ws: WorkloadState[] = [{ ...workload('a'), labels: { canary: 'true' } }, { ...workload('b'), labels: {} }];
    expect(preferredCanaries({ rollout: { canary: { count: 1, selector: { matchLabels: { canary: 'true' } } } } }, ws)).toEqual(['Deployment/a']);
    expect(preferredCanaries({ rollout: { canary: { count: 1 } } }, ws)).toEqual([]);
  });

  it('reads the three request annotations and nothing else', () => {
    expect(requestsOf({ 'awssecretsoperator.secretoperator/rollout-resume': 'r', 'awssecretsoperator.secretoperator/rollout-override': 'o', other: 'x' })).toEqual({ resume: 'r', override: 'o' });
    expect(requestsOf(undefined)).toEqual({});
  });
});

describe('status.rollout', () => {
  const policy = resolvePolicy({ rollout: { canary: { count: 1 } } }, CHART);
  const record = admitChange(undefined, { versions: { s: 'v2' }, workloads: ['Deployment/b', 'Deployment/a'] }, policy, T0);

  it('reads back what was written', () => {
    const d = decide(record, policy, { workloads: new Map() }, T0);
    expect(readRecord(rolloutPatch(undefined, d.record, d.summary))).toEqual(d.record);
  });

  it('refuses a record that does not hold together (hand-edited), rather than acting on it', () => {
    const written = rolloutPatch(undefined, record, 'Canary 0/2');
    expect(readRecord(undefined)).toBeUndefined();
    expect(readRecord({ ...written, states: 'p' })).toBeUndefined();
    expect(readRecord({ ...written, phase: 'Paused' })).toBeUndefined();
    expect(readRecord({ ...written, stampedAt: [0, 'x'] })).toBeUndefined();
    expect(readRecord({ ...written, versions: { s: 1 } })).toBeUndefined();
  });

  it('merged over any previous record, the patch leaves exactly the new record and its summary', () => {
    const optional = fc.record({ reason: fc.string(), message: fc.string(), override: fc.constant(true), nextOpen: fc.nat() }, { requiredKeys: [] });
    const versions = fc.dictionary(fc.constantFrom('s', 't', 'u'), fc.string({ minLength: 1 }), { minKeys: 1 });
    fc.assert(
      fc.property(optional, versions, optional, versions, (prevExtra, prevVersions, nextExtra, nextVersions) => {
        const previous = { ...rolloutPatch(undefined, { ...record, versions: prevVersions, ...prevExtra }, 'old'), handled: { resume: 'r' } };
        const next = { ...record, versions: nextVersions, ...nextExtra, handled: { resume: 'r' } };
        expect(mergePatch(previous, rolloutPatch(previous, next, 'new'))).toEqual({ ...next, summary: 'new' });
      }),
    );
  });

  it('RolloutHalted: True with the halt reason and message while halted, False with the phase otherwise', () => {
    const halted = { ...record, phase: 'Halted' as const, reason: 'CanaryUnhealthy', message: 'canary Deployment/a is not healthy' };
    expect(haltedCondition({ halted: true, record: halted, summary: 'Halted' })).toEqual({ type: 'RolloutHalted', status: 'True', reason: 'CanaryUnhealthy', message: 'canary Deployment/a is not healthy' });
    expect(haltedCondition({ halted: false, record, summary: 'Canary 0/2' })).toEqual({ type: 'RolloutHalted', status: 'False', reason: 'Canary', message: 'rollout Canary 0/2' });
  });
});
