/**
 * Scenario 11: drift recovery racing an event for the same secret. Two secrets are
 * mapped onto the same 20 Deployments, whose pod templates already record both
 * secrets' versions. Drift runs every 3 s. Secret 1 changes and its event is sent;
 * the calls that read secret 1 are held at a proxy until the event's DescribeSecret and
 * a drift pass's ListSecrets have both arrived, then released together: both
 * paths reach the same secret at the same instant. Each Deployment must roll once
 * (20 restarts, not 40) and its versions annotation must keep secret 2's key.
 */
import { canonicalSecretKey, resolvedSecretRef } from '../../operator/src/secrets/secretId';
import { SECRET_VERSIONS_ANNOTATION, parseAppliedVersions } from '../../operator/src/workloads/workload';
import { FaultFile, countLogs, patchedMoreThanOnce, countDriftRestarts } from './support/fixture';
import { forEachLimit } from '../../scripts/kit/limit';
import { progress } from './support/progress';
import { isListing, listingCovers, startDescribeGate, type DescribeGate } from './support/describeGate';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { staysFalse, waitFor } from '../support/wait';

const S = '11 drift racing an event (same secret, same moment)';
const WORKLOADS = 20;
const DRIFT_S = 3;
jest.setTimeout(600_000);

let gate: DescribeGate | undefined;
const f = FaultFile.forThisFile(S, () => gate?.close());

test('an event and a drift pass for the same secret at the same instant: each workload rolled once, no key dropped', async () => {
  gate = await startDescribeGate(f.ctx.env.AWS_ENDPOINT_URL);
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('race');
  const r = await f.install('race', ['--set', `driftCheckIntervalSeconds=${DRIFT_S}`, '--set-string', `aws.endpointUrlSecretsManager=${gate.url}`]);
  const [s1, s2] = await Promise.all([f.createSecret('race-1'), f.createSecret('race-2')]);
  const key = (s: typeof s1) => canonicalSecretKey(resolvedSecretRef(s.arn, s.name));
  // As an earlier rotation of both secrets left them.
  const versions = JSON.stringify(Object.fromEntries([[key(s1), s1.version], [key(s2), s2.version]].sort(([a], [b]) => a.localeCompare(b))));
  const names = Array.from({ length: WORKLOADS }, (_, i) => `app-${i}`);
  await forEachLimit(names, 8, (n) => f.ctx.kube.createWorkload('Deployment', ns, n, { app: 'race' }, { templateAnnotations: { [SECRET_VERSIONS_ANNOTATION]: versions } }));
  await f.mapping(ns, 'm1', s1, { app: 'race' });
  await f.mapping(ns, 'm2', s2, { app: 'race' });
  ledger.track(ns, names, [s1, s2], true);
  await f.waitRunning(ns, names);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m1', 'm2']);
  // A second listing means the first drift pass has ended.
  await waitFor('a drift pass that found nothing', () => gate!.lists.filter((l) => listingCovers(l.names, s1.name)).length >= 2, { timeoutMs: 30_000 });

  // The event's DescribeSecret of secret 1 and a drift pass's ListSecrets that lists it, held at once.
  const held = gate.hold([s1.name, s1.arn], (ids) => ids.some(isListing) && ids.some((id) => !isListing(id)), 6_000);
  const next = await f.rotate(s1);
  ledger.sent();
  const race = await held;
  progress(S, race.met ? `the event's DescribeSecret and a drift pass's ListSecrets of secret 1 released together (${race.held.join(', ')})` : `race not engaged within 6 s: held ${JSON.stringify(race.held)}`);

  // The ReplicaSets can fold two patches close together into one rollout: count the patches too.
  const problems: string[] = [];
  await waitFor('every Deployment stamped with secret 1\'s new version', async () => {
    const deps = (await f.ctx.kube.apps.listNamespacedDeployment(ns)).body.items;
    return deps.length === WORKLOADS && deps.every((d) => parseAppliedVersions(d.spec?.template.metadata?.annotations)[key(s1)] === next.version);
  }, { timeoutMs: 60_000, intervalMs: 200 }).catch((err: Error) => problems.push(err.message));
  // Nothing more may follow: neither the other path's patches nor a later drift pass.
  await staysFalse('more than one restart per Deployment', () => countLogs(op, 'workload restarted') > WORKLOADS, (DRIFT_S + 1) * 1000, 200).catch((err: Error) => problems.push(err.message));
  const restarted = countLogs(op, 'workload restarted');
  if (restarted !== WORKLOADS) problems.push(`${restarted} 'workload restarted' lines, expected ${WORKLOADS}`);
  problems.push(...(await patchedMoreThanOnce(f.ctx, ns, names)));

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `race ${race.met ? "engaged (the event's DescribeSecret and drift's ListSecrets released together)" : `not engaged: the operator issued ${JSON.stringify(race.held)} only`}; ${restarted} 'workload restarted' lines, ${countDriftRestarts(op)} from drift`,
  });
  expect(result.problems).toEqual([]);
});
