/**
 * Scenario 8: the Kubernetes API server hangs for 30 s instead of dying: it accepts
 * connections and never answers (a proxy in front of it, see support/hangProxy.ts;
 * a connection the hang caught stays silent after it). The hang starts the moment the
 * operator prints its first restart of a batch, so requests of that batch (patches,
 * the status write) are caught, and two more secrets rotate during it. The operator
 * must not exit, must say on /readyz (503, with a reason) that it is stuck, must be
 * ready again after the recovery, and every workload must end on its new version,
 * rolled once: every request has a deadline, so nothing wedges.
 */
import { FaultFile, onLog } from './support/fixture';
import { progress } from './support/progress';
import { startHangProxy, type HangProxy } from './support/hangProxy';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';

const S = '8 API server hung 30 s';
const HANG_MS = 30_000;
/** When the two other secrets rotate, from the start of the hang. */
const ROTATE_AT_MS = [5_000, 15_000];
jest.setTimeout(600_000);

let proxy: HangProxy | undefined;
const f = FaultFile.forThisFile(S, () => proxy?.close());

test('a hung API server: no exit, unready with a reason while stuck, every restart done once after it', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('hung');
  const r = await f.install('hung');
  const { secrets, mappings } = await f.groups(ledger, ns, 'hung', 3, 12);
  proxy = await startHangProxy(f.ctx.kube.kc.getCurrentCluster()!.server);
  const op = await f.start(r, {}, { server: proxy.url });
  rss.track(op);
  await f.waitMappingsReady(ns, mappings);

  const hungAt = new Promise<number>((resolve) =>
    onLog(op, 'workload restarted', (at) => {
      proxy!.hang();
      resolve(at);
    }),
  );
  await f.rotate(secrets[0]);
  ledger.sent();
  const t0 = await hungAt;
  progress(S, `API server hung (proxy answers nothing) at the first restart of secret 0's batch; secrets 1 and 2 rotate at +${ROTATE_AT_MS.map((t) => t / 1000).join(' s, +')} s`);

  const readyz = new Map<string, number>();
  let first503: { at: number; body: string } | undefined;
  let diedAt: number | undefined;
  let next = 0;
  // The fault window is timed on purpose; inside it we sample /readyz and send the events.
  while (Date.now() - t0 < HANG_MS) {
    if (next < ROTATE_AT_MS.length && Date.now() - t0 >= ROTATE_AT_MS[next]) {
      await f.rotate(secrets[++next]);
      ledger.sent();
    }
    const res = await op.get('/readyz').then(
      (x) => x,
      () => ({ status: 0, body: '' }),
    );
    const key = `${res.status} ${res.body.trim()}`;
    readyz.set(key, (readyz.get(key) ?? 0) + 1);
    if (res.status === 503 && !first503) first503 = { at: Date.now() - t0, body: res.body.trim() };
    if (!op.alive && diedAt === undefined) diedAt = Date.now() - t0;
    await new Promise((res) => setTimeout(res, 500));
  }
  proxy.recover();
  const upAt = Date.now();
  progress(S, `API server answers again (${proxy.caught()} connection(s) the hang caught stay silent); /readyz during the hang: ${JSON.stringify(Object.fromEntries(readyz))}`);

  const problems = [
    ...(diedAt === undefined ? [] : [`the operator exited ${diedAt} ms into the hang`]),
    ...(first503 ? [] : [`/readyz never answered 503 during the hang: ${JSON.stringify(Object.fromEntries(readyz))}`]),
    ...(!first503 || first503.body.length > 0 ? [] : ['/readyz answered 503 without a reason in the body']),
  ];
  let readyAfterMs: number | undefined;
  try {
    await op.waitReady(120_000);
    readyAfterMs = Date.now() - upAt;
    progress(S, `operator ready again ${readyAfterMs} ms after the recovery`);
  } catch (err) {
    problems.push(`not ready again within 120 s of the recovery: ${(err as Error).message}`);
  }

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () =>
      `${first503 ? `/readyz 503 from +${(first503.at / 1000).toFixed(1)} s of the hang ("${first503.body}")` : '/readyz never 503 during the hang'}, ${readyAfterMs === undefined ? 'not ready again' : `200 again ${(readyAfterMs / 1000).toFixed(1)} s after it`}; ledger settled ${((Date.now() - upAt) / 1000).toFixed(0)} s after`,
  });
  expect(result.problems).toEqual([]);
});
