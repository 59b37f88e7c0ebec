/**
 * Scenario R4: the External Secrets Operator slow to sync. ESO reaches Secrets Manager
 * through the realism proxy, which hands it each GetSecretValue answer 8 s late (the value
 * as it was when ESO asked); the operator waits at most 5 s for a sync. The secret changes
 * (v2, event): the operator asks ESO to sync and gives up; ESO is still fetching v2. The
 * secret changes again (v3, event) while that fetch is under way: the operator asks
 * again, and ESO's late write of v2 lands after that request. The consumers must roll
 * once ESO has written v3 (their pods read the newest value), not on v2's late sync with
 * v3's annotation; nothing may be dead-lettered. Once ESO has written v3 it answers at once
 * (else no request could ever be met within the operator's 5 s).
 * It passes on the operator before the fix too: ESO v0.16.2 writes status conditionally, so
 * the first fetch's late write conflicts and never shows; docs/reliability.md ("Why R4 cannot
 * fail with ESO v0.16.2") says why no real timing changes that, and which test proves the fix.
 */
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { discoveryValues, externalSecretConsumers, SecretContentWatch, startFaultEso } from './support/discovered';
import { FORCE_SYNC_ANNOTATION, readExternalSecret, type Eso } from '../support/eso';
import { waitFor } from '../support/wait';

const S = 'R4 ESO slow to sync (first sync lands after the second request)';
const ESO_LATENCY_MS = 8_000;
const SYNC_TIMEOUT_S = 5;
jest.setTimeout(300_000);

let eso: Eso | undefined;
let watch: SecretContentWatch | undefined;
const f = FaultFile.forThisFile(
  S,
  async () => {
    watch?.stop();
    await eso?.stop();
  },
  { realism: { latency: { operations: ['secretsmanager.GetSecretValue'], ms: ESO_LATENCY_MS } } },
);

test('a sync ESO began for an earlier request does not count for a later one: consumers roll once, on the newest value', async () => {
  eso = await startFaultEso(f, f.realism!.url);
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('esoslow');
  const r = await f.install('esoslow', [...discoveryValues(SYNC_TIMEOUT_S), ...f.realismValues()]);
  const s = await f.createSecret('esoslow');
  const { names, target } = await externalSecretConsumers(f, ledger, ns, 'es', s, 2);
  watch = new SecretContentWatch(f.ctx, ns, target);
  const op = await f.start(r);
  rss.track(op);
  await waitFor('the ExternalSecret discovered', async () => (await f.ctx.kube.eventsOn(ns, 'ExternalSecret', 'es')).some((e) => e.reason === 'Discovered'), { timeoutMs: 60_000 });

  const v2 = await f.rotate(s);
  const firstRequestAt = Date.now();
  ledger.sent();
  // The first request has asked ESO (force-sync) and ESO's fetch of v2 is under way: change again before it lands.
  await waitFor('the operator to ask ESO for the first sync', async () => {
    const es = await readExternalSecret(f.ctx, ns, 'es');
    return es.metadata.annotations?.[FORCE_SYNC_ANNOTATION] !== undefined;
  }, { timeoutMs: 30_000, intervalMs: 100 });
  const v3 = await f.rotate(v2);
  ledger.sent();
  progress(S, `v2 then v3 ${Date.now() - firstRequestAt} ms later; ESO answers each fetch ${ESO_LATENCY_MS} ms late`);
  // ESO writes v2 (the first request's late fetch), then v3 (the second's), or only v3 when
  // its first late fetch already answers with v3 (timing: the notes say which); from then on
  // it is fast, so a request made after that can be met within the operator's wait.
  const problems: string[] = [];
  await waitFor('ESO to write the newest value into the target Secret', () => watch!.changes.length >= 1, { timeoutMs: 60_000, intervalMs: 100 }).catch((err: Error) => problems.push(err.message));
  f.realism!.setLatency(0);

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    timeoutMs: 90_000,
    problems,
    afterSettled: () => watch!.rolledBeforeLastChange(names),
    notes: () => `ESO ${ESO_LATENCY_MS / 1000} s per fetch, sync timeout ${SYNC_TIMEOUT_S} s; v3 ${v3.version.slice(0, 8)}; Secret content changes seen: ${watch!.changes.length}`,
  });
  expect(result.problems).toEqual([]);
});
