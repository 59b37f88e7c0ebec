/**
 * Scenario R7: a lost event for a secret reached only through an ExternalSecret. No
 * mapping names the secret; two Deployments take the ExternalSecret's target Secret as
 * their environment; ESO refreshes it every 5 s on its own. The secret changes and its
 * event never arrives (EventBridge is best effort; the queue is purged too). ESO's
 * interval brings the new value into the Kubernetes Secret, but only drift recovery
 * (every 3 s) can roll the consumers: each must roll once, after ESO wrote the new
 * value, and nothing may be dead-lettered.
 */
import { listingCovers, startDescribeGate, type DescribeGate } from './support/describeGate';
import { FaultFile, countDriftRestarts } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { discoveryValues, externalSecretConsumers, SecretContentWatch, startFaultEso } from './support/discovered';
import type { Eso } from '../support/eso';
import { waitFor } from '../support/wait';

const S = 'R7 lost event for an ExternalSecret, drift recovery';
const DRIFT_S = 3;
jest.setTimeout(300_000);

let eso: Eso | undefined;
let gate: DescribeGate | undefined;
let watch: SecretContentWatch | undefined;
const f = FaultFile.forThisFile(S, async () => {
  watch?.stop();
  await gate?.close();
  await eso?.stop();
});

test('a lost event for a secret only an ExternalSecret names: drift rolls its consumers once, after ESO synced', async () => {
  eso = await startFaultEso(f);
  // Records the operator's Secrets Manager reads (nothing is held): when drift has read the secret.
  gate = await startDescribeGate(f.ctx.env.AWS_ENDPOINT_URL);
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('lostes');
  const r = await f.install('lostes', [...discoveryValues(10), '--set', `driftCheckIntervalSeconds=${DRIFT_S}`, '--set-string', `aws.endpointUrlSecretsManager=${gate.url}`]);
  const s = await f.createSecret('lostes');
  const { names, target } = await externalSecretConsumers(f, ledger, ns, 'es', s, 2, '5s');
  watch = new SecretContentWatch(f.ctx, ns, target);
  const op = await f.start(r);
  rss.track(op);

  // Two drift reads of the secret after start: a pass has recorded what the consumers run.
  const problems: string[] = [];
  const startedAt = Date.now();
  const reads = () => gate!.lists.filter((l) => l.at > startedAt && listingCovers(l.names, s.name)).length + gate!.describes.filter((d) => d.at > startedAt && (d.secretId === s.name || d.secretId === s.arn)).length;
  await waitFor('two drift reads of the secret the ExternalSecret names', () => reads() >= 2, { timeoutMs: 6 * DRIFT_S * 1000 }).catch((err: Error) => problems.push(`drift never read the discovered source's secret: ${err.message}`));

  await f.putValue(s);
  await f.ctx.aws.purge(f.ctx.env.SQS_QUEUE_URL);
  progress(S, 'the secret changed; its event is lost (none sent, queue purged)');

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    timeoutMs: 60_000,
    problems,
    afterSettled: () => watch!.rolledBeforeLastChange(names),
    notes: () => `ESO refresh 5 s, drift ${DRIFT_S} s; ${countDriftRestarts(op)} restarts from drift`,
  });
  expect(result.problems).toEqual([]);
});
