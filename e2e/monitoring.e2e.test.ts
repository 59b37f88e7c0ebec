/**
 * The chart's alert rules (files/alerts.yaml) and Grafana dashboard (files/dashboard.json)
 * read only what a running operator exports. The operator runs against the stack (the
 * real API server, moto), rolls a secret's change, catches one by drift and receives a
 * message that is not JSON, so that its labelled series exist; then every metric the
 * rules and panels read must be a family of its /metrics, and every label they match on
 * or group by a label of that family's series (a family with no series yet, e.g.
 * sqs_errors_total with no error, is held to the labels metrics.ts declares).
 */
import { METRIC_PREFIX as M, createMetrics } from '../operator/src/core/metrics';
import { declaredLabels, expressions, familiesOf, missingFrom } from '../operator/test/support/monitoring';
import { releaseVersion } from '../scripts/version';
import { e2eContext, stopOperators, type E2eContext } from './support/context';
import type { OperatorProcess } from './support/operator';
import { waitFor } from './support/wait';

jest.setTimeout(240_000);

let ctx: E2eContext;
let ns: string;
let op: OperatorProcess;

beforeAll(async () => {
  ctx = e2eContext();
  await ctx.kube.installCrd();
  await ctx.emptyQueues();
  ns = await ctx.kube.createNamespace('monitoring');
});

afterAll(async () => {
  await stopOperators(ctx);
  await ctx.kube.deleteNamespace(ns);
});

test('a running operator exports every metric and label the alert rules and the dashboard read', async () => {
  const secret = await ctx.aws.createSecret(`monitoring-${ns}`);
  await ctx.kube.createWorkload('Deployment', ns, 'web', { app: 'web' });
  await ctx.kube.createMapping(ns, 'web-secret', { secretId: secret.name, selector: { matchLabels: { app: 'web' } } });
  op = await ctx.startOperator({ WATCH_NAMESPACES: ns, DRIFT_CHECK_INTERVAL_SECONDS: '3' });
  await waitFor('mapping Ready', async () => (await ctx.kube.mapping(ns, 'web-secret')).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

  // A rotation by its event, one caught by drift (no event sent), and a message that is not JSON.
  const rotated = await ctx.aws.putSecretValue(secret);
  await ctx.aws.sendLabelUpdated(rotated);
  // The rotation is counted before its status is written.
  await waitFor('the rotation recorded', async () => (await ctx.kube.mapping(ns, 'web-secret')).status?.lastRotation?.secretVersion === rotated.version);
  await ctx.aws.putSecretValue(secret);
  await waitFor('a drift detection counted', async () => (await op.metric(`${M}drift_detected_total`)) >= 1);
  await ctx.aws.sendRaw('this is not an event');
  await waitFor('a malformed message counted', async () => (await op.metric(`${M}messages_malformed_total`, { code: 'NotJson' })) >= 1);

  const scraped = (await op.get('/metrics')).body;
  expect(expressions().length).toBeGreaterThan(30);
  expect(missingFrom(scraped, declaredLabels(createMetrics(false).registry))).toEqual([]);

  // The signals the alerts stand on, as the running operator reports them.
  const families = familiesOf(scraped);
  expect(families.get(`${M}rotations_total`)).toMatchObject({ type: 'counter', labels: new Set(['result', 'source']) });
  expect(families.get(`${M}restarts_total`)).toMatchObject({ type: 'counter', labels: new Set(['kind', 'result']) });
  expect(families.get(`${M}queue_to_restart_seconds`)).toMatchObject({ type: 'histogram', labels: new Set(['le']) });
  expect(await op.metric(`${M}leader`)).toBe(1);
  const lastReceive = await op.metric(`${M}sqs_last_receive_timestamp_seconds`);
  expect(Date.now() / 1000 - lastReceive).toBeLessThan(30);

  // Which release runs on which Node.js: package.json's version, the Node.js it runs on.
  expect(families.get(`${M}build_info`)).toMatchObject({ type: 'gauge', labels: new Set(['version', 'node_version']), series: 1 });
  expect(await op.metric(`${M}build_info`, { version: releaseVersion(), node_version: process.version })).toBe(1);
  // The start-up line says the same, for those reading logs.
  expect(op.logs.find((l) => l.message === 'starting')).toMatchObject({ release: releaseVersion(), node: process.version });
});
