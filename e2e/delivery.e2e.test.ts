/**
 * Issue 5, cases 8 and 9: delivery as SQS really does it. Duplicates restart once;
 * a burst of versions ends on the newest with few rollouts; malformed and foreign
 * messages interleaved with good ones end in the dead-letter queue while the good
 * ones are all handled and the operator keeps running.
 */
import { SECRET_VERSIONS_ANNOTATION } from '../operator/src/workloads/workload';
import { canonicalSecretKey, parseSecretId } from '../operator/src/secrets/secretId';
import { M, endScenario, eventBody, labelUpdatedBody, rand, snapshot, startScenario, value, waitDeleted, waitForNewPods, waitLastRotation, waitMappingSynced, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const keyOf = (arn: string) => canonicalSecretKey(parseSecretId(arn, 'full'));

let s: Scenario;
beforeAll(async () => {
  s = await startScenario({ prefix: 'deliv', namespaces: ['deliv'] });
});
afterAll(() => endScenario(s));

async function mapped(name: string) {
  const [ns] = s.namespaces;
  const secret = await s.ctx.aws.createSecret(`${name}-${rand()}`, value());
  await s.ctx.kube.createWorkload('Deployment', ns, name, { app: name });
  await s.ctx.kube.createMapping(ns, name, { secretId: secret.name, selector: { matchLabels: { app: name } } });
  const before = await snapshot(s.ctx, 'Deployment', ns, name);
  await waitMappingSynced(s.ctx, ns, name, secret.version);
  return { ns, secret, before };
}

test('the same event delivered three times rolls the workload once', async () => {
  const { ns, secret, before } = await mapped('dup');
  const rotated = await s.ctx.aws.putSecretValue(secret, value());
  const { body } = labelUpdatedBody(s.ctx, rotated);
  const deleted = await s.op.metric(`${M}messages_deleted_total`);
  for (let i = 0; i < 3; i++) await s.ctx.aws.sendRaw(body);
  await waitDeleted(s, deleted, 3);
  await waitForNewPods(s.ctx, before);
  expect(await s.ctx.kube.replicaSetCount(ns, 'dup')).toBe(2);
  expect(await s.ctx.kube.appliedVersions('Deployment', ns, 'dup')).toEqual({ [keyOf(rotated.arn)]: rotated.version });
});

test('ten versions in two seconds: the workload ends on the newest with at most two rollouts', async () => {
  const { ns, secret } = await mapped('burst');
  const deleted = await s.op.metric(`${M}messages_deleted_total`);
  // Ten put-secret-value calls at once, each followed by its event; the newest is
  // whichever Secrets Manager made AWSCURRENT last.
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 10 }, async () => s.ctx.aws.sendLabelUpdated(await s.ctx.aws.putSecretValue(secret, value()))));
  // Two seconds on an idle machine; the emulator is slower when the machine is busy, and
  // a longer burst only makes the bound below harder to meet.
  expect(Date.now() - t0).toBeLessThan(5_000);
  const last = { ...secret, version: (await s.ctx.aws.currentVersion(secret.arn))! };
  await waitDeleted(s, deleted, 10);
  await waitLastRotation(s.ctx, ns, 'burst', last.version);
  expect(await s.ctx.kube.appliedVersions('Deployment', ns, 'burst')).toEqual({ [keyOf(last.arn)]: last.version });
  const pods = await s.ctx.kube.waitForRunning(ns, 'burst');
  const rollouts = (await s.ctx.kube.replicaSetCount(ns, 'burst')) - 1;
  expect(rollouts).toBeGreaterThanOrEqual(1);
  expect(rollouts).toBeLessThanOrEqual(2);
  // The running pod was made from the template that records the newest version.
  const pod = (await s.ctx.kube.pods(ns, 'burst')).find((p) => p.metadata!.name === pods[0])!;
  expect(pod.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION]).toContain(last.version);
});

test('malformed and foreign messages go to the dead-letter queue; the good ones around them are all handled', async () => {
  const a = await mapped('good-a');
  const b = await mapped('good-b');
  const ra = await s.ctx.aws.putSecretValue(a.secret, value());
  const rb = await s.ctx.aws.putSecretValue(b.secret, value());
  const bad = [
    'this is not JSON',
    eventBody(s.ctx, { source: 'aws.ec2', detailType: 'EC2 Instance State-change Notification', detail: { 'instance-id': 'i-0123456789abcdef0', state: 'running' } }).body,
    JSON.stringify({ id: 'x', source: 'aws.secretsmanager', 'detail-type': 'Secret Label Updated' }),
  ];
  const malformedBefore = await s.op.metric(`${M}messages_malformed_total`);
  await s.ctx.aws.sendRaw(bad[0]);
  await s.ctx.aws.sendLabelUpdated(ra);
  await s.ctx.aws.sendRaw(bad[1]);
  await s.ctx.aws.sendLabelUpdated(rb);
  await s.ctx.aws.sendRaw(bad[2]);

  await waitForNewPods(s.ctx, a.before);
  await waitForNewPods(s.ctx, b.before);
  // Each bad message is released at once, received maxReceiveCount (5) times, then redriven.
  await waitFor('the three bad messages in the dead-letter queue, none left in the queue', async () => {
    const dlq = await s.ctx.aws.depth(s.ctx.env.SQS_DEAD_LETTER_QUEUE_URL);
    const q = await s.ctx.aws.depth(s.ctx.env.SQS_QUEUE_URL);
    return dlq.total === 3 && q.total === 0;
  });
  const bodies = new Set<string>();
  await waitFor('all three dead-lettered bodies readable', async () => {
    for (const b of await s.ctx.aws.peekBodies(s.ctx.env.SQS_DEAD_LETTER_QUEUE_URL)) bodies.add(b);
    return bodies.size === 3;
  });
  expect([...bodies].sort()).toEqual([...bad].sort());
  expect(s.op.alive).toBe(true);
  expect((await s.op.get('/healthz')).status).toBe(200);
  const malformed = (await s.op.metric(`${M}messages_malformed_total`)) - malformedBefore;
  expect(malformed).toBe(3 * 5);
  expect(await s.op.metric(`${M}messages_malformed_total`, { code: 'ForeignSource' })).toBeGreaterThanOrEqual(5);
});
