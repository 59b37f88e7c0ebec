/**
 * Scenario 11b: drift recovery and an event for two different secrets on the same 20
 * Deployments, at the same instant. Both secrets change: secret A's event is lost
 * (drift must catch it), secret B's event is sent. The proxy holds drift's
 * ListSecrets (which lists A) and the event's DescribeSecret of B until both have arrived, then releases them
 * together, so two restarts are planned from the same old versions annotation. Every
 * Deployment must end with both new versions (no key dropped by a patch built from a
 * stale annotation), patched at most once per secret.
 */
import { canonicalSecretKey, resolvedSecretRef } from '../../operator/src/secrets/secretId';
import { SECRET_VERSIONS_ANNOTATION } from '../../operator/src/workloads/workload';
import { FaultFile, countDriftRestarts, countLogs, patchedMoreThanOnce } from './support/fixture';
import { forEachLimit } from '../../scripts/kit/limit';
import { progress } from './support/progress';
import { isListing, listingCovers, startDescribeGate, type DescribeGate } from './support/describeGate';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { waitFor } from '../support/wait';

const S = '11b drift and an event for two secrets of the same workloads, same moment';
const WORKLOADS = 20;
const DRIFT_S = 3;
jest.setTimeout(600_000);

let gate: DescribeGate | undefined;
const f = FaultFile.forThisFile(S, () => gate?.close());

test('drift for one secret and an event for another at the same instant: every workload keeps both new versions', async () => {
  gate = await startDescribeGate(f.ctx.env.AWS_ENDPOINT_URL);
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('racekeys');
  const r = await f.install('racekeys', ['--set', `driftCheckIntervalSeconds=${DRIFT_S}`, '--set-string', `aws.endpointUrlSecretsManager=${gate.url}`]);
  const [a, b] = await Promise.all([f.createSecret('racekeys-a'), f.createSecret('racekeys-b')]);
  const key = (s: typeof a) => canonicalSecretKey(resolvedSecretRef(s.arn, s.name));
  const versions = JSON.stringify(Object.fromEntries([[key(a), a.version], [key(b), b.version]].sort(([x], [y]) => x.localeCompare(y))));
  const names = Array.from({ length: WORKLOADS }, (_, i) => `app-${i}`);
  await forEachLimit(names, 8, (n) => f.ctx.kube.createWorkload('Deployment', ns, n, { app: 'racekeys' }, { templateAnnotations: { [SECRET_VERSIONS_ANNOTATION]: versions } }));
  // m1 (secret A) comes first in the operator's index (relist order), so a drift pass settles A before B.
  await f.mapping(ns, 'm1', a, { app: 'racekeys' });
  await f.mapping(ns, 'm2', b, { app: 'racekeys' });
  ledger.track(ns, names, [a, b], true);
  await f.waitRunning(ns, names);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m1', 'm2']);
  // A second listing means the first drift pass has ended.
  await waitFor('a drift pass that found nothing', () => gate!.lists.filter((l) => listingCovers(l.names, a.name)).length >= 2, { timeoutMs: 30_000 });

  // Drift lists A (and B) and then settles A first; the event path describes only B: one of each held at once is the race.
  const held = gate.hold([a.name, a.arn, b.name, b.arn], (ids) => ids.some(isListing) && ids.some((id) => id === b.name || id === b.arn), 6_000);
  await f.putValue(a);
  await f.rotate(b);
  ledger.sent();
  const race = await held;
  progress(S, race.met ? `drift's ListSecrets (listing A) and the event's DescribeSecret of B released together` : `race not engaged within 6 s: held ${JSON.stringify(race.held)}`);

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    // One restart per workload when both land in one patch, two when they go one after the other.
    restartsExpected: WORKLOADS,
    restartsAtMost: 2 * WORKLOADS,
    afterSettled: () => patchedMoreThanOnce(f.ctx, ns, names, 2),
    timeoutMs: 60_000,
    notes: () => `race ${race.met ? 'engaged' : 'not engaged'}; ${countLogs(op, 'workload restarted')} 'workload restarted' lines, ${countDriftRestarts(op)} from drift`,
  });
  expect(result.problems).toEqual([]);
});
