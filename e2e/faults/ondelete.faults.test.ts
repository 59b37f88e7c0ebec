/**
 * Scenario 14: a StatefulSet with `updateStrategy: OnDelete` beside a Deployment, both
 * selected by one mapping; the secret rotates. The StatefulSet's pod template must be
 * stamped with the new version (one new revision), the status must report it Pending
 * (OnDelete), not Restarted, and counted in the pending metric; the operator deletes
 * no pod. Once the test deletes the pod, the new one carries the new version. The
 * Deployment is the ledger's witness (and the queues are checked as always).
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { SECRET_VERSIONS_ANNOTATION } from '../../operator/src/workloads/workload';
import { canonicalSecretKey, resolvedSecretRef } from '../../operator/src/secrets/secretId';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { podIsRunning } from '../support/kube';
import { staysFalse, waitFor } from '../support/wait';

const S = '14 OnDelete StatefulSet';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('an OnDelete StatefulSet is stamped and reported Pending; no pod deleted; a deleted pod comes back on the new version', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('ondelete');
  const r = await f.install('ondelete');
  const secret = await f.createSecret('ondelete');
  await f.ctx.kube.createWorkload('Deployment', ns, 'web', { app: 'ondelete' });
  await f.ctx.kube.createWorkload('StatefulSet', ns, 'db', { app: 'ondelete' }, { updateStrategy: 'OnDelete' });
  await f.ctx.kube.createMapping(ns, 'm', { secretId: secret.name, selector: { matchLabels: { app: 'ondelete' } }, workloadKinds: ['Deployment', 'StatefulSet'] });
  ledger.track(ns, ['web'], [secret], true);
  await f.waitRunning(ns, ['web']);
  const [podBefore] = await f.ctx.kube.waitForRunning(ns, 'db');
  const uidBefore = (await f.ctx.kube.pods(ns, 'db'))[0].metadata!.uid!;
  const revisions = async () => (await f.ctx.kube.apps.listNamespacedControllerRevision(ns)).body.items.filter((c) => c.metadata?.labels?.['workload-name'] === 'db').length;
  const revisionsBefore = await revisions();
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
  const entry = status?.lastRotation?.workloads.find((w) => w.kind === 'StatefulSet' && w.name === 'db') as { result?: string; reason?: string } | undefined;
  progress(S, `lastRotation entry of the OnDelete StatefulSet: ${JSON.stringify(entry)}`);
  if (entry?.result !== 'Pending' || entry.reason !== 'OnDelete') problems.push(`status.lastRotation.workloads reports the OnDelete StatefulSet as ${JSON.stringify(entry)}, expected result Pending, reason OnDelete`);
  const template = await f.ctx.kube.appliedVersions('StatefulSet', ns, 'db');
  if (template[key] !== next.version) problems.push(`the StatefulSet's pod template was not stamped: ${JSON.stringify(template)}, expected ${key}=${next.version}`);
  const pending = await op.metric(`${METRIC_PREFIX}restarts_total`, { result: 'pending' });
  if (pending !== 1) problems.push(`${METRIC_PREFIX}restarts_total{result="pending"} is ${pending}, expected 1`);
  // OnDelete: the controller waits for someone to delete the pod; the operator must not be that someone.
  try {
    await staysFalse(
      `pod ${podBefore} deleted or replaced`,
      async () => {
        const pods = await f.ctx.kube.pods(ns, 'db');
        return pods.length !== 1 || pods[0].metadata?.uid !== uidBefore || Boolean(pods[0].metadata?.deletionTimestamp);
      },
      5_000,
      500,
    );
  } catch (err) {
    problems.push(`before the test deleted it: ${(err as Error).message}`);
  }

  progress(S, `deleting pod ${podBefore} (what OnDelete waits for)`);
  await f.ctx.kube.core.deleteNamespacedPod(podBefore, ns);
  const templateRaw = await f.ctx.kube.templateAnnotation('StatefulSet', ns, 'db');
  await waitFor(
    'the new StatefulSet pod running with the new version',
    async () => {
      const pods = await f.ctx.kube.pods(ns, 'db');
      return pods.length === 1 && pods[0].metadata?.uid !== uidBefore && podIsRunning(pods[0]) && pods[0].metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION] === templateRaw;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  ).catch((err: Error) => problems.push(`after the pod was deleted: ${err.message} (template ${templateRaw ?? '(none)'})`));
  const revisionsAfter = await revisions();
  if (revisionsAfter !== revisionsBefore + 1) problems.push(`the StatefulSet has ${revisionsAfter} revisions, expected ${revisionsBefore + 1} (one stamp)`);

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    timeoutMs: 90_000,
    notes: () => `StatefulSet reported ${entry ? `${entry.result}${entry.reason ? ` (${entry.reason})` : ''}` : 'nowhere'}; pending metric ${pending}; revisions ${revisionsBefore} → ${revisionsAfter}`,
  });
  expect(result.problems).toEqual([]);
});
