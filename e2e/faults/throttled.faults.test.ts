/**
 * Scenario R2: Secrets Manager throttled during a burst. Twelve secrets finish a
 * rotation at once (a rotation Lambda's `RotationSucceeded`, which carries no version:
 * the operator resolves AWSCURRENT with DescribeSecret); drift runs every 3 s. The
 * realism proxy lets 3 DescribeSecret and 3 ListSecrets calls a second through (bursts
 * of 3) and answers the rest `ThrottlingException` (HTTP 400, AWS's JSON error shape,
 * which the SDK retries with its own back-off). Every workload must roll once onto its
 * secret's new version; nothing may be dead-lettered.
 */
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';

const S = 'R2 throttled Secrets Manager during a burst (12 rotations, 3 calls/s)';
const SECRETS = 12;
jest.setTimeout(300_000);

const f = FaultFile.forThisFile(S, undefined, {
  realism: { throttle: { ratePerSecond: 3, burst: 3, operations: ['secretsmanager.DescribeSecret', 'secretsmanager.ListSecrets'] } },
});

test('a burst of rotations against a throttled Secrets Manager: each workload rolled once onto the new version, nothing dead-lettered', async () => {
  const realism = f.realism!;
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('throttle');
  const r = await f.install('throttle', ['--set', 'driftCheckIntervalSeconds=3', ...f.realismValues()]);
  const { secrets, mappings } = await f.groups(ledger, ns, 'throttle', SECRETS, SECRETS);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, mappings);

  const throttledBefore = realism.counts.throttled.length;
  const rotated = await Promise.all(secrets.map((s) => f.putValue(s)));
  await Promise.all(rotated.map((s) => f.ctx.aws.sendServiceEvent('RotationSucceeded', s)));
  ledger.sent(SECRETS);
  progress(S, `${SECRETS} RotationSucceeded events sent at once`);

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    timeoutMs: 120_000,
    notes: () => `${realism.counts.throttled.length - throttledBefore} calls throttled after the burst (${realism.counts.throttled.filter((t) => t.endsWith('DescribeSecret')).length} DescribeSecret, ${realism.counts.throttled.filter((t) => t.endsWith('ListSecrets')).length} ListSecrets in all)`,
  });
  const inPlay = realism.counts.throttled.length > throttledBefore;
  expect(inPlay ? result.problems : ['no call was throttled after the burst: the fault was not in play', ...result.problems]).toEqual([]);
});
