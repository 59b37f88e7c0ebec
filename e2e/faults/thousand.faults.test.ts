/**
 * Scenario 15: one mapping selecting 1,000 Deployments (no replicas: the cost is in
 * the API server, not the pods) on the real API server; the secret rotates once.
 * The status write must succeed: status.lastRotation written for this event,
 * appliedVersion advanced to the new version, the whole status well within the API
 * server's limits (condition messages at most 2,048 characters, at most 100
 * lastRotation.workloads entries, with the counts in lastRotation.summary;
 * status.rollout, which names every workload, at most 64 bytes per workload). The
 * chart's default ceiling paces it: the rotation stamps the first wave and reports the
 * rest Deferred, the rollout loop restarts them, each once, until status.rollout says
 * Complete 1000/1000. Drift runs meanwhile and must restart nothing more.
 */
import { FaultFile, countLogs } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler, startRecordingProxy, type RecordingProxy } from './support/probes';
import { waitFor } from '../support/wait';

const S = '15 one mapping, 1,000 workloads';
const WORKLOADS = 1000;
/** Names as long as real ones (`Deployment/<name> Restarted` per workload is what made the PoC-style message outgrow the cap). */
const PREFIX = 'checkout-api-worker';
const DRIFT_S = 15;
/** The CRD's cap on a condition message; the status as a whole stays well below it. */
const CONDITION_MESSAGE_CAP = 32_768;
/** status.rollout's budget: a name as long as PREFIX-NNNN, its state and stamp time (about 40 B), with room. */
const ROLLOUT_BYTES_PER_WORKLOAD = 64;
/** The chart's rollouts.maxConcurrent default: how many the rotation itself may stamp. */
const MAX_CONCURRENT = 10;
jest.setTimeout(1_200_000);

let proxy: RecordingProxy | undefined;
const f = FaultFile.forThisFile(S, () => proxy?.close());

test('a rotation over 1,000 workloads writes a bounded status, advances appliedVersion, and drift adds nothing', async () => {
  proxy = await startRecordingProxy(f.ctx.env.AWS_ENDPOINT_URL);
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('thousand');
  const r = await f.install('thousand', ['--set', `driftCheckIntervalSeconds=${DRIFT_S}`, '--set-string', `aws.endpointUrlSecretsManager=${proxy.url}`]);
  const secret = await f.createSecret('thousand');
  const t0 = Date.now();
  const names = await f.deployments(ns, PREFIX, WORKLOADS, () => ({ app: 'thousand' }), { replicas: 0 });
  progress(S, `${WORKLOADS} Deployments created in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await f.mapping(ns, 'm', secret, { app: 'thousand' });
  ledger.track(ns, names, [secret], true, 0);
  await f.waitRunning(ns, names, 0, 300_000);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m'], 180_000);

  const next = await f.putValue(secret);
  const eventId = await f.ctx.aws.sendLabelUpdated(next);
  ledger.sent();
  const problems: string[] = [];
  const rotatedAt = Date.now();
  const status = await waitFor('status.lastRotation for the event', async () => {
    const st = (await f.ctx.kube.mapping(ns, 'm')).status;
    return st?.lastRotation?.eventId === eventId ? st : undefined;
  }, { timeoutMs: 120_000, intervalMs: 1000 }).catch((err: Error) => {
    problems.push(err.message);
    return undefined;
  });
  const statusMs = status ? Date.now() - rotatedAt : undefined;
  const st = status ?? (await f.ctx.kube.mapping(ns, 'm')).status;
  // status.rollout names every workload (the rollout's durable intent, docs/rollouts.md): it is bounded apart, per workload.
  const { rollout, ...rest } = (st ?? {}) as Record<string, unknown>;
  const bytes = JSON.stringify(rest).length;
  const rolloutBytes = JSON.stringify(rollout ?? null).length;
  const longest = Math.max(0, ...(st?.conditions ?? []).map((c) => (c.message ?? '').length));
  const listed = st?.lastRotation?.workloads.length ?? 0;
  const summary = (st?.lastRotation as { summary?: Record<string, number> } | undefined)?.summary;
  const count = (result: string) => Object.entries(summary ?? {}).find(([k]) => k.toLowerCase() === result.toLowerCase())?.[1];
  progress(S, `status: ${bytes} bytes (status.rollout ${rolloutBytes} more), longest condition message ${longest}, ${listed} lastRotation.workloads entries, summary ${JSON.stringify(summary)}, appliedVersion ${st?.appliedVersion}`);
  if (st?.appliedVersion !== next.version) problems.push(`appliedVersion is ${st?.appliedVersion}, expected the new version ${next.version}`);
  if (bytes >= CONDITION_MESSAGE_CAP / 2) problems.push(`the status is ${bytes} bytes of JSON, not well within the ${CONDITION_MESSAGE_CAP}-character cap`);
  if (longest > 2048) problems.push(`a condition message has ${longest} characters, more than 2048`);
  if (listed > 100) problems.push(`status.lastRotation.workloads has ${listed} entries, more than 100`);
  if (rolloutBytes > ROLLOUT_BYTES_PER_WORKLOAD * WORKLOADS) problems.push(`status.rollout is ${rolloutBytes} bytes of JSON, more than ${ROLLOUT_BYTES_PER_WORKLOAD} per workload`);
  // Paced by the chart's default ceiling: the rotation stamps the first wave, the rollout loop the rest.
  const restarted = count('Restarted') ?? 0;
  if (restarted < 1 || restarted > MAX_CONCURRENT || restarted + (count('Deferred') ?? 0) !== WORKLOADS)
    problems.push(`status.lastRotation.summary does not count 1..${MAX_CONCURRENT} Restarted and the rest of ${WORKLOADS} Deferred: ${JSON.stringify(summary)}`);

  // A drift pass after the rotation (its ListSecrets, filtered by the mapping's secret name) must find nothing to do.
  const callsBefore = proxy.targets.length;
  await waitFor('a drift pass after the rotation', () => proxy!.targets.slice(callsBefore).some((t) => t.endsWith('.ListSecrets')), { timeoutMs: (DRIFT_S + 30) * 1000, intervalMs: 500 }).catch((err: Error) =>
    problems.push(err.message),
  );
  const restartsBeforeDrift = countLogs(op, 'workload restarted');

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    timeoutMs: 240_000,
    afterSettled: async () => {
      const summary = ((await f.ctx.kube.mapping(ns, 'm')).status?.rollout as { summary?: string } | undefined)?.summary;
      return summary === `Complete ${WORKLOADS}/${WORKLOADS}` ? [] : [`status.rollout.summary is ${JSON.stringify(summary)} after the ledger balanced, expected "Complete ${WORKLOADS}/${WORKLOADS}"`];
    },
    notes: () =>
      `status ${bytes} B, longest condition message ${longest} chars, ${listed} workloads listed, summary ${JSON.stringify(summary ?? null)}; ${statusMs === undefined ? 'no rotation status' : `rotation status ${(statusMs / 1000).toFixed(0)} s after the event`}; ${countLogs(op, 'workload restarted') - restartsBeforeDrift} restart(s) after the drift pass`,
  });
  expect(result.problems).toEqual([]);
});
