/**
 * Security under the chart's own ServiceAccount, in namespaced mode with an
 * allow-list:
 * - the ServiceAccount cannot read Secrets anywhere, cannot patch workloads outside
 *   the watched namespace, and the operator runs with its token only (a rotation
 *   that succeeds proves the chart's RBAC suffices);
 * - events from an account or a region outside the allow-list restart nothing and
 *   are counted as NotAllowed;
 * - hostile bodies (oversized, deeply nested, invalid UTF-8 as SQS delivers it)
 *   are malformed, dead-lettered, and crash nothing;
 * - no secret value appears in any log line, mapping status or Event (the ledger
 *   checks that in every scenario).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { METRIC_PREFIX } from '../../operator/src/core/metrics';
import { canI, type Release } from '../support/chart';
import type { OperatorProcess } from '../support/operator';
import { waitFor } from '../support/wait';
import type { Secret } from '../support/aws';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { appendRow } from './support/report';

const S = 'S security: RBAC, allow-list, hostile bodies';
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
jest.setTimeout(600_000);
const run = promisify(execFile);

let f: FaultFile;
let watched: string;
let unwatched: string;
let r: Release;
let op: OperatorProcess;
let secret: Secret;
const rss = new RssSampler();

beforeAll(async () => {
  f = new FaultFile(S);
  await f.setup();
  watched = await f.namespace('sec-watched');
  unwatched = await f.namespace('sec-other');
  r = await f.install('sec', [
    '--set',
    `watchNamespaces={${watched}}`,
    '--set-string',
    `aws.allowedAccountIds={${ACCOUNT}}`,
    '--set-string',
    `aws.allowedRegions={${REGION}}`,
  ]);
  secret = await f.createSecret('sec');
  for (const ns of [watched, unwatched]) {
    await f.ctx.kube.createWorkload('Deployment', ns, 'app', { app: 'sec' });
    await f.mapping(ns, 'm', secret, { app: 'sec' });
  }
  await f.waitRunning(watched, ['app']);
  await f.waitRunning(unwatched, ['app']);
  op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(watched, ['m']);
});
afterAll(async () => f.teardown());

test('the ServiceAccount reads no Secrets, patches nothing outside the watched namespace, and is all the operator runs as', async () => {
  const t0 = Date.now();
  const sa = `system:serviceaccount:${r.namespace}:${r.serviceAccount}`;
  const checks: [string, boolean, boolean][] = [
    [`get secrets -n ${watched}`, await canI(f.ctx, r, 'get', 'secrets', watched), false],
    [`list secrets -n ${watched}`, await canI(f.ctx, r, 'list', 'secrets', watched), false],
    [`watch secrets -n ${watched}`, await canI(f.ctx, r, 'watch', 'secrets', watched), false],
    [`get secrets -n ${r.namespace}`, await canI(f.ctx, r, 'get', 'secrets', r.namespace), false],
    ['list secrets -A', await canI(f.ctx, r, 'list', 'secrets'), false],
    [`patch deployments -n ${unwatched}`, await canI(f.ctx, r, 'patch', 'deployments.apps', unwatched), false],
    [`patch statefulsets -n ${unwatched}`, await canI(f.ctx, r, 'patch', 'statefulsets.apps', unwatched), false],
    [`patch daemonsets -n ${unwatched}`, await canI(f.ctx, r, 'patch', 'daemonsets.apps', unwatched), false],
    ['list deployments -A', await canI(f.ctx, r, 'list', 'deployments.apps'), false],
    [`patch deployments -n ${watched}`, await canI(f.ctx, r, 'patch', 'deployments.apps', watched), true],
  ];
  for (const [what, got, want] of checks) progress(S, `can-i ${what} as ${sa}: ${got ? 'yes' : 'no'} (want ${want ? 'yes' : 'no'})`);
  // The operator's kubeconfig is that ServiceAccount's token and nothing else.
  const whoami = JSON.parse((await run('kubectl', ['auth', 'whoami', '-o', 'json', '--kubeconfig', r.kubeconfig])).stdout) as { status: { userInfo: { username: string } } };
  const failed = checks.filter(([, got, want]) => got !== want).map(([what]) => what);
  appendRow({
    scenario: 'S1 RBAC of the chart ServiceAccount (namespaced)',
    eventsSent: 0,
    restartsExpected: 0,
    restartsObserved: 0,
    lost: 0,
    doubled: 0,
    durationMs: Date.now() - t0,
    passed: failed.length === 0 && whoami.status.userInfo.username === sa,
    notes: `${checks.length - failed.length}/${checks.length} can-i answers as expected; operator authenticates as ${whoami.status.userInfo.username}`,
  });
  expect(failed).toEqual([]);
  expect(whoami.status.userInfo.username).toBe(sa);
});

test('events from outside the allow-list restart nothing and are counted; the allowed one rolls only the watched namespace', async () => {
  const ledger = new Ledger(f.ctx, 'S2 allow-list + namespace isolation');
  ledger.track(watched, ['app'], [secret], true);
  ledger.track(unwatched, ['app'], [secret], false);
  // A new AWSCURRENT exists, so anything that let a foreign event through would restart.
  const next = await f.putValue(secret);
  const suffix = secret.arn.slice(-7);
  const foreign = (account: string, region: string) =>
    JSON.stringify({
      version: '0',
      id: randomUUID(),
      'detail-type': 'Secret Label Updated',
      source: 'aws.secretsmanager',
      account,
      time: new Date().toISOString(),
      region,
      resources: [`arn:aws:secretsmanager:${region}:${account}:secret:${secret.name}${suffix}`],
      detail: { name: secret.name, labelUpdated: 'AWSCURRENT', versionId: next.version },
    });
  const received = await op.metric(`${METRIC_PREFIX}messages_received_total`);
  await f.ctx.aws.sendRaw(foreign('999999999999', REGION));
  await f.ctx.aws.sendRaw(foreign(ACCOUNT, 'eu-west-1'));
  ledger.sent(2);
  await waitFor(
    'both foreign events handled and deleted',
    async () => (await op.metric(`${METRIC_PREFIX}messages_received_total`)) >= received + 2 && (await f.ctx.aws.depth(f.ctx.env.SQS_QUEUE_URL)).total === 0,
    { timeoutMs: 60_000 },
  );
  // A message is deleted only after its restarts: any restart they caused has happened by now.
  const notAllowed = await op.metric(`${METRIC_PREFIX}messages_ignored_total`, { reason: 'NotAllowed' });
  const afterForeign = await f.ctx.kube.templateAnnotation('Deployment', watched, 'app');
  const problems = [
    ...(notAllowed === 2 ? [] : [`messages_ignored_total{reason="NotAllowed"} is ${notAllowed}, expected 2`]),
    ...(afterForeign === undefined ? [] : [`a foreign event restarted ${watched}/app: ${afterForeign}`]),
  ];
  progress(S, `foreign account and foreign region: NotAllowed = ${notAllowed}, watched app template after them: ${afterForeign ?? '(untouched)'}`);

  // The genuine event: restarts the watched namespace only, with nothing but the chart's RBAC.
  await f.ctx.aws.sendLabelUpdated(next);
  ledger.sent();
  const result = await ledger.check({
    alive: [op],
    secretValues: f.secretValues,
    problems,
    notes: `NotAllowed ${await op.metric(`${METRIC_PREFIX}messages_ignored_total`, { reason: 'NotAllowed' })} (foreign account, foreign region); unwatched namespace untouched`,
  });
  expect(result.problems).toEqual([]);
  expect(await op.metric(`${METRIC_PREFIX}messages_ignored_total`, { reason: 'NotAllowed' })).toBe(2);
});

test('oversized, deeply nested and invalid-UTF-8 bodies are malformed, dead-lettered, and crash nothing', async () => {
  const ledger = new Ledger(f.ctx, 'S3 hostile bodies');
  const event = (source: string) => JSON.stringify({ version: '0', id: randomUUID(), 'detail-type': 'Secret Label Updated', source, account: ACCOUNT, time: new Date().toISOString(), region: REGION, resources: [], detail: {} });
  const bodies: [string, string, string][] = [
    ['oversized (300 KiB JSON)', JSON.stringify({ pad: 'x'.repeat(300 * 1024) }), 'TooLarge'],
    ['30,000-deep nested objects', `${'{"a":'.repeat(30_000)}1${'}'.repeat(30_000)}`, 'NotAnEvent'],
    ['120,000-deep nested arrays', `${'['.repeat(120_000)}${']'.repeat(120_000)}`, 'NotAnEvent'],
    // SQS (and moto) refuse bytes that are not UTF-8 and lone surrogates: what reaches a consumer
    // is what a decoder made of them, U+FFFD, or the escapes left as text.
    ['U+FFFD from invalid UTF-8, not JSON', '\uFFFD\uFFFD(\uFFFD', 'NotJson'],
    ['U+FFFD inside an event source', event('aws.secrets\uFFFDmanager'), 'ForeignSource'],
    ['percent-escaped invalid bytes', '{"a":"%FF%FE%C3("', 'NotJson'],
  ];
  const before = Object.fromEntries(await Promise.all(bodies.map(async ([, , code]) => [code, await op.metric(`${METRIC_PREFIX}messages_malformed_total`, { code })] as const)));
  for (const [, body] of bodies) await f.ctx.aws.sendRaw(body);
  ledger.sent(bodies.length);
  progress(S, `sent ${bodies.map(([what]) => what).join(', ')}`);
  const result = await ledger.check({ alive: [op], deadLetters: bodies.length, restartsExpected: 0, rss, secretValues: f.secretValues, notes: () => `${bodies.length} bodies dead-lettered after 5 receives each; operator alive` });
  expect(result.problems).toEqual([]);
  const want: Record<string, number> = {};
  for (const [, , code] of bodies) want[code] = (want[code] ?? before[code]) + 5;
  const got = Object.fromEntries(await Promise.all(Object.keys(want).map(async (code) => [code, await op.metric(`${METRIC_PREFIX}messages_malformed_total`, { code })] as const)));
  expect(got).toEqual(want);
});
