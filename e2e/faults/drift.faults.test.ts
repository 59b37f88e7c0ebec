/**
 * Scenario 5: lost events. Two of four secrets change (put-secret-value) but their
 * events never reach the operator (EventBridge delivers best effort; the queue is
 * purged as well, so nothing can replay them). Drift recovery (every 5 s) must
 * restart exactly the workloads of those two secrets, within its interval, settling
 * all four with ListSecrets and confirming only the two that differ with DescribeSecret
 * (a listed version is a hint: ListSecrets may lag), never one DescribeSecret each (every
 * Secrets Manager call the operator makes goes through a recording proxy), and leave the
 * other workloads alone.
 */
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler, startRecordingProxy, type RecordingProxy } from './support/probes';
import { waitFor } from '../support/wait';

const S = '5 lost events, drift recovery';
const DRIFT_S = 5;
jest.setTimeout(600_000);

let f: FaultFile;
let proxy: RecordingProxy;
beforeAll(async () => {
  f = new FaultFile(S);
  await f.setup();
  proxy = await startRecordingProxy(f.ctx.env.AWS_ENDPOINT_URL);
});
afterAll(async () => {
  await f.teardown();
  await proxy.close();
});

test('drift recovery restarts exactly the workloads of secrets whose events were lost, settling them with ListSecrets', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('drift');
  const r = await f.install('drift', ['--set', `driftCheckIntervalSeconds=${DRIFT_S}`, '--set-string', `aws.endpointUrlSecretsManager=${proxy.url}`]);
  const secrets = await Promise.all([0, 1, 2, 3].map((i) => f.createSecret(`drift-${i}`)));
  const names = await f.deployments(ns, 'app', 8, (i) => ({ group: `g${i % 4}` }));
  for (const [i, s] of secrets.entries()) {
    await f.mapping(ns, `m${i}`, s, { group: `g${i}` });
    // Secrets 0 and 1 change; 2 and 3 do not.
    ledger.track(ns, names.filter((_, j) => j % 4 === i), [s], i < 2);
  }
  await f.waitRunning(ns, names);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m0', 'm1', 'm2', 'm3']);
  // One drift round that finds nothing (a second listing means it has ended), so a later one is the one under test.
  await waitFor('a drift round', () => proxy.targets.filter((t) => t.endsWith('.ListSecrets')).length >= 2, { timeoutMs: 30_000 });

  const changedAt = Date.now();
  const callsBefore = proxy.targets.length;
  const changed = [await f.putValue(secrets[0]), await f.putValue(secrets[1])];
  await f.ctx.aws.purge(f.ctx.env.SQS_QUEUE_URL);
  expect((await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL)).total).toBe(0);
  progress(S, 'two secrets changed; their events are lost (none sent, queue purged)');

  await waitFor(
    'drift detected for both changed secrets',
    () => changed.every((c) => op.logs.some((l) => l.message.startsWith('drift detected') && l.secret === c.arn && l.version === c.version)),
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  const restarts = () => op.logs.filter((l) => l.message === 'workload restarted');
  await waitFor('the four affected workloads restarted', () => restarts().length >= 4, { timeoutMs: 60_000, intervalMs: 100 });
  const lastRestart = Math.max(...restarts().map((l) => Date.parse(String(l.timestamp))));
  const detectMs = lastRestart - changedAt;
  progress(S, `drift restarts done ${detectMs} ms after the change (interval ${DRIFT_S} s)`);

  // Drift found exactly the two changed secrets, every restart came from drift, within one
  // interval (plus the time the restarts themselves take on this machine); the operator's
  // Secrets Manager calls read metadata only (never a value), and since the change the drift
  // passes listed (one ListSecrets each for the four secrets) and described only the two
  // secrets the listing showed drifted, once each, before restarting anything.
  const drifted = [...new Set(op.logs.filter((l) => l.message.startsWith('drift detected')).map((l) => String(l.secret)))].sort();
  const calls = [...new Set(proxy.targets)];
  const since = proxy.targets.slice(callsBefore);
  const problems = [
    ...(JSON.stringify(drifted) === JSON.stringify(changed.map((c) => c.arn).sort()) ? [] : [`drift found ${drifted.join(', ')}; changed were ${changed.map((c) => c.arn).join(', ')}`]),
    ...(restarts().every((l) => String(l.eventId).startsWith('drift:')) ? [] : ['a restart did not come from drift recovery']),
    ...(detectMs <= DRIFT_S * 1000 + 2_000 ? [] : [`restarts took ${detectMs} ms after the change, interval ${DRIFT_S} s`]),
    ...(calls.every((t) => METADATA.includes(t)) ? [] : [`Secrets Manager calls other than ${METADATA.join(' and ')}: ${calls.join(', ')}`]),
    ...(since.includes('secretsmanager.ListSecrets') && described(since) === changed.length ? [] : [`drift passes since the change did not list and confirm only the ${changed.length} drifted secrets: ${summarise(since)}`]),
  ];

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `2 of 4 secrets changed, their events lost; restarted ${(detectMs / 1000).toFixed(1)} s after the change (interval ${DRIFT_S} s); Secrets Manager calls: ${summarise(proxy.targets)} (since the change: ${summarise(since)})`,
  });
  expect(result.problems).toEqual([]);
  expect(restarts()).toHaveLength(4);
  expect(described(since)).toBe(changed.length);
});

const described = (targets: readonly string[]) => targets.filter((t) => t === 'secretsmanager.DescribeSecret').length;

const METADATA = ['secretsmanager.ListSecrets', 'secretsmanager.DescribeSecret'];

function summarise(targets: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].map(([t, n]) => `${n} x ${t.replace('secretsmanager.', '')}`).join(', ');
}
