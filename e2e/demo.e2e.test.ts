/**
 * `npm run demo` end to end, on the stack the e2e run brought up: it exits 0, shows
 * what a person watches (the operator's report, the old pod terminating and a new one
 * running, the mapping's record), never prints a secret value, and leaves nothing behind.
 * Also `--eso`, and `--bad-secret` (about 130 s on the real node; without one it refuses
 * before making anything, saying why).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stackDir } from '../scripts/stack/paths';
import { e2eContext, type E2eContext } from './support/context';
import { helm } from './support/chart';
import { REPO_ROOT } from './support/kube';

jest.setTimeout(180_000);

let ctx: E2eContext;

beforeAll(async () => {
  ctx = e2eContext();
  await ctx.emptyQueues();
});

function runDemo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(REPO_ROOT, 'scripts', 'demo.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('npm run demo rotates the sample secret, shows the roll, and cleans up after itself', async () => {
  const { code, out } = await runDemo([]);
  if (code !== 0) process.stderr.write(out);
  expect(code).toBe(0);

  expect(out).toContain('deployment "operatortest" successfully rolled out');
  expect(out).toContain("put-secret-value --secret-id eks-controller-test-secret --secret-string '<new value>'");
  expect(out).toMatch(/\[operator\] \S+ {2}workload restarted {2}.*workload=Deployment\/default\/operatortest/);
  expect(out).toMatch(/\[operator\] \S+ {2}rotation handled {2}.*result=Rotated/);
  const watched = out.split('\n').filter((l) => l.startsWith('[pods -w]'));
  expect(watched.some((l) => /operatortest-\S+\s+1\/1\s+Running/.test(l))).toBe(true);
  expect(watched.some((l) => /operatortest-\S+\s+\S+\s+Terminating/.test(l))).toBe(true);
  expect(out).toMatch(/secretsrotationmapping-sample\s+eks-controller-test-secret\s+1\s+\d+s\s+True/);
  expect(out).toMatch(/From put-secret-value to the new pod running: \d+\.\d s/);
  // The chart is pushed to the stack's registry and installed from there.
  expect(out).toMatch(/\$ helm push secrets-rotation-operator-\S+\.tgz oci:\/\/127\.0\.0\.1:\d+\/charts --ca-file /);
  expect(out).toMatch(/\$ helm install secrets-rotation-operator oci:\/\/127\.0\.0\.1:\d+\/charts\/secrets-rotation-operator --version \S+/);
  if (ctx.env.STACK_REAL_NODE) {
    // The operator as users run it: the chart's pod on the real node, its log through kubectl logs.
    expect(out).toMatch(/\$ kubectl logs -f -n secrets-rotation-operator secrets-rotation-operator-\S+/);
    expect(out).toContain(`The chart's pod runs on the real node ${ctx.env.STACK_REAL_NODE}`);
    // Its image, and the sample app's, pushed with skopeo and pulled by the node by digest.
    expect(out).toMatch(/\$ skopeo copy .*oci-archive:\.image\/secrets-rotation-operator-\S+\.oci\.tar docker:\/\/127\.0\.0\.1:\d+\/secrets-rotation-operator:/);
    expect(out).toMatch(/--set image\.repository=127\.0\.0\.1:\d+\/secrets-rotation-operator --set image\.digest=sha256:[0-9a-f]{64}/);
    // The sample app: every pod on the new fingerprint, no failed request through the roll.
    expect(out).toMatch(/From put-secret-value to every pod serving the new value: \d+\.\d s/);
    expect(out).toMatch(/\d+ requests during the roll, 0 failed/);
    expect(watched.some((l) => /fingerprint-app-\S+\s+\S+\s+Terminating/.test(l))).toBe(true);
  }
  expect(out).toContain('everything cleaned up');
  // The demo's values are generated (scripts/kit/aws.ts) and must never be shown.
  expect(out).not.toMatch(/(initial|rotated)-[0-9a-f]{8}-/);

  expect(fs.existsSync(path.join(stackDir(), 'demo.json'))).toBe(false);
  expect((await helm(ctx, ['list', '--all-namespaces', '--short'])).stdout).not.toMatch(/^secrets-rotation-operator$/m);
  const deployments = (await ctx.kube.apps.listNamespacedDeployment('default')).body.items.map((d) => d.metadata?.name);
  expect(deployments).not.toContain('operatortest');
  await expect(ctx.aws.currentVersion('eks-controller-test-secret')).rejects.toThrow();
});

test('npm run demo -- --eso: ESO syncs because the operator asked, the Deployment rolls once, no mapping, and it cleans up', async () => {
  const { code, out } = await runDemo(['--eso']);
  if (code !== 0) process.stderr.write(out);
  expect(code).toBe(0);

  expect(out).toMatch(/\$ helm install secrets-rotation-operator oci:\/\/\S+ --version \S+/);
  expect(out).toMatch(/discovery\.externalSecrets\.enabled=true/);
  expect(out).toContain('externalsecret.external-secrets.io/app-db created (synced');
  expect(out).toMatch(/ExternalSecret\/app-db {2}Discovered {2}rotates workloads using Secret app-db when AWS secret demo\/eso-app-\S+/);
  expect(out).toMatch(/\[operator\] \S+ {2}ExternalSecret synced by ESO on request/);
  expect(out).toMatch(/\[operator\] \S+ {2}workload restarted {2}.*workload=Deployment\/eso-demo\/app/);
  expect(out).toMatch(/ExternalSecret\/app-db {2}Normal {2}Rotated {2}/);
  expect(out).toMatch(/Deployment\/app {2}Normal {2}Restarted {2}restarted by secrets-rotation-operator/);
  expect(out).toMatch(/put-secret-value → ESO synced \(asked by the operator\): \d+\.\d s; → Deployment rolled: \d+\.\d s/);
  if (ctx.env.STACK_REAL_NODE) expect(out).toContain("The new pods serve the new value's fingerprint");
  expect(out).toContain('ESO demo done in');
  expect(out).toContain('everything cleaned up');
  expect(out).not.toMatch(/(initial|rotated)-[0-9a-f]{8}-/);
  expect(fs.existsSync(path.join(stackDir(), 'demo.json'))).toBe(false);
  expect((await ctx.kube.ext.listCustomResourceDefinition()).body.items.map((c) => c.spec.group)).not.toContain('external-secrets.io');
  expect((await ctx.kube.core.listNamespace()).body.items.map((n) => n.metadata?.name)).not.toContain('eso-demo');
});

test('npm run demo -- --bad-secret: the canary halts on a value the apps refuse while the rest keep serving, a good value rolls all four, and it cleans up', async () => {
  const { code, out } = await runDemo(['--bad-secret']);
  if (!ctx.env.STACK_REAL_NODE) {
    expect(code).toBe(1);
    expect(out).toContain('--bad-secret needs the real node (only real containers can refuse a value)');
    expect(fs.existsSync(path.join(stackDir(), 'demo.json'))).toBe(false);
    return;
  }
  if (code !== 0) process.stderr.write(out);
  expect(code).toBe(0);

  const watched = out.split('\n').filter((l) => l.startsWith('[srm -w]'));
  expect(watched[0]).toMatch(/NAME\s+SECRET\s+WORKLOADS\s+LAST ROTATION\s+READY\s+ROLLOUT\s+AGE/);
  // The ROLLOUT column through both changes: the canary alone, the halt; then the canary again, the rest, complete.
  const phases = watched.slice(1).map((l) => /\s(Canary \d+\/4|Rolling \d+\/4|Halted|Complete 4\/4)\s/.exec(l)?.[1]).filter(Boolean);
  expect(phases.indexOf('Halted')).toBeGreaterThan(phases.indexOf('Canary 0/4'));
  expect(phases.slice(phases.indexOf('Halted'))).toContain('Complete 4/4');
  expect(out).toMatch(/\[operator\] \S+ {2}workload restarted {2}.*workload=Deployment\/canary-demo\/shop-canary/);
  expect(out).toMatch(/Halted \d+\.\d s after put-secret-value/);
  expect(out).toMatch(/shop\s+demo\/shop-db\s+4\s+\S+\s+True\s+Halted\s/);
  expect(out).toMatch(/"type":"RolloutHalted","status":"True","reason":"CanaryUnhealthy","message":"canary Deployment\/shop-canary is not healthy/);
  expect(out).toMatch(/Warning\s+CanaryUnhealthy\s+secretsrotationmapping\/shop/);
  expect(out).toMatch(/secrets_rotation_operator_rollouts_halted_total 1/);
  expect(out).toMatch(/\d+ requests so far, 0 failed; every answer the old fingerprint: yes/);
  for (const n of ['shop-0', 'shop-1', 'shop-2']) expect(out).toContain(`# ${n}: never restarted`);
  expect(out).toMatch(/shop\s+demo\/shop-db\s+4\s+\S+\s+True\s+Complete 4\/4\s/);
  expect(out).toMatch(/From the good put-secret-value to all four serving the new value: \d+\.\d s/);
  expect(out).toMatch(/\d+ requests through both changes, 0 failed/);
  expect(out).not.toContain('bad(!)');
  expect(out).toContain('Bad-secret demo done in');
  expect(out).toContain('everything cleaned up');
  // The values are generated (scripts/kit/canary.ts) and must never be shown.
  expect(out).not.toMatch(/(good|bad)-[0-9a-f]{8}-/);
  expect(fs.existsSync(path.join(stackDir(), 'demo.json'))).toBe(false);
  expect((await ctx.kube.core.listNamespace()).body.items.map((n) => n.metadata?.name)).not.toContain('canary-demo');
  await expect(ctx.aws.currentVersion('demo/shop-db')).rejects.toThrow();
  // About 130 s here (a 30 s health deadline, two rolls, the namespace's deletion awaited): its own timeout.
}, 300_000);
