/**
 * Scenario 18 (issue 25): leader hand-off between two waves of a rollout. Two replicas as
 * the chart runs them; one secret reaches 30 Deployments, paced five at a time
 * (support/pacedRollout.ts). Once the first wave is stamped and before the second, the
 * leader stops leading: it freezes (SIGSTOP) past its lease, so it neither renews nor
 * releases it. The follower takes over and carries the rollout on from status.rollout;
 * the old leader is woken while the rollout still runs, with the first wave's view in its
 * memory, and must stamp nothing. Every Deployment restarted exactly once, Complete 30/30.
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { FaultFile, countLogs } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { PACED_VALUES, WAVE, pacedFleet, rolloutFinished, rolloutOf, stampedOf, waitMidRollout } from './support/pacedRollout';
import type { LogLine, OperatorProcess } from '../support/operator';
import { waitFor } from '../support/wait';

const S = '18 leader hand-off between rollout waves';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

const isLeader = async (op: OperatorProcess) => (await op.metric(`${METRIC_PREFIX}leader`)) === 1;
const at = (l: LogLine) => Date.parse(String(l.timestamp));

test('the leader stops leading after the first wave: the follower rolls the rest, the old leader stamps nothing more, each workload once', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const r = await f.install('rollhand', [...PACED_VALUES]);
  const leaseMs = Number(r.env.LEASE_DURATION_SECONDS) * 1000;
  const retryMs = Number(r.env.LEASE_RETRY_PERIOD_SECONDS) * 1000;
  const fleet = await pacedFleet(f, ledger, 'rollhand');

  const a = await f.start(r, { POD_NAME: `${r.deploymentName}-a` });
  rss.track(a);
  await waitFor('replica a leads', () => isLeader(a), { timeoutMs: 60_000 });
  await f.waitMappingsReady(fleet.ns, ['m']);
  const b = await f.start(r, { POD_NAME: `${r.deploymentName}-b` });
  rss.track(b);

  const pid = a.child.pid!;
  let continued = false;
  // Never leave a stopped process behind, whatever fails below.
  const wake = () => {
    if (!continued && a.alive) process.kill(pid, 'SIGCONT');
    continued = true;
  };
  try {
    const next = await f.rotate(fleet.secret);
    ledger.sent();
    // The first wave stamped (by the rotation), nothing of the second yet.
    const between = await waitMidRollout(f, fleet.ns, next.version, 'the first wave stamped and no other', (x) => {
      const states = x.states ?? '';
      return !states.slice(0, WAVE).includes('p') && /^p+$/.test(states.slice(WAVE));
    });
    process.kill(pid, 'SIGSTOP');
    const stopAt = Date.now();
    const byAFrozen = countLogs(a, 'workload restarted');
    progress(S, `leader a frozen (SIGSTOP) with the rollout at ${between.states}, after ${byAFrozen} restart(s)`);

    const became = await waitFor('replica b leads', () => b.logs.find((l) => l.message === 'became leader'), { timeoutMs: leaseMs + retryMs + 60_000, intervalMs: 100 });
    const takeoverMs = at(became) - stopAt;
    // Wake a while b is still rolling: a's memory says the first wave is rolling and the rest wait.
    const problems: string[] = [];
    await waitFor('b stamps the second wave', () => countLogs(b, 'workload restarted') >= WAVE, { timeoutMs: 60_000, intervalMs: 100 }).catch((err: Error) => problems.push(err.message));
    const contAt = Date.now();
    wake();
    const woken = stampedOf(await rolloutOf(f, fleet.ns));
    progress(S, `b took over ${takeoverMs} ms after the freeze; a woken (SIGCONT) with ${woken.pending} workload(s) still pending`);
    await waitFor('a says it stopped leading (or exits)', () => !a.alive || a.logs.some((l) => l.message === 'stopped leading' && at(l) >= contAt), { timeoutMs: 60_000, intervalMs: 100 });

    if (byAFrozen !== WAVE) problems.push(`a restarted ${byAFrozen} workload(s) before it stopped leading, not the first wave of ${WAVE}: inconclusive`);
    if (woken.pending === 0) problems.push('the rollout had nothing left when a woke: inconclusive');
    const result = await ledger.check({
      alive: [b],
      rss,
      secretValues: f.secretValues,
      problems,
      afterSettled: async () => {
        const late = a.logs.filter((l) => l.message === 'workload restarted' && at(l) >= contAt);
        return [...(late.length === 0 ? [] : [`the old leader restarted ${late.length} workload(s) after waking: ${late.slice(0, 5).map((l) => String(l.workload)).join(', ')}`]), ...(await rolloutFinished(f, fleet))];
      },
      notes: () => `a frozen at ${between.states} after ${byAFrozen} restarts; b took over ${(takeoverMs / 1000).toFixed(1)} s later (lease ${leaseMs / 1000} s) and restarted ${countLogs(b, 'workload restarted')}; a restarted ${countLogs(a, 'workload restarted') - byAFrozen} after waking`,
    });
    expect(result.problems).toEqual([]);
  } finally {
    wake();
  }
});
