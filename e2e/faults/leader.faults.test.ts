/**
 * Scenario 4: two replicas as the chart runs them (distinct POD_NAME, leader
 * election on, one Lease). The follower is ready but idle; the leader is killed
 * with -9 in the middle of a stream of rotations. The follower must take over within
 * the lease duration plus one retry period (measured from the kill to its "became
 * leader" line), and the stream must end with every workload on its new version,
 * each rolled once.
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { FaultFile, countLogs } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import type { OperatorProcess } from '../support/operator';
import { waitFor } from '../support/wait';

const S = '4 leader kill -9, follower takes over';
const STREAM = 20;
const KILL_AFTER = 8;
/** Pace of the stream of rotations (the injected load, not a synchronisation). */
const STREAM_INTERVAL_MS = 400;
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

const isLeader = async (op: OperatorProcess) => (await op.metric(`${METRIC_PREFIX}leader`)) === 1;
const logTime = (op: OperatorProcess, message: string) => {
  const l = op.logs.find((x) => x.message === message);
  return l ? Date.parse(String(l.timestamp)) : undefined;
};

test('the follower takes over a killed leader within lease duration + retry period; nothing lost or doubled', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('ha');
  const r = await f.install('ha');
  const leaseMs = Number(r.env.LEASE_DURATION_SECONDS) * 1000;
  const retryMs = Number(r.env.LEASE_RETRY_PERIOD_SECONDS) * 1000;
  const secrets = await Promise.all(Array.from({ length: STREAM }, (_, i) => f.createSecret(`ha-${i}`)));
  const names = await f.deployments(ns, 'app', STREAM, (i) => ({ idx: String(i) }));
  for (const [i, s] of secrets.entries()) {
    await f.mapping(ns, `m${i}`, s, { idx: String(i) });
    ledger.track(ns, [names[i]], [s], true);
  }
  await f.waitRunning(ns, names);

  const a = await f.start(r, { POD_NAME: `${r.deploymentName}-a` });
  rss.track(a);
  await waitFor('replica a leads', () => isLeader(a), { timeoutMs: 60_000 });
  await f.waitMappingsReady(ns, names.map((_, i) => `m${i}`));
  const b = await f.start(r, { POD_NAME: `${r.deploymentName}-b` });
  rss.track(b);

  let killedAt = 0;
  let bIdle = '';
  const problems: string[] = [];
  for (let i = 0; i < STREAM; i++) {
    if (i === KILL_AFTER) {
      await waitFor('the leader restarted something', () => countLogs(a, 'workload restarted') > 0, { timeoutMs: 30_000, intervalMs: 50 });
      // The follower: ready, not leading, and it never received a message.
      const readyz = await b.get('/readyz');
      const receives = await b.metric(`${METRIC_PREFIX}sqs_receive_calls_total`);
      const received = await b.metric(`${METRIC_PREFIX}messages_received_total`);
      bIdle = `follower before the kill: /readyz ${readyz.status} "${readyz.body.trim()}", leader=${await b.metric(`${METRIC_PREFIX}leader`)}, receive calls ${receives}, messages ${received}`;
      progress(S, bIdle);
      if (readyz.status !== 200 || (await isLeader(b)) || receives !== 0 || received !== 0) problems.push(`the follower was not ready and idle: ${bIdle}`);
      killedAt = Date.now();
      await a.kill9();
      progress(S, `leader a killed (-9) after ${countLogs(a, 'workload restarted')} restart(s); stream continues`);
    }
    await f.rotate(secrets[i]);
    ledger.sent();
    await new Promise((res) => setTimeout(res, STREAM_INTERVAL_MS));
  }

  await waitFor('replica b leads', () => logTime(b, 'became leader'), { timeoutMs: leaseMs + retryMs + 30_000, intervalMs: 100 });
  const takeoverMs = logTime(b, 'became leader')! - killedAt;
  const boundMs = leaseMs + retryMs;
  progress(S, `takeover ${takeoverMs} ms after the kill (bound: lease ${leaseMs} ms + retry ${retryMs} ms = ${boundMs} ms)`);
  if (takeoverMs > boundMs) problems.push(`takeover took ${takeoverMs} ms, more than lease duration + retry period (${boundMs} ms)`);

  const result = await ledger.check({
    alive: [b],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `takeover ${(takeoverMs / 1000).toFixed(1)} s (bound ${boundMs / 1000} s); a restarted ${countLogs(a, 'workload restarted')}, b ${countLogs(b, 'workload restarted')}`,
  });
  expect(result.problems).toEqual([]);
});
