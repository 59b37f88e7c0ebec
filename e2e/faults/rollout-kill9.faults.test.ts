/**
 * Scenario 17 (issue 25): `kill -9` of the leader mid-rollout. One secret reaches 30
 * Deployments, paced five at a time (support/pacedRollout.ts). Once the message was
 * acknowledged and the rollout recorded, and the loop is between waves (some stamped,
 * some pending), the only replica is killed: no shutdown, nothing released. Started again
 * (same pod name, as a restarted container), it has no message to redeliver and resumes
 * from status.rollout alone: every Deployment restarted exactly once, Complete 30/30.
 */
import { FaultFile, countLogs, outputDrained } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { PACED_VALUES, WAVE, WORKLOADS, pacedFleet, rolloutFinished, stampedOf, waitMidRollout } from './support/pacedRollout';

const S = '17 kill -9 of the leader mid-rollout';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('kill -9 of the leader between waves: started again, it resumes the recorded rollout, each workload once', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const r = await f.install('rollkill', [...PACED_VALUES]);
  const fleet = await pacedFleet(f, ledger, 'rollkill');

  const first = await f.start(r);
  rss.track(first);
  await f.waitMappingsReady(fleet.ns, ['m']);
  const next = await f.rotate(fleet.secret);
  ledger.sent();
  const at = await waitMidRollout(f, fleet.ns, next.version, 'the loop between waves', (x) => {
    const { stamped, pending } = stampedOf(x);
    return stamped > WAVE && pending > 0;
  });
  await first.kill9();
  await outputDrained(first);
  const byFirst = countLogs(first, 'workload restarted');
  progress(S, `killed (${first.signal}) with the rollout at ${at.states} (${at.summary}), after ${byFirst} restart(s)`);
  const problems = [
    ...(first.signal === 'SIGKILL' ? [] : [`the first operator ended with ${first.exitCode ?? first.signal}, not SIGKILL`]),
    ...(byFirst < WORKLOADS ? [] : ['the killed operator restarted every workload: inconclusive']),
  ];

  const second = await f.start(r);
  rss.track(second);
  const result = await ledger.check({
    alive: [second],
    rss,
    secretValues: f.secretValues,
    problems,
    afterSettled: () => rolloutFinished(f, fleet),
    notes: () => `killed at ${at.states}; ${byFirst}/${WORKLOADS} by the killed operator, ${countLogs(second, 'workload restarted')} by the next (skipped ${countLogs(second, 'workload skipped')})`,
  });
  expect(result.problems).toEqual([]);
});
