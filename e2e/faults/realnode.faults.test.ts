/**
 * Scenarios 1 (kill -9 mid-batch), 6 (SIGTERM mid-batch) and 4 (leader failover)
 * again, with the operator as users run it: pods on the real node from its image,
 * installed by helm. The faults are the ones a cluster deals out: the container's
 * process killed with -9 (the kubelet restarts the container), the pod deleted
 * (SIGTERM, grace period, a new pod), and the leader killed outright (kill -9 of its
 * container, then its pod deleted so the same identity does not come back). The same ledger settles each: every workload rolled exactly
 * once onto its AWSCURRENT version, nothing left in the queues, no value leaked.
 */
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { InClusterOperator } from './support/incluster';
import { Ledger } from './support/ledger';
import { describeOnRealNode } from '../support/realnode';
import { waitFor } from '../support/wait';

jest.setTimeout(900_000);

const S = 'real node';
const operators: InClusterOperator[] = [];
const f = FaultFile.forThisFile(S, async () => {
  for (const op of operators.splice(0)) await op.uninstall();
});

/**
 * One operator pod (one restart at a time), 30 Deployments in three groups, their
 * three secrets rotated; resolves once the first restart is logged: the batch is underway.
 */
async function batchUnderway(sc: string, name: string): Promise<{ ledger: Ledger; op: InClusterOperator; pod: string }> {
  const ledger = new Ledger(f.ctx, sc);
  const ns = await f.namespace(`${name}-wl`);
  const op = await InClusterOperator.install(f.ctx, sc, name, ['--set', 'replicaCount=1', '--set', 'maxConcurrentRestarts=1']);
  operators.push(op);
  const [pod] = await op.waitReady(1);
  const { secrets, mappings } = await f.groups(ledger, ns, name, 3, 30);
  await f.waitMappingsReady(ns, mappings);
  for (const s of secrets) {
    await f.rotate(s);
    ledger.sent();
  }
  await waitFor('the first workload restarted', async () => (await op.count('workload restarted')) > 0, { timeoutMs: 60_000, intervalMs: 100 });
  return { ledger, op, pod };
}

describeOnRealNode(f.ctx.env, 'fault scenarios with the operator as pods on the real node', () => {
  test('1 kill -9 of the operator container mid-batch: the restarted container finishes it, nothing lost or doubled', async () => {
    const sc = 'R1 kill -9 container mid-batch (real node)';
    const { ledger, op, pod } = await batchUnderway(sc, 'rnkill');
    const pid = await op.kill9(pod);
    const doneBeforeKill = await op.count('workload restarted');
    progress(sc, `kill -9 of pid ${pid} (container of ${pod}) after ${doneBeforeKill} of 30 restarts`);
    await waitFor('the kubelet to restart the container', async () => (await op.lastTermination(pod)).restarts > 0, { timeoutMs: 60_000 });
    await op.waitReady(1);
    const term = await op.lastTermination(pod);
    const problems = [
      ...(term.exitCode === 137 ? [] : [`the container ended with exit code ${term.exitCode}, not 137 (SIGKILL)`]),
      ...(doneBeforeKill < 30 ? [] : ['the kill came after the whole batch: inconclusive']),
    ];
    const result = await ledger.check({ secretValues: f.secretValues, problems, notes: () => `killed after ${doneBeforeKill}/30 restarts; container restarted by the kubelet` });
    expect([...result.problems, ...(await op.leaks(f.secretValues))]).toEqual([]);
  });

  test('6 the operator pod deleted mid-batch (SIGTERM): its replacement finishes the batch, nothing lost or doubled', async () => {
    const sc = 'R6 pod deleted mid-batch (real node)';
    const { ledger, op, pod } = await batchUnderway(sc, 'rnterm');
    const doneBeforeDelete = await op.count('workload restarted');
    await f.ctx.kube.core.deleteNamespacedPod(pod, op.release.namespace);
    progress(sc, `deleted pod ${pod} (SIGTERM) after ${doneBeforeDelete} of 30 restarts`);
    const [replacement] = await op.waitReady(1);
    const problems = [
      ...(replacement !== pod ? [] : ['the pod was not replaced']),
      ...(doneBeforeDelete < 30 ? [] : ['the delete came after the whole batch: inconclusive']),
    ];
    const result = await ledger.check({ secretValues: f.secretValues, problems, notes: () => `pod deleted after ${doneBeforeDelete}/30 restarts; replaced by ${replacement}` });
    expect([...result.problems, ...(await op.leaks(f.secretValues))]).toEqual([]);
  });

  test('4 the leader pod killed outright: the follower takes over within lease duration + retry period, nothing lost or doubled', async () => {
    const sc = 'R4 leader pod killed, follower takes over (real node)';
    const STREAM = 20;
    const KILL_AFTER = 8;
    /** Pace of the stream of rotations (the injected load, not a synchronisation). */
    const STREAM_INTERVAL_MS = 400;
    const ledger = new Ledger(f.ctx, sc);
    const ns = await f.namespace('rn-ha');
    const op = await InClusterOperator.install(f.ctx, sc, 'rnha', ['--set', 'replicaCount=2']);
    operators.push(op);
    await op.waitReady(2);
    const leaseMs = 15_000;
    const retryMs = 2_000;
    const secrets = await Promise.all(Array.from({ length: STREAM }, (_, i) => f.createSecret(`rnha-${i}`)));
    const names = await f.deployments(ns, 'app', STREAM, (i) => ({ idx: String(i) }));
    for (const [i, s] of secrets.entries()) {
      await f.mapping(ns, `m${i}`, s, { idx: String(i) });
      ledger.track(ns, [names[i]], [s], true);
    }
    await f.waitRunning(ns, names);
    await f.waitMappingsReady(ns, names.map((_, i) => `m${i}`));
    const leader = await waitFor('a leader', () => op.leader(), { timeoutMs: 60_000 });

    let killedAt = 0;
    for (let i = 0; i < STREAM; i++) {
      if (i === KILL_AFTER) {
        await waitFor('the leader restarted something', async () => (await op.count('workload restarted')) > 0, { timeoutMs: 30_000, intervalMs: 100 });
        // kill -9 (no chance to release the Lease), then the pod deleted so that the
        // kubelet does not bring the same identity back: the follower must take over.
        killedAt = Date.now();
        const pid = await op.kill9(leader);
        await f.ctx.kube.core.deleteNamespacedPod(leader, op.release.namespace, undefined, undefined, 0);
        progress(sc, `leader ${leader}: kill -9 of pid ${pid}, pod deleted; stream continues`);
      }
      await f.rotate(secrets[i]);
      ledger.sent();
      await new Promise((res) => setTimeout(res, STREAM_INTERVAL_MS));
    }
    const taken = await waitFor('another pod to lead', async () => {
      const l = await op.lease();
      return l && l.holder !== leader ? l : undefined;
    }, { timeoutMs: leaseMs + retryMs + 30_000, intervalMs: 100 });
    const next = taken.holder;
    // From the Lease's own record (acquireTime, microseconds), not from when the test looked.
    const takeoverMs = taken.acquiredAt - killedAt;
    const boundMs = leaseMs + retryMs;
    progress(sc, `${next} leads ${takeoverMs} ms after the kill (bound ${boundMs} ms)`);
    const problems = takeoverMs > boundMs ? [`takeover took ${takeoverMs} ms, more than lease duration + retry period (${boundMs} ms)`] : [];
    const result = await ledger.check({ secretValues: f.secretValues, problems, notes: () => `takeover ~${(takeoverMs / 1000).toFixed(1)} s by ${next} (bound ${boundMs / 1000} s)` });
    expect([...result.problems, ...(await op.leaks(f.secretValues))]).toEqual([]);
  });
});
