import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Fence, SoleLeader } from '../../../src/leader/fence';
import { createLogger, type Logger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';
import { haltNotification, notificationOf, redactUrl, type RotationNotification } from '../../../src/notify/payload';
import { httpPost, retryAfterMs, WebhookNotifier, type Post, type PostResult } from '../../../src/notify/webhook';
import { summariseRotation, type MappingReport } from '../../../src/rotation/summary';
import { mapping, resolved, SECRET_KEY } from '../../support/builders';

const URL_WITH_TOKEN = new URL('https://hooks.example.com/services/T000/B000/sEcReTtOkEn?key=alsoSecret');

function report(opts: { failed?: boolean; name?: string; dryRun?: boolean } = {}): MappingReport {
  const change = resolved('m1', 'v-2', '2025-03-11T09:14:27Z');
  const workloads = [
    { kind: 'Deployment' as const, name: 'web', result: 'Restarted' as const },
    ...(opts.failed ? [{ kind: 'StatefulSet' as const, name: 'db', result: 'Failed' as const, reason: 'forbidden <b>&</b> (HTTP 403)' }] : []),
  ];
  const summary = summariseRotation({ secretKey: change.secretKey, version: change.version, eventId: change.change.eventId, eventTime: change.change.eventTime }, workloads, '2025-03-11T09:14:29Z', opts.dryRun ?? false);
  return { mapping: mapping(opts.name ?? 'app', { namespace: 'team-a' }), change, summary };
}

/** A logger whose lines are kept, to assert on what is (and is not) logged. */
function recordingLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const log = createLogger('debug');
  const lines: Record<string, unknown>[] = [];
  log.transports.forEach((t) => (t.silent = true));
  log.on('data', (info: Record<string, unknown>) => lines.push(info));
  return { log, lines: () => lines };
}

/** A leader whose term can be ended, and the fence over it. */
function leader() {
  const holder = new SoleLeader({ onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
  holder.start();
  return { holder, fence: new Fence(holder) };
}

interface Harness {
  notifier: WebhookNotifier;
  metrics: ReturnType<typeof createMetrics>;
  lines: () => Record<string, unknown>[];
  calls: { body: RotationNotification; at: number }[];
  clock: { now: number };
  fence: Fence;
  holder: SoleLeader;
}

/** A notifier on a fake clock: sleeping advances it, posting answers from `answers` in turn. */
function harness(answers: (PostResult | Error)[], opts: { queueSize?: number; deadlineMs?: number; timeoutMs?: number; cluster?: string } = {}): Harness {
  const { fence, holder } = leader();
  const metrics = createMetrics(false);
  const { log, lines } = recordingLogger();
  const clock = { now: 1_000_000 };
  const calls: Harness['calls'] = [];
  const post: Post = async (_url, body) => {
    calls.push({ body: JSON.parse(body) as RotationNotification, at: clock.now });
    const a = answers.shift() ?? { status: 200 };
    if (a instanceof Error) throw a;
    return a;
  };
  const notifier = new WebhookNotifier({
    url: URL_WITH_TOKEN,
    ...(opts.cluster ? { clusterName: opts.cluster } : {}),
    timeoutMs: opts.timeoutMs ?? 5_000,
    deadlineMs: opts.deadlineMs ?? 60_000,
    queueSize: opts.queueSize ?? 10,
    fence,
    metrics,
    log,
    post,
    backoff: { baseMs: 500, capMs: 10_000 },
    now: () => clock.now,
    sleep: async (ms) => {
      clock.now += ms;
    },
  });
  return { notifier, metrics, lines, calls, clock, fence, holder };
}

/** Notifies from inside leader work, as the rotator does. */
function notify(h: Harness, r: MappingReport): void {
  h.fence.run(h.holder.currentTerm()!, () => h.notifier.rotated(r));
}

async function settled(h: Harness): Promise<void> {
  for (let i = 0; i < 1000 && h.notifier.pending > 0; i++) await new Promise((r) => setImmediate(r));
  expect(h.notifier.pending).toBe(0);
}

async function count(h: Harness, result: string): Promise<number> {
  return (await h.metrics.notifications.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('the notification payload', () => {
  it('names the mapping, secret id, version, event and every listed workload with its result, and nothing else', () => {
    const n = notificationOf(report({ failed: true }), 'prod-eu');
    expect(n).toEqual({
      text: expect.any(String),
      outcome: 'failed',
      reason: 'RotationFailed',
      cluster: 'prod-eu',
      mapping: { namespace: 'team-a', name: 'app' },
      source: 'mapping',
      secretId: SECRET_KEY,
      version: 'v-2',
      eventId: 'ev-m1',
      eventTime: '2025-03-11T09:14:27Z',
      completionTime: '2025-03-11T09:14:29Z',
      summary: { Failed: 1, Restarted: 1 },
      workloadCount: 2,
      workloads: [
        { kind: 'StatefulSet', name: 'db', result: 'Failed', reason: 'forbidden <b>&</b> (HTTP 403)' },
        { kind: 'Deployment', name: 'web', result: 'Restarted' },
      ],
    });
  });

  it("has a Slack text line that says the outcome, the cluster and the mapping, with Slack's markup characters escaped", () => {
    expect(notificationOf(report({ failed: true }), 'prod-eu').text).toBe(
      `[prod-eu] Rotation FAILED for mapping team-a/app: secret ${SECRET_KEY} version v-2: 1 Failed, 1 Restarted (StatefulSet/db Failed (forbidden &lt;b&gt;&amp;&lt;/b&gt; (HTTP 403)), Deployment/web Restarted)`,
    );
    expect(notificationOf(report()).text).toBe(`Rotation succeeded for mapping team-a/app: secret ${SECRET_KEY} version v-2: 1 Restarted (Deployment/web Restarted)`);
    // A source discovery found is named as what it is.
    const r = report();
    const discovered = { ...r, mapping: { ...r.mapping, key: 'externalsecret:team-a/app', origin: { source: 'externalsecret' as const, object: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', namespace: 'team-a', name: 'app' }, consumedAs: { secret: 'app' } } } };
    expect(notificationOf(discovered)).toMatchObject({ source: 'externalsecret', mapping: { namespace: 'team-a', name: 'app' }, text: expect.stringMatching(/^Rotation succeeded for ExternalSecret team-a\/app: /) });
    expect(notificationOf(report({ dryRun: true })).outcome).toBe('dryRun');
  });

  it('a halted rollout: outcome halted, reason CanaryUnhealthy, what the condition says, no value', () => {
    const n = haltNotification({ mapping: mapping('app', { namespace: 'team-a' }), versions: { [SECRET_KEY]: 'v-2' }, eventId: 'ev-1', message: 'canary Deployment/web is not healthy <b>', at: '2025-03-11T09:20:00Z', workloadCount: 4 }, 'prod');
    expect(n).toEqual({
      text: '[prod] Rollout HALTED for mapping team-a/app: canary Deployment/web is not healthy &lt;b&gt;',
      outcome: 'halted',
      reason: 'CanaryUnhealthy',
      cluster: 'prod',
      mapping: { namespace: 'team-a', name: 'app' },
      source: 'mapping',
      secretId: SECRET_KEY,
      version: 'v-2',
      eventId: 'ev-1',
      completionTime: '2025-03-11T09:20:00Z',
      summary: {},
      workloadCount: 4,
      workloads: [],
    });
  });

  it('redacts a URL to its scheme and host', () => {
    expect(redactUrl(URL_WITH_TOKEN)).toBe('https://hooks.example.com/…');
    expect(redactUrl(new URL('http://user:pw@relay.monitoring.svc:8080/hook'))).toBe('http://relay.monitoring.svc:8080/…');
  });
});

describe('WebhookNotifier', () => {
  it('posts one notification per rotation and counts it sent', async () => {
    const h = harness([{ status: 204 }]);
    notify(h, report());
    await settled(h);
    expect(h.calls.map((c) => c.body)).toEqual([notificationOf(report())]);
    expect(await count(h, 'sent')).toBe(1);
  });

  it('retries network errors, 5xx, 408 and 429 with growing backoff, honours a longer Retry-After, and stops at the first success', async () => {
    const h = harness([new Error('connect ECONNREFUSED'), { status: 503 }, { status: 429, retryAfter: '7' }, { status: 408 }, { status: 200 }]);
    notify(h, report());
    await settled(h);
    const gaps = h.calls.slice(1).map((c, i) => c.at - h.calls[i]!.at);
    expect(gaps).toEqual([500, 1000, 7000, 4000]);
    expect({ sent: await count(h, 'sent'), failed: await count(h, 'failed') }).toEqual({ sent: 1, failed: 0 });
  });

  it('does not retry an answer that will not change (4xx, 3xx): failed, counted and logged', async () => {
    const h = harness([{ status: 404 }, { status: 302 }]);
    notify(h, report());
    notify(h, report({ name: 'other' }));
    await settled(h);
    expect(h.calls).toHaveLength(2);
    expect(await count(h, 'failed')).toBe(2);
    expect(h.lines().filter((l) => l.result === 'failed').map((l) => l.message)).toEqual([
      'notification refused by the webhook (HTTP 404); not retried',
      'notification refused by the webhook (HTTP 302); not retried',
    ]);
  });

  it('gives up at the deadline, counted failed, with the last error in the log line', async () => {
    const h = harness(Array.from({ length: 100 }, () => ({ status: 500 })), { deadlineMs: 20_000 });
    notify(h, report());
    await settled(h);
    // 500 + 1000 + 2000 + 4000 + 8000 = 15,500 ms of waits; the next (10 s) would pass 20 s.
    expect(h.calls).toHaveLength(6);
    expect(h.clock.now - h.calls[0]!.at).toBeLessThan(20_000);
    expect(await count(h, 'failed')).toBe(1);
    expect(h.lines().find((l) => l.result === 'failed')).toMatchObject({ message: 'notification not delivered within 20000 ms (last: HTTP 500)', mapping: 'team-a/app', version: 'v-2', attempt: 6 });
  });

  it('never makes the caller wait: rotated() returns before the webhook answers', async () => {
    const { fence, holder } = leader();
    let answer: (r: PostResult) => void = () => undefined;
    const notifier = new WebhookNotifier({ url: URL_WITH_TOKEN, timeoutMs: 1000, deadlineMs: 1000, queueSize: 5, fence, metrics: createMetrics(false), log: createLogger('silent'), post: () => new Promise((r) => (answer = r)) });
    fence.run(holder.currentTerm()!, () => notifier.rotated(report()));
    expect(notifier.pending).toBe(1);
    answer({ status: 200 });
    await notifier.stop(1000);
  });

  it('refuses a notification when the queue is full: counted queue_full and logged with what it would have said', async () => {
    const { fence, holder } = leader();
    const metrics = createMetrics(false);
    const { log, lines } = recordingLogger();
    const answers: ((r: PostResult) => void)[] = [];
    const notifier = new WebhookNotifier({ url: URL_WITH_TOKEN, timeoutMs: 1000, deadlineMs: 1000, queueSize: 2, fence, metrics, log, post: () => new Promise((r) => answers.push(r)) });
    fence.run(holder.currentTerm()!, () => ['a', 'b', 'c', 'd'].forEach((name) => notifier.rotated(report({ name }))));
    // One is being sent, two wait, the fourth found the queue full.
    expect(notifier.pending).toBe(3);
    expect((await metrics.notifications.get()).values).toEqual([{ labels: { result: 'queue_full' }, value: 1 }]);
    expect(lines().find((l) => l.result === 'queue_full')).toMatchObject({ level: 'warn', message: 'notification queue full (2); this notification is not sent', mapping: 'team-a/d', version: 'v-2', outcome: 'succeeded' });
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      answers.shift()?.({ status: 200 });
      await new Promise((r) => setImmediate(r));
    }
    await notifier.stop(1000);
    expect((await metrics.notifications.get()).values.find((v) => v.labels.result === 'sent')?.value).toBe(3);
  });

  it('sends only while the term that made the notification leads: after it ends, the rest are counted not_leader', async () => {
    const h = harness([{ status: 500 }, { status: 200 }]);
    notify(h, report());
    // Outside leader work (no term): not even queued.
    h.notifier.rotated(report({ name: 'outside' }));
    await h.holder.relinquish('test');
    await settled(h);
    expect(h.calls).toHaveLength(1);
    expect({ notLeader: await count(h, 'not_leader'), sent: await count(h, 'sent') }).toEqual({ notLeader: 2, sent: 0 });
  });

  it('never logs the URL beyond its scheme and host, not even in an error that quotes it', async () => {
    const h = harness([new Error(`request to ${URL_WITH_TOKEN.href} failed`), { status: 500 }, { status: 403 }]);
    notify(h, report());
    await settled(h);
    const logged = JSON.stringify(h.lines());
    expect(logged).toContain('https://hooks.example.com/…');
    expect(logged).not.toMatch(/sEcReTtOkEn|alsoSecret|T000\/B000/);
  });

  it('on stop, what is still queued is counted shutdown and logged', async () => {
    const { fence, holder } = leader();
    const metrics = createMetrics(false);
    const notifier = new WebhookNotifier({ url: URL_WITH_TOKEN, timeoutMs: 1000, deadlineMs: 1000, queueSize: 5, fence, metrics, log: createLogger('silent'), post: (_u, _b, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    fence.run(holder.currentTerm()!, () => ['a', 'b'].forEach((name) => notifier.rotated(report({ name }))));
    await notifier.stop(10);
    expect((await metrics.notifications.get()).values.map((v) => [v.labels.result, v.value]).sort()).toEqual([['shutdown', 2]]);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
  });
});

describe('httpPost', () => {
  let server: http.Server;
  const seen: { method?: string; url?: string; auth?: string; type?: string; body: string }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
        res.writeHead(req.url === '/slow' ? 200 : 202, { 'retry-after': '2' }).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('POSTs JSON, turning credentials in the URL into a Basic Authorization header', async () => {
    const port = (server.address() as AddressInfo).port;
    const r = await httpPost(new URL(`http://bot:p%40ss@127.0.0.1:${port}/hook?x=1`), '{"text":"hi"}', AbortSignal.timeout(2000));
    expect(r).toEqual({ status: 202, retryAfter: '2' });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/hook?x=1', auth: `Basic ${Buffer.from('bot:p@ss').toString('base64')}`, type: 'application/json', body: '{"text":"hi"}' });
  });
});
