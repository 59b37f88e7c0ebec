/**
 * Scenario 16 (issue 25): SIGTERM to the leader mid-rollout. One secret reaches 30
 * Deployments, paced five at a time (support/pacedRollout.ts). Once the message was
 * acknowledged and the rollout recorded, and the loop is between waves (some stamped,
 * some pending), the only replica gets SIGTERM: it exits 0 within the grace period. A
 * new one (the restarted pod) resumes from status.rollout alone, the message being gone:
 * every Deployment restarted exactly once, the rollout Complete 30/30.
 */
import { FaultFile, countLogs, outputDrained } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { PACED_VALUES, WAVE, WORKLOADS, pacedFleet, rolloutFinished, stampedOf, waitMidRollout } from './support/pacedRollout';
import { waitFor } from '../support/wait';

const S = '16 SIGTERM of the leader mid-rollout';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('SIGTERM to the leader between waves: exit 0, the next operator resumes the recorded rollout, each workload once', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const r = await f.install('rollterm', [...PACED_VALUES]);
  const dep = (await f.ctx.kube.apps.readNamespacedDeployment(r.deploymentName, r.namespace)).body;
  const graceMs = (dep.spec!.template.spec!.terminationGracePeriodSeconds ?? 30) * 1000;
  const fleet = await pacedFleet(f, ledger, 'rollterm');

  const first = await f.start(r);
  rss.track(first);
  await f.waitMappingsReady(fleet.ns, ['m']);
  f.endedOnPurpose(first);
  const next = await f.rotate(fleet.secret);
  ledger.sent();
  // Past the first wave (the rotation's own), so the loop has stamped some and more wait.
  const at = await waitMidRollout(f, fleet.ns, next.version, 'the loop between waves', (x) => {
    const { stamped, pending } = stampedOf(x);
    return stamped > WAVE && pending > 0;
  });
  const sentAt = Date.now();
  first.child.kill('SIGTERM');
  progress(S, `SIGTERM with the rollout at ${at.states} (${at.summary})`);
  await waitFor('operator exit after SIGTERM', () => !first.alive, { timeoutMs: graceMs + 10_000, intervalMs: 50 });
  const exitMs = Date.now() - sentAt;
  await outputDrained(first);
  const byFirst = countLogs(first, 'workload restarted');

  const problems = [
    ...(first.exitCode === 0 ? [] : [`exit ${first.exitCode ?? first.signal} after SIGTERM, expected 0`]),
    ...(exitMs < graceMs ? [] : [`exit took ${exitMs} ms, more than the ${graceMs} ms grace period`]),
    // The signal really came in the middle of the rollout.
    ...(byFirst < WORKLOADS ? [] : ['the stopped operator restarted every workload: inconclusive']),
  ];

  const second = await f.start(r);
  rss.track(second);
  const result = await ledger.check({
    alive: [second],
    rss,
    secretValues: f.secretValues,
    problems,
    afterSettled: () => rolloutFinished(f, fleet),
    notes: () => `SIGTERM at ${at.states}; exit ${first.exitCode ?? first.signal} ${(exitMs / 1000).toFixed(1)} s after (grace ${graceMs / 1000} s); ${byFirst}/${WORKLOADS} by the stopped operator, ${countLogs(second, 'workload restarted')} by the next`,
  });
  expect(result.problems).toEqual([]);
});
