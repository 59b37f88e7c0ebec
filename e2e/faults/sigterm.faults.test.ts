/**
 * Scenario 6: SIGTERM (what the kubelet sends on a rollout, drain or scale-down) in
 * the middle of a batch of 30 restarts. The in-flight message must either finish
 * (restarts done, message deleted), or be deleted once the mapping's rollout records
 * every one of the 30 for the new version (docs/rollouts.md: the intent is durable, the
 * rollout's loop restarts the rest), or go back to the queue, and the process must
 * exit with code 0 within the chart's terminationGracePeriodSeconds. A second
 * operator then finds nothing lost and nothing doubled. Also: SIGTERM while idle in
 * a long poll exits as promptly.
 */
import { FaultFile, countLogs, onLog, outputDrained } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { waitFor } from '../support/wait';

const S = '6 SIGTERM mid-batch';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('SIGTERM during a batch: in-flight work finishes or returns to the queue, exit 0 within the grace period', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('sigterm');
  const r = await f.install('sigterm', ['--set', 'maxConcurrentRestarts=1']);
  const dep = (await f.ctx.kube.apps.readNamespacedDeployment(r.deploymentName, r.namespace)).body;
  const graceMs = (dep.spec!.template.spec!.terminationGracePeriodSeconds ?? 30) * 1000;
  const secret = await f.createSecret('sigterm');
  const names = await f.deployments(ns, 'app', 30, () => ({ app: 'sigterm' }));
  await f.mapping(ns, 'm', secret, { app: 'sigterm' });
  ledger.track(ns, names, [secret], true);
  await f.waitRunning(ns, names);

  const first = await f.start(r);
  rss.track(first);
  await f.waitMappingsReady(ns, ['m']);

  f.endedOnPurpose(first);
  const termAt = new Promise<number>((resolve) =>
    onLog(first, 'workload restarted', (at) => {
      first.child.kill('SIGTERM');
      resolve(at);
    }),
  );
  const next = await f.rotate(secret);
  ledger.sent();
  const sentAt = await termAt;
  progress(S, 'SIGTERM sent at the first restart of 30');
  await waitFor('operator exit after SIGTERM', () => !first.alive, { timeoutMs: graceMs + 10_000, intervalMs: 50 });
  const exitMs = Date.now() - sentAt;
  await outputDrained(first);

  const shutdownAt = first.logs.findIndex((l) => l.message.startsWith('shutting down'));
  const handledAt = first.logs.findIndex((l) => l.message === 'rotation handled');
  const restartedByFirst = countLogs(first, 'workload restarted');
  const depth = await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL);
  const rollout = (await f.ctx.kube.mapping(ns, 'm')).status?.rollout as { versions?: Record<string, string>; workloads?: string[] } | undefined;
  const recorded = Object.values(rollout?.versions ?? {}).includes(next.version) && [...(rollout?.workloads ?? [])].sort().join() === names.map((n) => `Deployment/${n}`).sort().join();
  const outcome =
    restartedByFirst === 30 && handledAt >= 0 && depth.total === 0 ? 'finished' : depth.total === 0 && recorded ? 'recorded in the rollout' : depth.total === 1 ? 'returned to the queue' : 'neither';
  progress(S, `exit ${first.exitCode ?? first.signal} after ${exitMs} ms (grace ${graceMs} ms); ${restartedByFirst}/30 restarted by it; in-flight message ${outcome}`);

  const problems = [
    ...(first.exitCode === 0 ? [] : [`exit ${first.exitCode ?? first.signal} after SIGTERM, expected 0`]),
    ...(exitMs < graceMs ? [] : [`exit took ${exitMs} ms, more than the ${graceMs} ms grace period`]),
    // The signal really came in the middle of the batch.
    ...(shutdownAt >= 0 && (handledAt === -1 || shutdownAt < handledAt) ? [] : ['SIGTERM was not handled during the batch: inconclusive']),
    ...(outcome !== 'neither' ? [] : [`in-flight message neither finished, recorded nor returned: ${restartedByFirst}/30 restarted, queue ${JSON.stringify(depth)}, rollout ${JSON.stringify(rollout ?? null)}`]),
  ];

  const second = await f.start(r);
  rss.track(second);
  const result = await ledger.check({
    alive: [second],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: `exit ${first.exitCode ?? first.signal} ${(exitMs / 1000).toFixed(1)} s after SIGTERM (grace ${graceMs / 1000} s); in-flight message ${outcome}; ${restartedByFirst}/30 by the stopped operator`,
  });
  expect(result.problems).toEqual([]);

  // Idle in a long poll: SIGTERM lets the poll answer (aborting it could strand a
  // message SQS had just handed it, invisible for the visibility timeout), releases
  // anything it returns, and exits 0 well within the grace period.
  const pollMs = Number(r.env.SQS_WAIT_TIME_SECONDS) * 1000;
  const t0 = Date.now();
  expect(await second.stop(graceMs)).toBe(0);
  const idleExitMs = Date.now() - t0;
  progress(S, `idle operator: exit 0 ${idleExitMs} ms after SIGTERM (long poll ${pollMs} ms)`);
  expect(idleExitMs).toBeLessThan(pollMs + 5_000);
  expect(idleExitMs).toBeLessThan(graceMs);
});
