/** The bench's paced fan-out (F) reads its figures from watch events through these pure helpers. */
import { RollingTally, peakPerSecond, peakRate } from '../../../../e2e/bench/rolling';
import { SECRET_VERSIONS_ANNOTATION } from '../../../src/workloads/workload';

const V = 'v-new';

/** A Deployment of one replica: `versions` on its pod template, its status as the controller wrote it. */
function deployment(o: { versions?: Record<string, string>; generation?: number; observed?: number; updated?: number; available?: number; replicas?: number }) {
  return {
    metadata: { generation: o.generation ?? 2 },
    spec: { replicas: 1, template: { metadata: { annotations: (o.versions ? { [SECRET_VERSIONS_ANNOTATION]: JSON.stringify(o.versions) } : {}) as Record<string, string> } } },
    status: { observedGeneration: o.observed ?? 2, replicas: o.replicas ?? 1, updatedReplicas: o.updated ?? 1, availableReplicas: o.available ?? 1 },
  };
}

const healthyOnOld = deployment({ versions: { s: 'v-old' } });
const stampedNotSeen = deployment({ versions: { s: V }, generation: 3, observed: 2 });
const stampedRolling = deployment({ versions: { s: V }, generation: 3, observed: 3, replicas: 2, updated: 1, available: 1 });
const healthyOnNew = deployment({ versions: { s: V }, generation: 3, observed: 3 });

describe('RollingTally', () => {
  test('counts as rolling only a workload that carries the version and is not healthy by its kind\'s rule', () => {
    const t = new RollingTally(V, 3);
    t.observe('a', healthyOnOld, 0);
    t.observe('b', stampedNotSeen, 10);
    t.observe('c', stampedRolling, 20);
    expect({ rolling: t.rolling, stamped: t.stamped, peak: t.peakRolling }).toEqual({ rolling: 2, stamped: 2, peak: 2 });
  });

  test('keeps the peak when workloads turn healthy, and records when the last stamp was seen', () => {
    const t = new RollingTally(V, 2);
    t.observe('a', stampedRolling, 10);
    t.observe('b', stampedRolling, 20);
    t.observe('a', healthyOnNew, 30);
    t.observe('b', healthyOnNew, 40);
    expect({ rolling: t.rolling, peak: t.peakRolling, lastStampedAt: t.lastStampedAt }).toEqual({ rolling: 0, peak: 2, lastStampedAt: 20 });
  });

  test('all healthy only once every expected workload carries the version and is healthy, at the event that made it so', () => {
    const t = new RollingTally(V, 2);
    t.observe('a', healthyOnNew, 10);
    t.observe('b', healthyOnOld, 20);
    expect(t.allHealthyAt).toBeUndefined();
    t.observe('b', stampedRolling, 30);
    expect(t.allHealthyAt).toBeUndefined();
    t.observe('b', healthyOnNew, 40);
    t.observe('a', healthyOnNew, 50);
    expect(t.allHealthyAt).toBe(40);
  });
});

describe('peakPerSecond', () => {
  test('the most events in one second counted from the start', () => {
    expect(peakPerSecond([1000, 1100, 1900, 2000, 2500, 3999], 1000)).toBe(3);
    expect(peakPerSecond([500, 2600, 2700], 1000)).toBe(2);
  });
  test('none: 0', () => {
    expect(peakPerSecond([], 0)).toBe(0);
  });
});

describe('peakRate', () => {
  test('the fastest growth between two consecutive samples, per second', () => {
    expect(peakRate([{ at: 0, total: 100 }, { at: 1000, total: 150 }, { at: 3000, total: 350 }, { at: 3500, total: 400 }])).toBe(100);
  });
  test('fewer than two samples: NaN', () => {
    expect(peakRate([{ at: 0, total: 1 }])).toBeNaN();
  });
});
