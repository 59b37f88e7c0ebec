/**
 * Scenario 9: leader hand-off in the middle of a fan-out. Two replicas as the chart
 * runs them; one mapping selects 200 Deployments; the API server answers with
 * LATENCY_MS of latency (a remote control plane, through support/hangProxy.ts) and
 * the leader restarts one workload at a time, so the fan-out outlasts the lease
 * duration. The leader gets SIGTERM once it has restarted some but not all of them.
 * At no instant may both replicas patch: the follower takes over, and every
 * Deployment rolls exactly once (0 doubled, 0 lost); the old leader exits 0 within
 * the grace period.
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { FaultFile, countLogs, outputDrained, patchedMoreThanOnce } from './support/fixture';
import { progress } from './support/progress';
import { startHangProxy, type HangProxy } from './support/hangProxy';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import type { OperatorProcess } from '../support/operator';
import { waitFor } from '../support/wait';

const S = '9 leader hand-off mid fan-out (200 Deployments)';
const WORKLOADS = 200;
/** SIGTERM once the leader printed this many restarts. */
const TERM_AFTER = 20;
const LATENCY_MS = 50;
jest.setTimeout(900_000);

let proxy: HangProxy | undefined;
const f = FaultFile.forThisFile(S, () => proxy?.close());

const isLeader = async (op: OperatorProcess) => (await op.metric(`${METRIC_PREFIX}leader`)) === 1;

test('SIGTERM to the leader mid fan-out: the follower takes over, every workload rolled exactly once', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('handoff');
  const r = await f.install('handoff', ['--set', 'maxConcurrentRestarts=1']);
  const dep = (await f.ctx.kube.apps.readNamespacedDeployment(r.deploymentName, r.namespace)).body;
  const graceMs = (dep.spec!.template.spec!.terminationGracePeriodSeconds ?? 30) * 1000;
  const secret = await f.createSecret('handoff');
  const names = await f.deployments(ns, 'app', WORKLOADS, () => ({ app: 'handoff' }), { replicas: 0 });
  await f.mapping(ns, 'm', secret, { app: 'handoff' });
  ledger.track(ns, names, [secret], true, 0);
  await f.waitRunning(ns, names, 0);
  proxy = await startHangProxy(f.ctx.kube.kc.getCurrentCluster()!.server, { latencyMs: LATENCY_MS });

  const a = await f.start(r, { POD_NAME: `${r.deploymentName}-a` }, { server: proxy.url });
  rss.track(a);
  await waitFor('replica a leads', () => isLeader(a), { timeoutMs: 60_000 });
  await f.waitMappingsReady(ns, ['m']);
  const b = await f.start(r, { POD_NAME: `${r.deploymentName}-b` }, { server: proxy.url });
  rss.track(b);

  f.endedOnPurpose(a);
  let restartsAtTerm = 0;
  const termAt = new Promise<number>((resolve) => {
    const check = () => {
      restartsAtTerm = countLogs(a, 'workload restarted');
      if (restartsAtTerm < TERM_AFTER) return;
      a.child.stdout!.off('data', check);
      a.child.kill('SIGTERM');
      resolve(Date.now());
    };
    a.child.stdout!.on('data', check);
  });
  await f.rotate(secret);
  ledger.sent();
  const sentAt = await termAt;
  progress(S, `SIGTERM to leader a after ${restartsAtTerm} of ${WORKLOADS} restarts`);
  await waitFor('leader a exits after SIGTERM', () => !a.alive, { timeoutMs: graceMs + 30_000, intervalMs: 100 });
  const exitMs = Date.now() - sentAt;
  await outputDrained(a);
  const byA = countLogs(a, 'workload restarted');
  progress(S, `a exited ${a.exitCode ?? a.signal} ${exitMs} ms after SIGTERM (grace ${graceMs} ms) with ${byA} restart(s); b leads: ${await isLeader(b)}`);
  await waitFor('replica b leads', () => b.logs.some((l) => l.message === 'became leader'), { timeoutMs: 60_000, intervalMs: 100 });

  const problems = [
    // Whether the old leader then finishes the fan-out or leaves it to the follower is its choice; the signal must land mid-way.
    ...(restartsAtTerm < WORKLOADS ? [] : ['the SIGTERM came after the whole fan-out: inconclusive']),
    ...(a.exitCode === 0 ? [] : [`a exited with ${a.exitCode ?? a.signal} after SIGTERM, expected 0`]),
    ...(exitMs < graceMs ? [] : [`a took ${exitMs} ms to exit, more than the ${graceMs} ms grace period`]),
  ];

  const result = await ledger.check({
    alive: [b],
    rss,
    secretValues: f.secretValues,
    problems,
    afterSettled: () => patchedMoreThanOnce(f.ctx, ns, names),
    timeoutMs: 240_000,
    notes: () => `SIGTERM after ${restartsAtTerm}/${WORKLOADS}; a restarted ${byA} and exited ${(exitMs / 1000).toFixed(1)} s after SIGTERM; b restarted ${countLogs(b, 'workload restarted')} (skipped ${countLogs(b, 'workload skipped')}); API latency ${LATENCY_MS} ms`,
  });
  expect(result.problems).toEqual([]);
});
