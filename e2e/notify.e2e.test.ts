/**
 * Notifications against a local HTTP receiver: the chart installed with
 * `notifications.webhookUrlSecret` (the URL, token and all, in a Secret of the release
 * namespace, put into the container's env as the kubelet would), the operator as the
 * release's ServiceAccount, moto and the stack. One change of a secret mapped twice:
 * one mapping's Deployment rolls, the other's restart is refused by the API server (a
 * ValidatingAdmissionPolicy), and both rotations are posted, the first after a retry
 * (the receiver answers 503 once). The token never appears in the operator's logs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RotationNotification } from '../operator/src/notify/payload';
import { installChart, uninstallChart, type Release } from './support/chart';
import { e2eContext, stopOperators, type E2eContext } from './support/context';
import type { OperatorProcess } from './support/operator';
import { kubectl, kubectlStdin, M, rand, snapshot, startOperatorFor, waitForNewPods, waitMappingSynced } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const TOKEN = `tok3n-${rand(8)}`;
const POLICY = `sro-e2e-notify-deny-${rand(4)}`;

let ctx: E2eContext;
let receiver: http.Server;
const received: RotationNotification[] = [];
let answered = 0;
let ns: string;
let releaseNs: string;
let release: Release | undefined;
let op: OperatorProcess;

beforeAll(async () => {
  ctx = e2eContext();
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // The first request fails, as a webhook having a bad moment does.
      if (answered++ === 0 || req.url !== `/hooks/${TOKEN}`) return void res.writeHead(answered === 1 ? 503 : 404).end();
      received.push(JSON.parse(body) as RotationNotification);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/${TOKEN}`;

  await ctx.kube.installCrd();
  await ctx.emptyQueues();
  ns = await ctx.kube.createNamespace('notify');
  releaseNs = await ctx.kube.createNamespace('notify-sro');
  await ctx.kube.core.createNamespacedSecret(releaseNs, { metadata: { name: 'webhook' }, stringData: { url } });
  release = await installChart(ctx, `sro-notify-${rand(4)}`, releaseNs, [
    '--set', 'replicaCount=1', '--set', 'driftCheckIntervalSeconds=0', '--set', 'sqs.waitTimeSeconds=5', '--set', `watchNamespaces={${ns}}`,
    '--set', 'notifications.webhookUrlSecret.name=webhook', '--set', 'notifications.clusterName=e2e', '--set', 'notifications.deadlineSeconds=30',
  ]);
  expect(release.env.NOTIFY_WEBHOOK_URL).toBe(url);
  op = await startOperatorFor(ctx, release);

  // The API server refuses any change to the Deployment named "locked" in this namespace.
  const policy = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${POLICY}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [UPDATE], resources: [deployments]}]
  validations:
    - expression: "object.metadata.name != 'locked'"
      message: the e2e test locks this Deployment
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${POLICY}}
spec:
  policyName: ${POLICY}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${ns}}}
`;
  const applied = await kubectlStdin(ctx, ['apply', '-f', '-'], policy);
  expect(applied).toMatchObject({ code: 0 });
});

afterAll(async () => {
  const logs = op?.raw.join('\n') ?? '';
  await stopOperators(ctx);
  if (release) await uninstallChart(ctx, release).catch(() => undefined);
  await kubectl(ctx, ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', POLICY, '--ignore-not-found']);
  for (const n of [ns, releaseNs]) if (n) await ctx.kube.deleteNamespace(n);
  await ctx.emptyQueues();
  await new Promise<void>((r) => receiver.close(() => r()));
  // Checked last so that a failure above still cleans up.
  expect(logs).not.toContain(TOKEN);
});

test('a rotation and a failed restart both notify, after a retry, with a secret-free payload', async () => {
  const secret = await ctx.aws.createSecret(`notify-${ns}`);
  for (const name of ['web', 'locked']) {
    await ctx.kube.createWorkload('Deployment', ns, name, { app: name });
    await ctx.kube.createMapping(ns, name, { secretId: secret.name, selector: { matchLabels: { app: name } } });
    await waitMappingSynced(ctx, ns, name, secret.version);
  }
  const web = await snapshot(ctx, 'Deployment', ns, 'web');
  await waitFor('the admission policy refuses changes to Deployment locked', async () => {
    const r = await kubectl(ctx, ['-n', ns, 'annotate', 'deployment', 'locked', 'probe=1', '--overwrite', '--dry-run=server']);
    return r.code !== 0 && /locks this Deployment/.test(r.stderr);
  });

  const rotated = await ctx.aws.putSecretValue(secret);
  const eventId = await ctx.aws.sendLabelUpdated(rotated);
  await waitForNewPods(ctx, web);
  const byMapping = await waitFor('a notification for each mapping', () => {
    const mine = received.filter((n) => n.eventId === eventId);
    const m = new Map(mine.map((n) => [n.mapping.name, n]));
    return m.has('web') && m.has('locked') ? m : undefined;
  });

  const common = { cluster: 'e2e', secretId: expect.stringContaining(`:secret:notify-${ns}`), version: rotated.version, eventId };
  expect(byMapping.get('web')).toMatchObject({
    ...common,
    outcome: 'succeeded',
    reason: 'Rotated',
    mapping: { namespace: ns, name: 'web' },
    summary: { Restarted: 1 },
    workloads: [{ kind: 'Deployment', name: 'web', result: 'Restarted' }],
    text: expect.stringMatching(new RegExp(`^\\[e2e\\] Rotation succeeded for mapping ${ns}/web: `)),
  });
  expect(byMapping.get('locked')).toMatchObject({
    ...common,
    outcome: 'failed',
    reason: 'RotationFailed',
    mapping: { namespace: ns, name: 'locked' },
    summary: { Failed: 1 },
    workloads: [{ kind: 'Deployment', name: 'locked', result: 'Failed', reason: expect.stringMatching(/forbidden|denied/) }],
    text: expect.stringMatching(new RegExp(`^\\[e2e\\] Rotation FAILED for mapping ${ns}/locked: `)),
  });
  // Nothing in a notification is the secret's value (moto keeps it; the operator never asked).
  expect(JSON.stringify([...byMapping.values()])).not.toMatch(/rotated-|initial-/);
  expect(await op.metric(`${M}notifications_total`, { result: 'sent' })).toBeGreaterThanOrEqual(2);
  expect(op.logs.some((l) => l.message === 'notification attempt failed; retrying' && l.error === 'HTTP 503' && l.webhook === `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/…`)).toBe(true);
});
