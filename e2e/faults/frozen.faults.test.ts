/**
 * Scenario 10: the leader freezes (SIGSTOP: a stopped VM, a long GC pause, a
 * throttled container) in the middle of a fan-out of 60 restarts, for longer than the
 * lease duration. The follower takes over and finishes the work; only then does the
 * old leader wake up (SIGCONT). It must not patch anything after waking: its lease
 * expired while it slept, and at no instant may two replicas both patch. Checked on
 * the cluster's records (no workload rolled twice) and on the old leader's own
 * 'workload restarted' lines stamped after the wake-up.
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { FaultFile, countLogs, onLog, patchedMoreThanOnce } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import type { LogLine, OperatorProcess } from '../support/operator';
import { SECRET_VERSIONS_ANNOTATION, parseAppliedVersions } from '../../operator/src/workloads/workload';
import { canonicalSecretKey, resolvedSecretRef } from '../../operator/src/secrets/secretId';
import { waitFor } from '../support/wait';

const S = '10 leader frozen (SIGSTOP) past the lease, then woken';
const WORKLOADS = 60;
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

const isLeader = async (op: OperatorProcess) => (await op.metric(`${METRIC_PREFIX}leader`)) === 1;
const at = (l: LogLine) => Date.parse(String(l.timestamp));

test('a leader frozen past its lease makes no patch after waking; the follower finishes, nothing doubled', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('frozen');
  const r = await f.install('frozen', ['--set', 'maxConcurrentRestarts=1']);
  const leaseMs = Number(r.env.LEASE_DURATION_SECONDS) * 1000;
  const retryMs = Number(r.env.LEASE_RETRY_PERIOD_SECONDS) * 1000;
  const secret = await f.createSecret('frozen');
  const names = await f.deployments(ns, 'app', WORKLOADS, () => ({ app: 'frozen' }), { replicas: 0 });
  await f.mapping(ns, 'm', secret, { app: 'frozen' });
  ledger.track(ns, names, [secret], true, 0);
  await f.waitRunning(ns, names, 0);

  const a = await f.start(r, { POD_NAME: `${r.deploymentName}-a` });
  rss.track(a);
  await waitFor('replica a leads', () => isLeader(a), { timeoutMs: 60_000 });
  await f.waitMappingsReady(ns, ['m']);
  const b = await f.start(r, { POD_NAME: `${r.deploymentName}-b` });
  rss.track(b);

  let continued = false;
  const pid = a.child.pid!;
  // Never leave a stopped process behind, whatever fails below.
  const wake = () => {
    if (!continued && a.alive) process.kill(pid, 'SIGCONT');
    continued = true;
  };
  try {
    const stoppedAt = new Promise<number>((resolve) =>
      onLog(a, 'workload restarted', () => {
        process.kill(pid, 'SIGSTOP');
        resolve(Date.now());
      }),
    );
    const next = await f.rotate(secret);
    ledger.sent();
    const stopAt = await stoppedAt;
    progress(S, `leader a frozen (SIGSTOP) after its first restart of ${WORKLOADS}`);

    await waitFor('replica b leads', () => b.logs.find((l) => l.message === 'became leader'), { timeoutMs: leaseMs + retryMs + 60_000, intervalMs: 100 });
    const takeoverMs = at(b.logs.find((l) => l.message === 'became leader')!) - stopAt;
    const key = canonicalSecretKey(resolvedSecretRef(next.arn, next.name));
    await waitFor(
      'every Deployment stamped with the new version and seen by its controller',
      async () => {
        const deps = (await f.ctx.kube.apps.listNamespacedDeployment(ns)).body.items;
        return deps.every((d) => parseAppliedVersions(d.spec?.template.metadata?.annotations)[key] === next.version && d.status?.observedGeneration === d.metadata?.generation);
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const frozenMs = Date.now() - stopAt;
    const contAt = Date.now();
    wake();
    progress(S, `b took over ${takeoverMs} ms after the freeze and finished; a woken (SIGCONT) after ${frozenMs} ms frozen`);
    await waitFor('a says it stopped leading (or exits)', () => !a.alive || a.logs.some((l) => l.message === 'stopped leading' && at(l) >= contAt), { timeoutMs: 60_000, intervalMs: 100 });

    const result = await ledger.check({
      alive: [b],
      rss,
      secretValues: f.secretValues,
      afterSettled: async () => [...(await afterWake(ns, a, contAt, JSON.stringify({ [key]: next.version }))), ...(await patchedMoreThanOnce(f.ctx, ns, names))],
      notes: () =>
        `frozen ${(frozenMs / 1000).toFixed(0)} s (lease ${leaseMs / 1000} s); b took over ${(takeoverMs / 1000).toFixed(1)} s after the freeze; a restarted ${countLogs(a, 'workload restarted')} (${countLogs(a, 'workload restarted') - a.logs.filter((l) => l.message === 'workload restarted' && at(l) >= contAt).length} before the freeze), b ${countLogs(b, 'workload restarted')}`,
    });
    expect(result.problems).toEqual([]);
  } finally {
    wake();
  }
});

/**
 * The old leader's 'workload restarted' lines stamped after the wake-up. One is only
 * excused when it reports a patch the API server applied before the freeze (its answer
 * read after waking): the workload then has a single rollout for the new version,
 * created before the wake-up.
 */
async function afterWake(ns: string, a: OperatorProcess, contAt: number, versions: string): Promise<string[]> {
  const late = a.logs.filter((l) => l.message === 'workload restarted' && at(l) >= contAt);
  if (late.length === 0) return [];
  const rss = (await f.ctx.kube.apps.listNamespacedReplicaSet(ns)).body.items;
  const patchedAfterWake = late.filter((l) => {
    const name = String(l.workload).split('/').pop();
    const mine = rss.filter((x) => x.metadata?.labels?.['workload-name'] === name && x.spec?.template?.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION] === versions);
    return !(mine.length === 1 && Date.parse(String(mine[0].metadata?.creationTimestamp)) < Math.floor(contAt / 1000) * 1000);
  });
  return patchedAfterWake.length === 0
    ? []
    : [`the old leader restarted ${patchedAfterWake.length} workload(s) after waking: ${patchedAfterWake.slice(0, 5).map((l) => `${String(l.workload)} at ${String(l.timestamp)}`).join(', ')}${patchedAfterWake.length > 5 ? ', ...' : ''}`];
}
