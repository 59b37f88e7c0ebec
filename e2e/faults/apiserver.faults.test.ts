/**
 * Scenario 2: the Kubernetes API server is killed for 30 s while three secrets
 * rotate. The operator must not exit, must say it is unready (/readyz 503) while its
 * mapping watch is broken, and once the API server is back must complete every
 * restart (the messages it could not act on come back after the visibility timeout).
 */
import { startComponent, stopComponent } from '../../scripts/stack';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';

const S = '2 API server down 30 s';
const OUTAGE_MS = 30_000;
jest.setTimeout(600_000);

// Never leave the API server down for the next file (a no-op when it runs).
const f = FaultFile.forThisFile(S, () => startComponent('kube-apiserver'));

test('an API server outage: no exit, unready while it lasts, every restart done after it', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('apisrv');
  const r = await f.install('apisrv');
  const { secrets, mappings } = await f.groups(ledger, ns, 'apisrv', 3, 9);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, mappings);

  progress(S, `killing kube-apiserver for ${OUTAGE_MS / 1000} s; a secret rotates at +3 s, +12 s and +21 s`);
  await stopComponent('kube-apiserver', { graceMs: 0 });
  const downAt = Date.now();
  const rotateAt = [3_000, 12_000, 21_000];
  const readyz = new Map<number, number>();
  let first503: number | undefined;
  let diedAt: number | undefined;
  // The fault window is timed on purpose; inside it we sample /readyz and send the events.
  while (Date.now() - downAt < OUTAGE_MS) {
    const due = rotateAt.findIndex((t, i) => t <= Date.now() - downAt && i >= ledger.eventsSent);
    if (due >= 0) {
      await f.rotate(secrets[due]);
      ledger.sent();
    }
    const status = await op.get('/readyz').then(
      (res) => res.status,
      () => 0,
    );
    readyz.set(status, (readyz.get(status) ?? 0) + 1);
    if (status === 503 && first503 === undefined) first503 = Date.now() - downAt;
    if (!op.alive && diedAt === undefined) diedAt = Date.now() - downAt;
    await new Promise((res) => setTimeout(res, 500));
  }
  progress(S, `starting kube-apiserver again; /readyz samples during the outage: ${JSON.stringify(Object.fromEntries(readyz))}`);
  await startComponent('kube-apiserver');
  const upAt = Date.now();
  await op.waitReady(120_000);
  const readyAfterMs = Date.now() - upAt;
  progress(S, `operator ready again ${readyAfterMs} ms after the API server came back`);

  const problems = [
    ...(diedAt === undefined ? [] : [`the operator exited ${diedAt} ms into the outage`]),
    ...(first503 !== undefined ? [] : [`/readyz never answered 503 during the outage: ${JSON.stringify(Object.fromEntries(readyz))}`]),
  ];

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `/readyz 503 from +${((first503 ?? 0) / 1000).toFixed(1)} s of the outage, 200 again ${(readyAfterMs / 1000).toFixed(1)} s after it; ledger settled ${((Date.now() - upAt) / 1000).toFixed(0)} s after`,
  });
  expect(result.problems).toEqual([]);
});
