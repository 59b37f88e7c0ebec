/**
 * Smoke: the real API server and moto, the operator as a child process. A secret
 * changes; the mapped Deployment's pods are replaced and the mapping's status and
 * Events record it. Fails if the operator does nothing.
 */
import { e2eContext, stopOperators, type E2eContext } from './support/context';
import { waitFor } from './support/wait';

jest.setTimeout(240_000);

let ctx: E2eContext;
let ns: string;

beforeAll(async () => {
  ctx = e2eContext();
  await ctx.kube.installCrd();
  await ctx.emptyQueues();
  ns = await ctx.kube.createNamespace('smoke');
});

afterAll(async () => {
  await stopOperators(ctx);
  await ctx.kube.deleteNamespace(ns);
});

test('a rotated secret rolls the mapped Deployment and is recorded on the mapping', async () => {
  const secret = await ctx.aws.createSecret(`smoke-${ns}`);
  await ctx.kube.createWorkload('Deployment', ns, 'web', { environment: 'operatortest' });
  await ctx.kube.createMapping(ns, 'web-secret', { secretId: secret.name, selector: { matchLabels: { environment: 'operatortest' } } });
  const before = await ctx.kube.waitForRunning(ns, 'web');

  await ctx.startOperator({ WATCH_NAMESPACES: ns });
  await waitFor('mapping Ready', async () => (await ctx.kube.mapping(ns, 'web-secret')).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

  const rotated = await ctx.aws.putSecretValue(secret);
  await ctx.aws.sendLabelUpdated(rotated);

  await ctx.kube.waitForReplaced(ns, 'web', before);
  expect(await ctx.kube.replicaSetCount(ns, 'web')).toBe(2);
  const status = (await ctx.kube.mapping(ns, 'web-secret')).status!;
  expect(status.lastRotation).toMatchObject({ secretVersion: rotated.version, workloads: [{ kind: 'Deployment', name: 'web', result: 'Restarted' }] });
  expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'RotationSucceeded', status: 'True' }));
  const events = await ctx.kube.eventsFor(ns, 'web-secret');
  expect(events.map((e) => e.reason)).toContain('Rotated');
  await waitFor('message deleted', async () => (await ctx.aws.depth(ctx.env.SQS_QUEUE_URL)).total === 0);
});
