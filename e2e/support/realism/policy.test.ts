/** The realism proxy's decisions (unit project: no stack needed). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { copyHandle, deliver, draw, originalHandle, stagesSeen, stalenessOf, stream, take, waitSeconds, type DeliveryOptions, type SqsMessage, type Stages } from './policy';
import { startAwsRealism } from './awsRealism';

const v1: Stages = { v1: ['AWSCURRENT'] };
const v2: Stages = { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] };
const v3: Stages = { v2: ['AWSPREVIOUS'], v3: ['AWSCURRENT'] };

describe('stagesSeen: a stale read shows the secret as it was', () => {
  test('nothing written: the current stages', () => {
    expect(stagesSeen([], v2, 10_000, 5_000)).toBe(v2);
  });

  test('a write within the staleness: the stages before it; older than the staleness: the current ones', () => {
    const writes = [{ at: 1_000, before: v1 }];
    expect(stagesSeen(writes, v2, 1_500, 1_000)).toBe(v1);
    expect(stagesSeen(writes, v2, 2_500, 1_000)).toBe(v2);
  });

  test('two writes: the stages before the first write after the instant the read reflects', () => {
    const writes = [
      { at: 1_000, before: v1 },
      { at: 2_000, before: v2 },
    ];
    expect(stagesSeen(writes, v3, 2_100, 1_500)).toBe(v1);
    expect(stagesSeen(writes, v3, 2_100, 500)).toBe(v2);
    expect(stagesSeen(writes, v3, 2_100, 50)).toBe(v3);
  });

  test('property: the more stale a read, the older (never newer) the state it shows', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 8 }), fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 20_000 }), (ats, s1, s2) => {
        const sorted = [...ats].sort((a, b) => a - b);
        const states: Stages[] = sorted.map((_, i) => ({ [`v${i}`]: ['AWSCURRENT'] }));
        const current: Stages = { now: ['AWSCURRENT'] };
        const writes = sorted.map((at, i) => ({ at, before: states[i] }));
        const order = (s: Stages) => (s === current ? states.length : states.indexOf(s));
        const [less, more] = s1 <= s2 ? [s1, s2] : [s2, s1];
        expect(order(stagesSeen(writes, current, 10_000, more))).toBeLessThanOrEqual(order(stagesSeen(writes, current, 10_000, less)));
        expect(stagesSeen(writes, current, 10_000, 0)).toBe(current);
      }),
    );
  });
});

describe('seeded draws', () => {
  test('a secret\'s staleness stays within its bound and is the same for the same seed', () => {
    fc.assert(
      fc.property(fc.integer(), fc.string(), fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 0, max: 300_000 }), (seed, name, a, b) => {
        const bound = { minMs: Math.min(a, b), maxMs: Math.max(a, b) };
        const ms = stalenessOf(bound, seed, 'list', name);
        expect(ms).toBeGreaterThanOrEqual(bound.minMs);
        expect(ms).toBeLessThanOrEqual(bound.maxMs);
        expect(stalenessOf(bound, seed, 'list', name)).toBe(ms);
      }),
    );
  });

  test('draws spread over [0, 1) and differ between seeds', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => draw(7, `s${i}`));
    expect(Math.min(...xs)).toBeLessThan(0.05);
    expect(Math.max(...xs)).toBeGreaterThan(0.95);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Array.from({ length: 20 }, (_, i) => draw(i, 'same'))).not.toEqual(Array.from({ length: 20 }, () => draw(0, 'same')));
    const [a, b] = [stream(3), stream(3)];
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });
});

describe('take: the throttling token bucket', () => {
  test('a burst passes, the next call is throttled, time refills it', () => {
    let bucket = undefined as ReturnType<typeof take>['bucket'] | undefined;
    const results: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const t = take(bucket, 1_000, 2, 3);
      bucket = t.bucket;
      results.push(t.allowed);
    }
    expect(results).toEqual([true, true, true, false]);
    expect(take(bucket, 1_400, 2, 3).allowed).toBe(false);
    expect(take(bucket, 1_500, 2, 3).allowed).toBe(true);
  });

  test('property: over any arrivals, no more pass than the burst plus the rate times the time', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 200 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 10 }), (times, rate, burst) => {
        const sorted = [...times].sort((a, b) => a - b);
        let bucket = undefined as ReturnType<typeof take>['bucket'] | undefined;
        let passed = 0;
        for (const t of sorted) {
          const r = take(bucket, t, rate, burst);
          bucket = r.bucket;
          if (r.allowed) passed++;
        }
        const span = sorted.length ? sorted[sorted.length - 1] - sorted[0] : 0;
        expect(passed).toBeLessThanOrEqual(burst + Math.floor((span / 1000) * rate));
      }),
    );
  });
});

describe('deliver: a standard queue\'s deliveries', () => {
  const msg = (i: number): SqsMessage => ({ MessageId: `m${i}`, ReceiptHandle: `h${i}`, Body: `b${i}` });
  const off: DeliveryOptions = { duplicate: 0, late: 0, maxDelayMs: 1_000, reorder: false };
  let n = 0;
  const copies = () => ++n;

  test('everything off: the queue\'s answer as it is', () => {
    const r = deliver([msg(1), msg(2)], [], 0, 10, off, stream(1), copies);
    expect(r).toEqual({ answer: [msg(1), msg(2)], scheduled: [] });
  });

  test('duplicate: each message now and a copy later, under a handle that maps back to the queue\'s', () => {
    const r = deliver([msg(1)], [], 0, 10, { ...off, duplicate: 1 }, stream(1), copies);
    expect(r.answer).toEqual([msg(1)]);
    expect(r.scheduled).toHaveLength(1);
    expect(r.scheduled[0].message.MessageId).toBe('m1');
    expect(r.scheduled[0].message.ReceiptHandle).not.toBe('h1');
    expect(originalHandle(r.scheduled[0].message.ReceiptHandle)).toBe('h1');
    const later = deliver([], r.scheduled, r.scheduled[0].dueAt, 10, off, stream(1), copies);
    expect(later.answer.map((m) => m.MessageId)).toEqual(['m1']);
    expect(later.scheduled).toEqual([]);
  });

  test('late: held back, then handed out with what the queue returns at that time', () => {
    const r = deliver([msg(1)], [], 0, 10, { ...off, late: 1 }, stream(1), copies);
    expect(r.answer).toEqual([]);
    const later = deliver([msg(2)], r.scheduled, 1_000, 10, off, stream(1), copies);
    expect(later.answer.map((m) => m.MessageId).sort()).toEqual(['m1', 'm2']);
  });

  test('a message and its copy both due: one answer carries it once, the next the other', () => {
    const copy = { ...msg(1), ReceiptHandle: copyHandle('h1', 1) };
    const r = deliver([msg(1)], [{ message: copy, dueAt: 0 }], 0, 10, off, stream(1), copies);
    expect(r.answer.map((m) => m.MessageId)).toEqual(['m1']);
    expect(r.scheduled.map((s) => s.message.MessageId)).toEqual(['m1']);
  });

  test('property: nothing is lost, at most `max` per answer, handles always map back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1, max: 10 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.integer(), (count, max, duplicate, late, reorder, seed) => {
        const received = Array.from({ length: count }, (_, i) => msg(i));
        const r = deliver(received, [], 0, max, { duplicate, late, maxDelayMs: 500, reorder }, stream(seed), copies);
        expect(r.answer.length).toBeLessThanOrEqual(max);
        expect(new Set(r.answer.map((m) => m.MessageId)).size).toBe(r.answer.length);
        const out = [...r.answer, ...r.scheduled.map((s) => s.message)];
        for (const m of received) expect(out.some((o) => o.MessageId === m.MessageId && o.ReceiptHandle === m.ReceiptHandle)).toBe(true);
        for (const o of out) expect(originalHandle(o.ReceiptHandle)).toBe(`h${o.MessageId.slice(1)}`);
      }),
    );
  });

  test('copy handles map back for any handle', () => {
    fc.assert(fc.property(fc.string(), fc.nat(), (h, i) => expect(originalHandle(copyHandle(h, i))).toBe(h)));
  });

  test('waitSeconds: a long poll ends when something scheduled falls due', () => {
    expect(waitSeconds(20, [], 0)).toBe(20);
    expect(waitSeconds(20, [{ message: msg(1), dueAt: 2_500 }], 0)).toBe(3);
    expect(waitSeconds(20, [{ message: msg(1), dueAt: 0 }], 100)).toBe(0);
  });
});

describe('the proxy\'s throttling answer, as the SDK v3 reads it', () => {
  let upstream: http.Server;
  beforeAll(async () => {
    // Stands in for moto's DescribeSecret.
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf', Name: 's', VersionIdsToStages: v1 }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  test('a throttled call is retried by the SDK\'s own strategy (every attempt), and fails as ThrottlingException (400)', async () => {
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // One call, then none: the bucket never refills, so every retry is throttled too.
    const realism = await startAwsRealism({ secretsManager: url, throttle: { ratePerSecond: 0, burst: 1, operations: ['secretsmanager.DescribeSecret'] } });
    const sm = new SecretsManagerClient({ region: 'eu-west-1', endpoint: realism.url, credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 3 });
    try {
      const first = await sm.send(new DescribeSecretCommand({ SecretId: 's' }));
      expect(first.VersionIdsToStages).toEqual(v1);
      const err = await sm.send(new DescribeSecretCommand({ SecretId: 's' })).then(
        () => undefined,
        (e: Error & { $metadata?: { httpStatusCode?: number; attempts?: number } }) => e,
      );
      expect({ name: err?.name, status: err?.$metadata?.httpStatusCode, attempts: err?.$metadata?.attempts }).toEqual({ name: 'ThrottlingException', status: 400, attempts: 3 });
      expect(realism.counts.throttled).toEqual(Array(3).fill('secretsmanager.DescribeSecret'));
    } finally {
      sm.destroy();
      await realism.close();
    }
  });
});
