/**
 * Issue 25, item 7: `kubectl srm preview` and `kubectl srm status` against the stack's
 * real API server, run as a user runs them: the single file `npm run build` writes
 * (dist/kubectl-srm.js), found by kubectl as a plugin on PATH, with the stack's
 * kubeconfig. No operator runs and the command has no AWS access: it answers from what
 * is in the cluster. The fixtures: mappings with a canary policy (a canary selector, a
 * ceiling of 2), a window closed now, a suspended mapping, a halted one, another
 * secret's mapping, and an ExternalSecret (ESO's CRDs only: discovery reads the object
 * and its SecretStore, no controller is needed for a preview) with one consumer.
 * status.rollout is written here as the rollout engine's record; the last case has an
 * operator of its own (watching only its namespace) write it, and reads it mid-rollout.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MERGE_PATCH } from '../operator/src/kube/patch';
import { GROUP, PLURAL, VERSION } from '../operator/src/mappings/model';
import { canonicalSecretKey, resolvedSecretRef } from '../operator/src/secrets/secretId';
import { Fixture } from './support/fixture';
import { applyEsoCrds, createStoreObjects, ESO_API_VERSION, ESO_GROUP, ESO_VERSION, removeEsoCrds } from './support/eso';
import type { Release } from './support/chart';
import { kubectl, rand, startOperatorFor, value, waitMappingSynced } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(180_000);

const REPO = path.resolve(__dirname, '..');
const BUNDLE = path.join(REPO, 'dist', 'kubectl-srm.js');

let fixture: Fixture;
let ns: string;
let pluginDir: string;
let esoApplied = false;
const secret = `preview/db-${rand(6)}`;
const HALT = `canary Deployment/pay-1 is not healthy on versions ${secret}@v2: its new pods are in CrashLoopBackOff`;
const arn = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${secret}-AbCdEf`;
/** A daily allow window that opens two hours from now: closed now, for an hour or more. */
const opensAt = (() => {
  const t = new Date();
  t.setUTCMinutes(0, 0, 0);
  t.setUTCHours(t.getUTCHours() + 2);
  return t;
})();

/** `kubectl srm …` with the stack's kubeconfig, the plugin on PATH. */
function srm(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['srm', ...args], { env: { ...process.env, PATH: `${pluginDir}${path.delimiter}${process.env.PATH}`, KUBECONFIG: fixture.ctx.env.KUBECONFIG, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A rollout record as the engine writes it (rollout/engine.ts RolloutRecord), with the summary beside it. */
const record = (phase: string, workloads: string[], states: string, extra: Record<string, unknown> = {}) => ({
  versions: { [secret]: 'v2' },
  phase,
  summary: phase,
  since: Math.floor(Date.now() / 1000),
  workloads,
  canaries: 1,
  states,
  stampedAt: [...states].map((s) => (s === 'p' ? 0 : 1)),
  handled: {},
  ...extra,
});

async function mapping(name: string, spec: Record<string, unknown>, rollout?: Record<string, unknown>): Promise<void> {
  await fixture.ctx.kube.createMapping(ns, name, spec);
  if (!rollout) return;
  await fixture.ctx.kube.custom.patchNamespacedCustomObjectStatus(GROUP, VERSION, ns, PLURAL, name, { status: { rollout } }, undefined, undefined, undefined, MERGE_PATCH);
}

beforeAll(async () => {
  expect(fs.existsSync(BUNDLE)).toBe(true); // globalSetup's npm run build writes it
  pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), 'srm-plugin-'));
  fs.copyFileSync(BUNDLE, path.join(pluginDir, 'kubectl-srm'));
  fs.chmodSync(path.join(pluginDir, 'kubectl-srm'), 0o755);

  fixture = new Fixture();
  await fixture.prepare();
  ns = await fixture.namespace('preview');
  // A run that died before its teardown may have left them behind.
  await removeEsoCrds(fixture.ctx);
  await applyEsoCrds(fixture.ctx);
  esoApplied = true;
  const kube = fixture.ctx.kube;
  for (const n of ['api-1', 'api-2', 'api-3', 'api-4']) await kube.createWorkload('Deployment', ns, n, { app: 'shop', ...(n === 'api-2' ? { tier: 'canary' } : {}) });
  await kube.createWorkload('Deployment', ns, 'web-1', { app: 'web' });
  await kube.createWorkload('StatefulSet', ns, 'batch-1', { app: 'batch' });
  await kube.createWorkload('Deployment', ns, 'pay-1', { app: 'pay' });
  await kube.createWorkload('Deployment', ns, 'es-consumer', { app: 'reads-es' }, { envFromSecret: 'db-es' });
  await kube.createWorkload('Deployment', ns, 'bystander', { app: 'none' });

  await mapping('canaried', { secretId: secret, selector: { matchLabels: { app: 'shop' } }, rollout: { maxConcurrent: 2, canary: { count: 1, selector: { matchLabels: { tier: 'canary' } } } } }, { ...record('Rolling', ['Deployment/api-2', 'Deployment/api-1', 'Deployment/api-3', 'Deployment/api-4'], 'hspp'), summary: 'Rolling 1/4' });
  await mapping('windowed', { secretId: secret, selector: { matchLabels: { app: 'web' } }, rollout: { windows: [{ kind: 'allow', schedule: `0 ${opensAt.getUTCHours()} * * *`, duration: '1h', timeZone: 'UTC' }] } });
  await mapping('suspended', { secretId: secret, selector: { matchLabels: { app: 'batch' } }, suspend: true });
  await mapping('halted', { secretId: secret, selector: { matchLabels: { app: 'pay' } } }, record('Halted', ['Deployment/pay-1'], 'f', { reason: 'CanaryUnhealthy', message: HALT }));
  await mapping('other', { secretId: `${secret}-other`, selector: { matchLabels: { app: 'none' } } });
  await createStoreObjects(fixture.ctx, ns, 'aws', 'us-east-1');
  await kube.custom.createNamespacedCustomObject(ESO_GROUP, ESO_VERSION, ns, 'externalsecrets', {
    apiVersion: ESO_API_VERSION,
    kind: 'ExternalSecret',
    metadata: { name: 'db-es', namespace: ns },
    spec: { refreshInterval: '1h', secretStoreRef: { name: 'aws', kind: 'SecretStore' }, target: { name: 'db-es' }, data: [{ secretKey: 'value', remoteRef: { key: secret } }] },
  });
});

afterAll(async () => {
  try {
    await fixture?.teardown();
  } finally {
    if (esoApplied) await removeEsoCrds(fixture.ctx);
    if (pluginDir) fs.rmSync(pluginDir, { recursive: true, force: true });
  }
});

/** Only this file's namespace: the stack may hold other files' mappings of other secrets, never of this one. */
type PreviewJson = { secret: string; workloads: number; sources: { via: string; namespace: string; name: string; maxConcurrent: number; canaries: number; waves: { canary: boolean; workloads: string[] }[]; hold?: { reason: string; message: string; nextOpen?: string } }[] };

describe('kubectl srm preview', () => {
  it('-o json: the sources of the secret named by ARN, their order in waves, and what holds them now', async () => {
    const r = await srm(['preview', arn, '-o', 'json']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const answer = JSON.parse(r.stdout) as PreviewJson;
    expect(answer.secret).toBe(arn);
    expect(answer.workloads).toBe(8);
    expect(answer.sources).toEqual([
      {
        via: 'SecretsRotationMapping',
        namespace: ns,
        name: 'canaried',
        maxConcurrent: 2,
        canaries: 1,
        waves: [
          { canary: true, workloads: ['Deployment/api-2'] },
          { canary: false, workloads: ['Deployment/api-1', 'Deployment/api-3'] },
          { canary: false, workloads: ['Deployment/api-4'] },
        ],
      },
      { via: 'SecretsRotationMapping', namespace: ns, name: 'halted', maxConcurrent: 10, canaries: 0, waves: [{ canary: false, workloads: ['Deployment/pay-1'] }], hold: { reason: 'Halted', message: HALT } },
      { via: 'SecretsRotationMapping', namespace: ns, name: 'suspended', maxConcurrent: 10, canaries: 0, waves: [{ canary: false, workloads: ['StatefulSet/batch-1'] }], hold: { reason: 'Suspended', message: 'spec.suspend is true: the change is recorded, nothing is restarted' } },
      {
        via: 'SecretsRotationMapping',
        namespace: ns,
        name: 'windowed',
        maxConcurrent: 10,
        canaries: 0,
        waves: [{ canary: false, workloads: ['Deployment/web-1'] }],
        hold: { reason: 'OutsideWindow', message: `outside the restart windows: the next opens at ${opensAt.toISOString()}`, nextOpen: opensAt.toISOString() },
      },
      { via: 'ExternalSecret', namespace: ns, name: 'db-es', maxConcurrent: 10, canaries: 0, waves: [{ canary: false, workloads: ['Deployment/es-consumer'] }] },
    ]);
  });

  it('a table by default, and the ceiling from --max-concurrent for mappings without their own', async () => {
    const r = await srm(['preview', secret, '--max-concurrent', '3']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`A change to ${secret} would restart 8 workload(s):`);
    expect(lines[1].split(/\s{2,}/)).toEqual(['SOURCE', 'NAMESPACE', 'WAVE', 'WORKLOAD', 'HELD']);
    const rows = lines.slice(2).map((l) => l.split(/\s{2,}/));
    expect(rows).toEqual([
      ['SecretsRotationMapping/canaried', ns, 'canary 1', 'Deployment/api-2', '-'],
      ['SecretsRotationMapping/canaried', ns, 'wave 1', 'Deployment/api-1', '-'],
      ['SecretsRotationMapping/canaried', ns, 'wave 1', 'Deployment/api-3', '-'],
      ['SecretsRotationMapping/canaried', ns, 'wave 2', 'Deployment/api-4', '-'],
      ['SecretsRotationMapping/halted', ns, 'wave 1', 'Deployment/pay-1', `Halted: ${HALT}`],
      ['SecretsRotationMapping/suspended', ns, 'wave 1', 'StatefulSet/batch-1', 'Suspended: spec.suspend is true: the change is recorded, nothing is restarted'],
      ['SecretsRotationMapping/windowed', ns, 'wave 1', 'Deployment/web-1', `OutsideWindow: outside the restart windows: the next opens at ${opensAt.toISOString()}`],
      ['ExternalSecret/db-es', ns, 'wave 1', 'Deployment/es-consumer', '-'],
    ]);
  });

  it('a secret nothing names: says so', async () => {
    const r = await srm(['preview', `preview/nobody-${rand(6)}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^No mapping or discovered source names preview\/nobody-\w+: a change to it restarts nothing\.\n$/);
  });
});

describe('kubectl srm status', () => {
  it('-o json and the table: the rollouts recorded in status.rollout, with the halt reason', async () => {
    const json = await srm(['status', '-n', ns, '-o', 'json']);
    expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({
      rollouts: [
        {
          namespace: ns,
          mapping: 'canaried',
          phase: 'Rolling',
          summary: 'Rolling 1/4',
          versions: { [secret]: 'v2' },
          rolling: ['Deployment/api-1'],
          healthy: ['Deployment/api-2'],
          waiting: ['Deployment/api-3', 'Deployment/api-4'],
          failed: [],
          deferred: [],
          gone: [],
        },
        expect.objectContaining({ mapping: 'halted', phase: 'Halted', failed: ['Deployment/pay-1'], reason: 'CanaryUnhealthy', message: HALT }),
      ],
    });
    const table = await srm(['status', '-n', ns, 'halted']);
    expect(table.code).toBe(0);
    expect(table.stdout.trimEnd().split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['NAMESPACE', 'MAPPING', 'PHASE', 'ROLLING', 'HEALTHY', 'WAITING', 'FAILED', 'REASON'],
      [ns, 'halted', 'Halted', '0', '0', '0', '1', `CanaryUnhealthy: ${HALT}`],
    ]);
  });

  it('bad arguments: one line, exit 2; a cluster that does not answer: one line, exit 1', async () => {
    const bad = await srm(['status', '-o', 'yaml']);
    expect(bad).toEqual({ code: 2, stdout: '', stderr: 'srm: -o must be table or json, got "yaml" (see kubectl srm --help)\n' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'srm-kubeconfig-'));
    const kubeconfig = path.join(dir, 'config');
    fs.writeFileSync(
      kubeconfig,
      JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:9' } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }),
    );
    const down = await srm(['status'], { KUBECONFIG: kubeconfig });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr).toMatch(/^srm: cannot read the cluster at http:\/\/127\.0\.0\.1:9: .+\n$/);
  });
});

describe('kubectl srm status of a rollout the operator runs', () => {
  it('mid-rollout: what is rolling, healthy and waiting, as the operator recorded it', async () => {
    const kube = fixture.ctx.kube;
    const live = await fixture.namespace('preview-live');
    const releaseNs = await fixture.namespace('preview-sro');
    const release: Release = await fixture.installRelease(`sro-preview-${rand(4)}`, releaseNs, ['--set', 'replicaCount=1', '--set', 'driftCheckIntervalSeconds=0', '--set', 'sqs.waitTimeSeconds=5', '--set', `watchNamespaces={${live}}`]);
    await startOperatorFor(fixture.ctx, release);
    const names = ['live-0', 'live-1', 'live-2', 'live-3', 'live-4'];
    for (const n of names) await kube.createWorkload('Deployment', live, n, { app: 'live' });
    for (const n of names) await kube.waitForRunning(live, n);
    // The second wave can never become healthy (its new pods cannot be scheduled), so the rollout stays where it is.
    for (const n of ['live-2', 'live-3']) await kubectl(fixture.ctx, ['patch', 'deployment', n, '-n', live, '--type', 'merge', '-p', JSON.stringify({ spec: { template: { spec: { nodeSelector: { 'srm.test/nowhere': 'true' } } } } })]);
    const created = await fixture.ctx.aws.createSecret(`preview-live-${rand()}`);
    await kube.createMapping(live, 'live', { secretId: created.name, selector: { matchLabels: { app: 'live' } }, rollout: { maxConcurrent: 2 } });
    await waitMappingSynced(fixture.ctx, live, 'live', created.version);
    const rotated = await fixture.ctx.aws.putSecretValue(created, value());
    await fixture.ctx.aws.sendLabelUpdated(rotated);
    await waitFor('the operator records the first wave healthy and the second rolling', async () => ((await kube.mapping(live, 'live')).status?.rollout as { states?: string } | undefined)?.states === 'hhssp', { timeoutMs: 90_000 });

    const json = await srm(['status', '-n', live, '-o', 'json']);
    expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({
      rollouts: [
        {
          namespace: live,
          mapping: 'live',
          phase: 'Rolling',
          summary: 'Rolling 2/5',
          versions: { [canonicalSecretKey(resolvedSecretRef(created.arn, created.name))]: rotated.version },
          rolling: ['Deployment/live-2', 'Deployment/live-3'],
          healthy: ['Deployment/live-0', 'Deployment/live-1'],
          waiting: ['Deployment/live-4'],
          failed: [],
          deferred: [],
          gone: [],
        },
      ],
    });
    const table = await srm(['status', '-n', live, 'live']);
    expect(table.code).toBe(0);
    expect(table.stdout.trimEnd().split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['NAMESPACE', 'MAPPING', 'PHASE', 'ROLLING', 'HEALTHY', 'WAITING', 'FAILED', 'REASON'],
      [live, 'live', 'Rolling 2/5', '2', '2', '1', '0', '-'],
    ]);
  });
});
