import { setCondition } from '../../../src/mappings/conditions';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import { createLogger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';
import { microTime } from '../../../src/leader/lease';
import { backoffMs } from '../../../src/core/backoff';
import { checkDrift, DriftScheduler, driftOf } from '../../../src/rotation/drift';
import { SecretListing } from '../../../src/secrets/listing';
import type { SecretDescription, SecretLister } from '../../../src/secrets/describer';
import type { Mapping } from '../../../src/mappings/model';
import type { Term } from '../../../src/leader/fence';
import type { ResolvedChange } from '../../../src/rotation/plan';
import { mapping, SECRET_KEY, workload } from '../../support/builders';
import { sourcesAsMappings, type DiscoveredSource } from '../../../src/discovery/model';
import { parseSecretId } from '../../../src/secrets/secretId';
import type { WorkloadState } from '../../../src/workloads/workload';
import type { RecordedVersion } from '../../../src/secrets/versionOrder';

describe('drift recovery', () => {
  it('driftOf separates mappings behind the current version from those without a baseline, and those the read is not newer than', () => {
    const behind = mapping('a', { appliedVersion: 'v1' });
    const current = mapping('b', { appliedVersion: 'v2' });
    const fresh = mapping('c');
    const ahead = { ...mapping('d', { appliedVersion: 'v3' }), appliedSince: '2026-12-07T12:00:00Z' };
    const read = { currentVersion: 'v2', versions: { v2: ['AWSCURRENT'], v1: ['AWSPREVIOUS'] }, lastChanged: '2026-12-07T11:58:00Z' };
    expect(driftOf([behind, current, fresh, ahead], read)).toEqual({ behind: [behind], unrecorded: [fresh], current: [current], ahead: [ahead] });
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

    it('settles every mapped secret from one ListSecrets page; only the drifted one is described (the listing is a hint) before it rolls', async () => {
      const pages: (readonly string[] | undefined)[] = [];
      const { described, rotated } = await pass({
        listPage: async (names) => (pages.push(names), { secrets: Object.entries(versions).map(([n, v]) => ({ arn: arn(n), name: n, currentVersion: v })) }),
      });
      expect(pages).toEqual([['app', 'db']]);
      expect(described).toEqual(['app']);
      expect(rotated.map((c) => [c.secretKey, c.version])).toEqual([['arn:aws:secretsmanager:us-east-1:123456789012:secret:app', 'v2']]);
    });

    it('a denied ListSecrets falls back to DescribeSecret per secret, with the same outcome', async () => {
      const { described, rotated } = await pass({ listPage: async () => Promise.reject(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })) });
      expect(described).toEqual(['app', arn('db')]);
      expect(rotated.map((c) => [c.secretKey, c.version])).toEqual([['arn:aws:secretsmanager:us-east-1:123456789012:secret:app', 'v2']]);
    });
  });

  describe('a listed version is a hint: DescribeSecret confirms it, and a version never moves backwards', () => {
    // The regression seen on AWS: an event rotated the mapping to v3 at 12:00:00Z; a drift
    // pass within the next five minutes lists v2 (ListSecrets lags), and restarted everything
    // back to v2 before the next pass rolled it forward again.
    const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbC123';
    const at = (v: string, versions: Record<string, string[]>, lastChanged: string) => ({ arn: ARN, name: 'app', currentVersion: v, versions, lastChanged });
    const listedV2 = at('v2', { v2: ['AWSCURRENT'], v1: ['AWSPREVIOUS'] }, '2026-12-07T11:58:00Z');
    async function pass(recorded: Mapping, listed: SecretDescription | undefined, described: SecretDescription) {
      const index = new MappingIndex();
      index.upsert(recorded);
      const rotated: ResolvedChange[] = [];
      const baselines: string[] = [];
      const describedIds: string[] = [];
      const log = createLogger('silent');
      await checkDrift({
        index,
        describer: { describe: async (id) => (describedIds.push(id), described) },
        listing: new SecretListing({ listPage: async () => ({ secrets: listed ? [listed] : [] }) }, { account: '123456789012' }, log),
        rotate: async (c) => (rotated.push(...c), new Map()),
        recordBaseline: async (m, v) => (baselines.push(`${m.key}=${v}`), true),
        metrics: createMetrics(false),
        log,
        region: 'us-east-1',
      });
      return { rotated, baselines, described: describedIds };
    }
    const onV3 = { ...mapping('app', { appliedVersion: 'v3' }), appliedSince: '2026-12-07T12:00:00Z' };

    it('a stale listing (v2) after an event-driven rotation to v3 restarts nothing when DescribeSecret says v3', async () => {
      const r = await pass(onV3, listedV2, at('v3', { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'] }, '2026-12-07T12:00:00.400Z'));
      expect(r.rotated).toEqual([]);
      expect(r.described).toEqual(['app']);
    });

    it('nor when DescribeSecret is stale too: a read that does not know v3 and changed before it became current is older', async () => {
      const r = await pass(onV3, listedV2, listedV2);
      expect(r.rotated).toEqual([]);
      // A read that holds v3 as AWSPENDING (taken mid-rotation) is older, whatever its time.
      const pending = await pass(onV3, listedV2, at('v2', { v2: ['AWSCURRENT'], v3: ['AWSPENDING'] }, '2026-12-07T12:00:05Z'));
      expect(pending.rotated).toEqual([]);
    });

    it('a listed version the description confirms as newer (v3 now AWSPREVIOUS) rolls, from v3 only', async () => {
      const v4 = at('v4', { v4: ['AWSCURRENT'], v3: ['AWSPREVIOUS'] }, '2026-12-07T12:03:00Z');
      const r = await pass(onV3, v4, v4);
      expect(r.rotated.map((c) => [c.version, c.replaces, c.change.eventTime])).toEqual([['v4', ['v3'], '2026-12-07T12:03:00Z']]);
      // Two moves since v3 (AWS dropped it), known by time: newer.
      const v5 = at('v5', { v5: ['AWSCURRENT'], v4: ['AWSPREVIOUS'] }, '2026-12-07T12:04:00Z');
      expect((await pass(onV3, v5, v5)).rotated.map((c) => c.version)).toEqual(['v5']);
    });

    it('a listing that agrees with the record costs no DescribeSecret; a baseline is recorded only once described', async () => {
      expect((await pass(onV3, at('v3', { v3: ['AWSCURRENT'] }, '2026-12-07T12:00:00Z'), listedV2)).described).toEqual([]);
      const fresh = await pass(mapping('app'), listedV2, at('v3', { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'] }, '2026-12-07T12:00:00Z'));
      expect(fresh.described).toEqual(['app']);
      expect(fresh.baselines).toEqual(['ns/app=v3']);
    });
  });

  describe('discovered sources (ExternalSecret, SecretProviderClass): what their consumers record, the same guarantees', () => {
    const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbC123';
    const read = (v: string, versions: Record<string, string[]>, lastChanged: string): SecretDescription => ({ arn: ARN, name: 'app', currentVersion: v, versions, lastChanged });
    const source = (name: string, consumedAs: { secret: string } | { providerClass: string }): DiscoveredSource => ({
      key: `externalsecret:ns/${name}`,
      generation: 1,
      origin: { source: 'externalsecret', object: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', namespace: 'ns', name }, consumedAs, refresh: { ok: true } },
      secrets: [{ ref: parseSecretId('app', 'unknown'), field: 'spec.data[0].remoteRef.key' }],
      unsupported: [],
    });
    const consumer = (name: string, secret: string, version?: string, restartedAt?: string): WorkloadState => ({
      ...workload(name, version ? { applied: { [SECRET_KEY]: version } } : {}),
      ...(restartedAt ? { restartedAt } : {}),
      references: { secrets: [secret], providerClasses: [] },
    });
    async function pass(opts: { consumers: WorkloadState[]; listed?: SecretDescription; described: SecretDescription; mappings?: Mapping[]; sources?: DiscoveredSource[]; baselines?: Map<string, RecordedVersion> }) {
      const index = new MappingIndex();
      for (const m of opts.mappings ?? []) index.upsert(m);
      const rotated: ResolvedChange[] = [];
      const described: string[] = [];
      const pages: unknown[] = [];
      const lists: string[] = [];
      const log = createLogger('silent');
      await checkDrift({
        index,
        describer: { describe: async (id) => (described.push(id), opts.described) },
        listing: new SecretListing({ listPage: async (names) => (pages.push(names), { secrets: opts.listed ? [opts.listed] : [] }) }, { account: '123456789012' }, log),
        rotate: async (c) => (rotated.push(...c), new Map()),
        recordBaseline: async () => true,
        discovered: {
          sources: async () => sourcesAsMappings(opts.sources ?? [source('es', { secret: 'app-secret' })], ['Deployment', 'StatefulSet']),
          workloads: { list: async (kind, ns) => (lists.push(`${kind}/${ns}`), kind === 'Deployment' ? opts.consumers : []) },
          baselines: opts.baselines ?? new Map(),
        },
        metrics: createMetrics(false),
        log,
        region: 'us-east-1',
      });
      return { rotated, described, pages, lists };
    }
    const v2 = read('v2', { v2: ['AWSCURRENT'], v1: ['AWSPREVIOUS'] }, '2026-12-07T12:00:00Z');

    it('a lost event for a secret reached only through an ExternalSecret: the consumers behind roll, through the ordinary change path', async () => {
      const r = await pass({ consumers: [consumer('web', 'app-secret', 'v1', '2026-12-07T11:00:00Z'), consumer('other', 'not-it', 'v1')], listed: v2, described: v2 });
      expect(r.rotated.map((c) => [c.secretKey, c.version, c.replaces])).toEqual([[SECRET_KEY, 'v2', ['v1']]]);
      expect(r.described).toEqual(['app']);
    });

    it('never backwards: a stale listing and a stale read older than what a consumer was rolled to restart nothing', async () => {
      const r = await pass({ consumers: [consumer('web', 'app-secret', 'v3', '2026-12-07T12:00:02Z')], listed: v2, described: v2 });
      expect(r.rotated).toEqual([]);
    });

    it('one ListSecrets for mappings and sources together; a listing agreeing with every record costs no DescribeSecret; each namespace kind listed once', async () => {
      const r = await pass({
        consumers: [consumer('web', 'app-secret', 'v2'), consumer('csi', 'app-secret', 'v2')],
        listed: v2,
        described: v2,
        mappings: [mapping('m', { appliedVersion: 'v2' })],
        sources: [source('es', { secret: 'app-secret' }), source('es2', { secret: 'app-secret' })],
      });
      expect(r.pages).toHaveLength(1);
      expect(r.described).toEqual([]);
      expect(r.rotated).toEqual([]);
      expect(r.lists.sort()).toEqual(['Deployment/ns', 'StatefulSet/ns']);
    });

    it('consumers no restart stamped yet: the first read is their baseline (nothing rolls), and a lost event after it rolls them', async () => {
      const baselines = new Map<string, RecordedVersion>();
      const unstamped = [consumer('web', 'app-secret')];
      const first = await pass({ consumers: unstamped, listed: v2, described: v2, baselines });
      expect(first.described).toEqual(['app']);
      expect(first.rotated).toEqual([]);
      expect([...baselines.values()]).toEqual([{ version: 'v2', since: '2026-12-07T12:00:00Z' }]);

      // The listing agrees with the baseline: no DescribeSecret.
      expect((await pass({ consumers: unstamped, listed: v2, described: v2, baselines })).described).toEqual([]);

      const v3 = read('v3', { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'] }, '2026-12-07T12:05:00Z');
      const lost = await pass({ consumers: unstamped, listed: v3, described: v3, baselines });
      expect(lost.rotated.map((c) => [c.secretKey, c.version, c.replaces])).toEqual([[SECRET_KEY, 'v3', ['v2']]]);

      // A stale listing and read (v2 again) never move it backwards.
      expect((await pass({ consumers: unstamped, listed: v2, described: v2, baselines: new Map([...baselines].map(([k]) => [k, { version: 'v3', since: '2026-12-07T12:05:00Z' }])) })).rotated).toEqual([]);
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

  it('a pass cut short by stop() is logged at info, a pass that fails at error', async () => {
    const log = createLogger('debug');
    const lines: { level: string; message: string }[] = [];
    log.transports.forEach((t) => (t.silent = true));
    log.on('data', (info: { level: string; message: string }) => lines.push({ level: info.level, message: info.message }));
    let fail = false;
    let started!: () => void;
    const passStarted = () => new Promise<void>((r) => (started = r));
    const s = new DriftScheduler(
      60_000,
      (_t, signal) =>
        new Promise<void>((_resolve, reject) => {
          started();
          if (fail) return reject(new Error('ListSecrets: 500'));
          signal.addEventListener('abort', () => reject(signal.reason as Error));
        }),
      log,
      'rollout pass',
    );
    let running = passStarted();
    s.start(term());
    await running;
    await s.stop();
    fail = true;
    running = passStarted();
    s.start(term());
    await running;
    await s.stop();
    expect(lines.filter((l) => l.message.startsWith('rollout pass'))).toEqual([
      { level: 'info', message: 'rollout pass cut short' },
      { level: 'error', message: 'rollout pass failed' },
    ]);
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
