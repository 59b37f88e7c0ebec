/**
 * Scenario R6: a discovery pass longer than its 15 s interval. 300 ExternalSecrets (ESO's
 * CRDs only: discovery reads their specs, nothing needs syncing) in a namespace, the API
 * server 150 ms away (a latency proxy: a control plane in another zone or region, as a
 * managed cluster's often is) and at most 2 Kubernetes requests in flight: the first
 * pass's 300 `Discovered` Events take about 25 s. A mapped secret rotates while that pass
 * runs: the rotation is fired as soon as the pass has written its first Event and the
 * operator has indexed the mapping (its mappings gauge), not after the mapping is Ready,
 * because a status write that queued behind the pass would only let the test in once the
 * pass was over. Its two workloads must roll promptly (discovery must not take the
 * rotation's share of the limiter), each ExternalSecret must be reported once (no second
 * pass overlapping the first), and the ledger must balance. The scenario fails, too, when
 * the pass was over before the rotation (the fault not in play).
 */
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { parseAppliedVersions } from '../../operator/src/workloads/workload';
import { FaultFile } from './support/fixture';
import { forEachLimit } from '../../scripts/kit/limit';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { startHangProxy, type HangProxy } from './support/hangProxy';
import { discoveryValues } from './support/discovered';
import { applyEsoCrds, createExternalSecret, createStoreObjects, removeEsoCrds } from '../support/eso';
import { waitFor } from '../support/wait';

const S = 'R6 discovery pass longer than its interval (300 ExternalSecrets)';
const SOURCES = 300;
const LATENCY_MS = 150;
/** A rotation's handful of requests at 2 in flight and 150 ms each, with room to spare; far less than a discovery pass. */
const ROTATION_BOUND_MS = 8_000;
jest.setTimeout(400_000);

let proxy: HangProxy | undefined;
let crds = false;
const f = FaultFile.forThisFile(S, async () => {
  await proxy?.close();
  if (crds) await removeEsoCrds(f.ctx);
});

test('a discovery pass longer than its interval: one pass at a time, each source reported once, a rotation not queued behind it', async () => {
  await removeEsoCrds(f.ctx);
  await applyEsoCrds(f.ctx);
  crds = true;
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('longdisc');
  await createStoreObjects(f.ctx, ns, 'store', f.ctx.env.AWS_REGION);
  const sources = Array.from({ length: SOURCES }, (_, i) => `es-${i}`);
  await forEachLimit(sources, 16, (n) => createExternalSecret(f.ctx, ns, n, { store: 'store', remoteKey: `longdisc-unsynced-${n}`, waitSynced: false }));
  progress(S, `${SOURCES} ExternalSecrets created`);
  const r = await f.install('longdisc', discoveryValues(10));
  const { secrets, names, mappings } = await f.groups(ledger, ns, 'longdisc', 1, 2);
  proxy = await startHangProxy(f.ctx.kube.kc.getCurrentCluster()!.server, { latencyMs: LATENCY_MS });
  const op = await f.start(r, { MAX_CONCURRENT_API_REQUESTS: '2' }, { server: proxy.url });
  rss.track(op);
  await waitFor('the operator to index the mapping', async () => (await op.metric(`${METRIC_PREFIX}mappings`)) >= mappings.length, { timeoutMs: 60_000, intervalMs: 200 });

  const discovered = async () => (await f.ctx.kube.core.listNamespacedEvent(ns, undefined, undefined, undefined, 'reason=Discovered')).body.items;
  await waitFor('the first pass under way (a Discovered Event)', async () => (await discovered()).length > 0, { timeoutMs: 60_000, intervalMs: 200 });
  const sentAt = Date.now();
  const next = await f.rotate(secrets[0]);
  ledger.sent();
  const problems: string[] = [];
  const pendingAtSend = SOURCES - new Set((await discovered()).map((e) => e.involvedObject.name)).size;
  if (pendingAtSend === 0) problems.push('the discovery pass was over before the rotation was sent: the scenario did not race them');
  const rolledAt = await waitFor(
    'the mapped workloads stamped with the new version',
    async () => {
      const deps = (await f.ctx.kube.apps.listNamespacedDeployment(ns)).body.items.filter((d) => names.includes(d.metadata!.name!));
      return deps.every((d) => Object.values(parseAppliedVersions(d.spec?.template.metadata?.annotations)).includes(next.version)) && Date.now();
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  ).catch((err: Error) => (problems.push(err.message), 0));
  const rotationMs = rolledAt - sentAt;
  const pendingAtRoll = SOURCES - (await discovered()).length;
  if (rolledAt && rotationMs > ROTATION_BOUND_MS) problems.push(`the rotation took ${rotationMs} ms during the discovery pass (bound ${ROTATION_BOUND_MS} ms): it queued behind discovery`);

  // Every source reported, then one more interval: a pass that overlapped the first would report again.
  await waitFor(`${SOURCES} sources reported`, async () => new Set((await discovered()).map((e) => e.involvedObject.name)).size >= SOURCES, { timeoutMs: 180_000, intervalMs: 1000 }).catch((err: Error) => problems.push(err.message));
  const reportedAt = Date.now();
  await waitFor('one more discovery interval', () => Date.now() - reportedAt > 16_000, { timeoutMs: 20_000, intervalMs: 1000 });
  const events = await discovered();
  const reports = events.reduce((n, e) => n + (e.count ?? 1), 0);
  if (reports !== SOURCES) problems.push(`${reports} Discovered reports for ${SOURCES} ExternalSecrets (${events.length} Events): passes overlapped`);

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `rotation sent with ${pendingAtSend} sources unreported, rolled ${rotationMs} ms after its event with ${pendingAtRoll} still unreported; ${reports} Discovered reports for ${SOURCES} sources`,
  });
  expect(result.problems).toEqual([]);
});
