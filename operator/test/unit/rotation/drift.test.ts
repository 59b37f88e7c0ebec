import { setCondition } from '../../../src/mappings/conditions';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import { createLogger } from '../../../src/log';
import { createMetrics } from '../../../src/metrics';
import { microTime } from '../../../src/leader/lease';
import { backoffMs } from '../../../src/backoff';
import { checkDrift, DriftScheduler, driftOf } from '../../../src/rotation/drift';
import { SecretListing } from '../../../src/secrets/listing';
import type { SecretLister } from '../../../src/secrets/describer';
import type { Term } from '../../../src/leader/fence';
import type { ResolvedChange } from '../../../src/rotation/plan';
import { mapping } from '../../support/builders';

describe('drift recovery', () => {
  it('driftOf separates mappings behind the current version from those without a baseline', () => {
    const behind = mapping('a', { appliedVersion: 'v1' });
    const current = mapping('b', { appliedVersion: 'v2' });
    const fresh = mapping('c');
    expect(driftOf([behind, current, fresh], 'v2')).toEqual({ behind: [behind], unrecorded: [fresh] });
  });

  it('rotates a secret whose mappings are behind and records baselines without rotating', async () => {
    const index = new MappingIndex();
    index.upsert(mapping('behind', { appliedVersion: 'v1' }));
    index.upsert(mapping('fresh'));
    index.upsert(mapping('elsewhere', { secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app' }));
    const rotated: ResolvedChange[][] = [];
    const baselines: string[] = [];
    const described: string[] = [];
    await checkDrift({
      index,
      describer: { describe: async (id) => (described.push(id), { arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbC123', name: 'app', currentVersion: 'v2' }) },
      rotate: async (c) => (rotated.push([...c]), new Map()),
      recordBaseline: async (m, v) => (baselines.push(`${m.key}=${v}`), true),
      metrics: createMetrics(false),
      log: createLogger('silent'),
      region: 'us-east-1',
    });
    expect(described).toEqual(['app']);
    expect(baselines).toEqual(['ns/fresh=v2']);
    expect(rotated).toHaveLength(1);
    expect(rotated[0][0]).toMatchObject({ version: 'v2', secretKey: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app', change: { kind: 'DriftDetected' } });
  });

  describe('with ListSecrets', () => {
    const arn = (n: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${n}-AbC123`;
    const versions: Record<string, string> = { app: 'v2', db: 'v1', 'app-extra': 'v9' };
    async function pass(lister: SecretLister) {
      const index = new MappingIndex();
      index.upsert(mapping('app', { secretId: 'app', appliedVersion: 'v1' }));
      index.upsert(mapping('db', { secretId: arn('db'), appliedVersion: 'v1' }));
      const described: string[] = [];
      const rotated: ResolvedChange[] = [];
      const log = createLogger('silent');
      await checkDrift({
        index,
        describer: { describe: async (id) => (described.push(id), { arn: arn(id.includes('db') ? 'db' : 'app'), name: id.includes('db') ? 'db' : 'app', currentVersion: id.includes('db') ? 'v1' : 'v2' }) },
        listing: new SecretListing(lister, { account: '123456789012' }, log),
        rotate: async (c) => (rotated.push(...c), new Map()),
        recordBaseline: async () => true,
        metrics: createMetrics(false),
        log,
        region: 'us-east-1',
      });
      return { described, rotated };
    }

    it('settles every mapped secret from one ListSecrets page and rolls the drifted one, without DescribeSecret', async () => {
      const pages: (readonly string[] | undefined)[] = [];
      const { described, rotated } = await pass({
        listPage: async (names) => (pages.push(names), { secrets: Object.entries(versions).map(([n, v]) => ({ arn: arn(n), name: n, currentVersion: v })) }),
      });
      expect(pages).toEqual([['app', 'db']]);
      expect(described).toEqual([]);
      expect(rotated.map((c) => [c.secretKey, c.version])).toEqual([['arn:aws:secretsmanager:us-east-1:123456789012:secret:app', 'v2']]);
    });

    it('a denied ListSecrets falls back to DescribeSecret per secret, with the same outcome', async () => {
      const { described, rotated } = await pass({ listPage: async () => Promise.reject(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })) });
      expect(described).toEqual(['app', arn('db')]);
      expect(rotated.map((c) => [c.secretKey, c.version])).toEqual([['arn:aws:secretsmanager:us-east-1:123456789012:secret:app', 'v2']]);
    });
  });

  it('does nothing when every mapping is current', async () => {
    const index = new MappingIndex();
    index.upsert(mapping('a', { appliedVersion: 'v2' }));
    const rotate = jest.fn();
    await checkDrift({
      index,
      describer: { describe: async () => ({ arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbC123', name: 'app', currentVersion: 'v2' }) },
      rotate,
      recordBaseline: async () => true,
      metrics: createMetrics(false),
      log: createLogger('silent'),
      region: 'us-east-1',
    });
    expect(rotate).not.toHaveBeenCalled();
  });
});

describe('DriftScheduler', () => {
  const term = (c = new AbortController()): Term & { c: AbortController } => ({ id: 1, signal: c.signal, c });

  it('passes never overlap: a pass slower than the interval delays the next instead of piling up', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      let running = 0;
      let peak = 0;
      let passes = 0;
      const s = new DriftScheduler(
        1_000,
        async () => {
          running++;
          passes++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5_000)); // e.g. DescribeSecret timing out during an outage
          running--;
        },
        createLogger('silent'),
      );
      s.start(term());
      await jest.advanceTimersByTimeAsync(20_000);
      expect(peak).toBe(1);
      // One pass every 5 s + 1 s: 4 in 20 s (a timer every second would have started 20).
      expect(passes).toBeGreaterThanOrEqual(3);
      expect(passes).toBeLessThanOrEqual(4);
      void s.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('stops scheduling when its term ends', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      let passes = 0;
      const t = term();
      const s = new DriftScheduler(1_000, async () => void passes++, createLogger('silent'));
      s.start(t);
      await jest.advanceTimersByTimeAsync(2_500);
      expect(passes).toBe(3);
      t.c.abort();
      await jest.advanceTimersByTimeAsync(5_000);
      expect(passes).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('conditions', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const t1 = new Date('2026-01-01T00:05:00Z');
  it('keeps lastTransitionTime while the status holds, moves it on a flip', () => {
    const c0 = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Indexed', message: 'm' }, t0);
    const same = setCondition(c0, { type: 'Ready', status: 'True', reason: 'Indexed', message: 'm2' }, t1);
    expect(same[0].lastTransitionTime).toBe(t0.toISOString());
    expect(same[0].message).toBe('m2');
    const flipped = setCondition(same, { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'x' }, t1);
    expect(flipped[0].lastTransitionTime).toBe(t1.toISOString());
    expect(setCondition(flipped, { type: 'RotationSucceeded', status: 'True', reason: 'R', message: '' }, t1).map((c) => c.type)).toEqual(['Ready', 'RotationSucceeded']);
  });
});

describe('small shell helpers', () => {
  it('lease times have six fractional digits (MicroTime)', () => expect(microTime(Date.parse('2026-01-01T00:00:00.123Z'))).toBe('2026-01-01T00:00:00.123000Z'));
  it('backoff doubles and is capped', () => expect([1, 2, 3, 10].map((n) => backoffMs(n, 500, 4000))).toEqual([500, 1000, 2000, 4000]));
});
