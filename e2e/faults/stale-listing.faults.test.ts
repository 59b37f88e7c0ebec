/**
 * Scenario R1: a stale listing after a rotation. AWS documents that ListSecrets "might
 * not reflect changes from the last five minutes"; moto is strongly consistent, so the
 * realism proxy answers ListSecrets with each secret as it was 10–15 s ago (per secret,
 * seeded). Drift runs every 2 s. A secret rotates and its event is delivered: the
 * event rolls the four workloads to the new version, and every drift pass in the
 * following 15 s lists the old one. No workload may go back to the old version or roll
 * twice: four restarts, all on the new version.
 */
import { parseAppliedVersions } from '../../operator/src/workloads/workload';
import { canonicalSecretKey, resolvedSecretRef } from '../../operator/src/secrets/secretId';
import { FaultFile, countLogs, patchedMoreThanOnce, countDriftRestarts } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { staysFalse, waitFor } from '../support/wait';

const S = 'R1 stale ListSecrets after a rotation (drift every 2 s)';
const DRIFT_S = 2;
const LIST_STALE = { minMs: 10_000, maxMs: 15_000 };
const WORKLOADS = 4;
jest.setTimeout(300_000);

const f = FaultFile.forThisFile(S, undefined, { realism: { listStale: LIST_STALE } });

test('drift passes that list the old version after an event-driven rotation: no workload regresses or rolls twice', async () => {
  const realism = f.realism!;
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('stale');
  const r = await f.install('stale', ['--set', `driftCheckIntervalSeconds=${DRIFT_S}`, ...f.realismValues()]);
  const s = await f.createSecret('stale');
  const key = canonicalSecretKey(resolvedSecretRef(s.arn, s.name));
  const names = await f.deployments(ns, 'app', WORKLOADS, () => ({ app: 'stale' }));
  await f.mapping(ns, 'm', s, { app: 'stale' });
  ledger.track(ns, names, [s], true);
  await f.waitRunning(ns, names);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m']);

  const next = await f.rotate(s);
  const rotatedAt = Date.now();
  ledger.sent();
  progress(S, `rotated to ${next.version}; ListSecrets shows the previous version for 10-15 s`);

  const problems: string[] = [];
  await waitFor('the event to roll every workload to the new version', async () => {
    const deps = (await f.ctx.kube.apps.listNamespacedDeployment(ns)).body.items;
    return deps.length === WORKLOADS && deps.every((d) => parseAppliedVersions(d.spec?.template.metadata?.annotations)[key] === next.version);
  }, { timeoutMs: 60_000, intervalMs: 200 }).catch((err: Error) => problems.push(err.message));
  // Until the listing has caught up, and two drift passes after: no template may leave the new version.
  const regressed = async () => {
    const deps = (await f.ctx.kube.apps.listNamespacedDeployment(ns)).body.items;
    return deps.some((d) => parseAppliedVersions(d.spec?.template.metadata?.annotations)[key] !== next.version);
  };
  const watchMs = rotatedAt + LIST_STALE.maxMs + 2 * DRIFT_S * 1000 - Date.now();
  await staysFalse('a workload back on the previous version', regressed, Math.max(0, watchMs), 200).catch((err: Error) => problems.push(err.message));
  const stale = realism.counts.staleListed.filter((n) => n === s.name).length;
  if (stale === 0) problems.push('the proxy never served a stale listing of the secret: the fault was not in play');
  problems.push(...(await patchedMoreThanOnce(f.ctx, ns, names)));

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `${stale} stale ListSecrets entries served (seed ${realism.seed}); ${countLogs(op, 'workload restarted')} 'workload restarted' lines, ${countDriftRestarts(op)} from drift`,
  });
  expect(result.problems).toEqual([]);
});
