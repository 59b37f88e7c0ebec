/**
 * Scenario 13: a paused Deployment (`kubectl rollout pause`) beside a running one,
 * both selected by one mapping; the secret rotates. The paused one's pod template
 * must be stamped with the new version while its pods stay as they are (paused), the
 * status must report it Deferred (Paused) and count it in the deferred metric, and the
 * message must be deleted. After `kubectl rollout resume` its pods roll to the new
 * version: nothing lost, nothing doubled.
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { canonicalSecretKey, resolvedSecretRef } from '../../operator/src/secrets/secretId';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { staysFalse, waitFor } from '../support/wait';

const S = '13 paused Deployment, then resumed';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('a paused Deployment is stamped and reported Deferred, and rolls to the new version when resumed', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('paused');
  const r = await f.install('paused');
  const secret = await f.createSecret('paused');
  const names = await f.deployments(ns, 'app', 2, () => ({ app: 'paused' }));
  const paused = names[1];
  await f.mapping(ns, 'm', secret, { app: 'paused' });
  ledger.track(ns, names, [secret], true);
  await f.waitRunning(ns, names);
  // Created running (a Deployment created paused never gets pods), then paused.
  await f.ctx.kube.apps.patchNamespacedDeployment(paused, ns, { spec: { paused: true } }, undefined, undefined, undefined, undefined, undefined, MERGE);
  const podsBefore = (await f.ctx.kube.pods(ns, paused)).map((p) => p.metadata!.uid!).sort();
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m']);

  const next = await f.putValue(secret);
  const eventId = await f.ctx.aws.sendLabelUpdated(next);
  ledger.sent();
  const key = canonicalSecretKey(resolvedSecretRef(next.arn, next.name));
  const problems: string[] = [];
  const status = await waitFor('status.lastRotation for the event', async () => {
    const st = (await f.ctx.kube.mapping(ns, 'm')).status;
    return st?.lastRotation?.eventId === eventId ? st : undefined;
  }, { timeoutMs: 60_000, intervalMs: 500 }).catch((err: Error) => {
    problems.push(err.message);
    return undefined;
  });
  const entry = status?.lastRotation?.workloads.find((w) => w.name === paused) as { result?: string; reason?: string } | undefined;
  progress(S, `lastRotation entry of the paused Deployment: ${JSON.stringify(entry)}`);
  if (entry?.result !== 'Deferred' || entry.reason !== 'Paused') problems.push(`status.lastRotation.workloads reports the paused Deployment as ${JSON.stringify(entry)}, expected result Deferred, reason Paused`);
  const template = await f.ctx.kube.appliedVersions('Deployment', ns, paused);
  if (template[key] !== next.version) problems.push(`the paused Deployment's pod template was not stamped: ${JSON.stringify(template)}, expected ${key}=${next.version}`);
  const deferred = await op.metric(`${METRIC_PREFIX}restarts_total`, { result: 'deferred' });
  if (deferred !== 1) problems.push(`${METRIC_PREFIX}restarts_total{result="deferred"} is ${deferred}, expected 1`);
  await waitFor('the message deleted', async () => (await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL)).total === 0, { timeoutMs: 30_000 }).catch((err: Error) => problems.push(err.message));
  // Paused: its pods stay (the running Deployment is the witness that the rotation happened).
  try {
    await staysFalse(
      'a pod of the paused Deployment replaced',
      async () => (await f.ctx.kube.pods(ns, paused)).map((p) => p.metadata!.uid!).sort().join() !== podsBefore.join() || (await f.ctx.kube.replicaSetCount(ns, paused)) !== 1,
      3_000,
      500,
    );
  } catch (err) {
    problems.push(`while paused: ${(err as Error).message}`);
  }

  progress(S, 'resuming the paused Deployment');
  await f.ctx.kube.apps.patchNamespacedDeployment(paused, ns, { spec: { paused: false } }, undefined, undefined, undefined, undefined, undefined, MERGE);
  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    timeoutMs: 90_000,
    notes: () => `paused one reported ${entry ? `${entry.result}${entry.reason ? ` (${entry.reason})` : ''}` : 'nowhere'}; template ${template[key] === next.version ? 'stamped' : `not stamped (${JSON.stringify(template)})`} while paused; deferred metric ${deferred}`,
  });
  expect(result.problems).toEqual([]);
});

const MERGE = { headers: { 'Content-Type': 'application/merge-patch+json' } };
