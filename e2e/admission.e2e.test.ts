/**
 * Issue 16 item 7 end to end: the chart's ValidatingAdmissionPolicies on the real API
 * server. The operator's own ServiceAccount (a TokenRequest token, as the pod has) can
 * change nothing in a workload but the restart annotations, while a real rotation still
 * rolls the pods; without the policy the same token changes the image (the threat). A
 * namespace maps only the secrets its annotation allows, whatever form the id takes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ALLOWED_SECRET_PREFIXES_ANNOTATION } from '../operator/src/core/names';
import { indexNames, parseSecretId } from '../operator/src/secrets/secretId';
import { RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION } from '../operator/src/workloads/workload';
import { chartSource, helm, localValues, readRelease, uninstallChart, type Release } from './support/chart';
import { e2eContext, type E2eContext } from './support/context';
import { endScenario, kubectl, kubectlStdin, rand, snapshot, startScenario, value, waitForNewPods, waitLastRotation, waitMappingSynced, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';
import { admitChange, decide, type Observation } from '../operator/src/rollout/engine';

jest.setTimeout(300_000);

/** The object of `kind` the release installed (cluster-scoped policies are named after the release). */
async function releaseObject(ctx: E2eContext, release: Release, kind: string): Promise<k8s.KubernetesObject> {
  const docs = (await helm(ctx, ['get', 'manifest', release.name, '--namespace', release.namespace])).stdout.split('\n---').map((d) => k8s.loadYaml<k8s.KubernetesObject>(d));
  const found = docs.find((o) => o?.kind === kind);
  if (!found) throw new Error(`release ${release.name} has no ${kind}`);
  return found;
}

/**
 * A strategic merge patch of a Deployment as the release's ServiceAccount, the way the
 * operator sends its restart (kubectl patch would need `get`, which the chart does not grant).
 */
async function patchAsOperator(release: Release, namespace: string, name: string, patch: object): Promise<{ status: number; message: string }> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(release.kubeconfig);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const options = { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_STRATEGIC_MERGE_PATCH } };
  try {
    const res = await apps.patchNamespacedDeployment(name, namespace, patch, undefined, undefined, 'secrets-rotation-operator', undefined, undefined, options);
    return { status: res.response.statusCode ?? 0, message: '' };
  } catch (err) {
    const e = err as { statusCode?: number; body?: { message?: string } };
    if (e.statusCode === undefined) throw err;
    return { status: e.statusCode, message: e.body?.message ?? '' };
  }
}

const templateAnnotations = (annotations: Record<string, string>) => ({ spec: { template: { metadata: { annotations } } } });

describe('restartOnly policy (on by default)', () => {
  let s: Scenario;
  let policyName: string;
  beforeAll(async () => {
    s = await startScenario({ prefix: 'vap', namespaces: ['vap-app'] });
    policyName = (await releaseObject(s.ctx, s.release, 'ValidatingAdmissionPolicy')).metadata!.name!;
  });
  afterAll(() => endScenario(s));

  test('the chart installs the policy and a binding that denies', async () => {
    const policy = await kubectl(s.ctx, ['get', 'validatingadmissionpolicy', policyName, '-o', 'jsonpath={.spec.failurePolicy}']);
    expect(policy.stdout).toBe('Fail');
    const binding = await kubectl(s.ctx, ['get', 'validatingadmissionpolicybinding', policyName, '-o', 'jsonpath={.spec.validationActions}']);
    expect(binding.stdout).toBe('["Deny"]');
  });

  test("a real rotation still rolls the workload: the operator's restart patch passes the policy", async () => {
    const [ns] = s.namespaces;
    const secret = await s.ctx.aws.createSecret(`vap-${rand()}`, value());
    await s.ctx.kube.createWorkload('Deployment', ns, 'web', { app: 'web' });
    await s.ctx.kube.createMapping(ns, 'web', { secretId: secret.name, selector: { matchLabels: { app: 'web' } } });
    const before = await snapshot(s.ctx, 'Deployment', ns, 'web');
    await waitMappingSynced(s.ctx, ns, 'web', secret.version);

    const rotated = await s.ctx.aws.putSecretValue(secret, value());
    await s.ctx.aws.sendLabelUpdated(rotated);
    await waitForNewPods(s.ctx, before);
    await waitLastRotation(s.ctx, ns, 'web', rotated.version);
    expect(Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, 'web'))).toEqual([rotated.version]);
  });

  test("the operator's identity cannot change the image, labels, owners, replicas or other annotations; the admin still can", async () => {
    const [ns] = s.namespaces;
    await s.ctx.kube.createWorkload('Deployment', ns, 'target', { app: 'target' });
    const refused = async (what: string, patch: object, changes: string) => {
      const out = await patchAsOperator(s.release, ns, 'target', patch);
      expect({ what, ...out }).toEqual({
        what,
        status: 403,
        message: expect.stringContaining(`may change only the pod template annotations ${RESTARTED_AT_ANNOTATION} and ${SECRET_VERSIONS_ANNOTATION} of deployments ${ns}/target; this request changes ${changes}`),
      });
    };
    await refused('image', { spec: { template: { spec: { containers: [{ name: 'app', image: 'attacker/shell:latest' }] } } } }, 'spec.template.spec');
    await refused('ServiceAccount of the pods', { spec: { template: { spec: { serviceAccountName: 'admin' } } } }, 'spec.template.spec');
    await refused('workload labels', { metadata: { labels: { app: 'other' } } }, 'metadata.labels');
    await refused('owner references (the garbage collector would delete it)', { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: '00000000-0000-0000-0000-000000000000' }] } }, 'metadata.ownerReferences');
    await refused('replicas', { spec: { replicas: 5 } }, 'spec.replicas');
    await refused('pod labels', { spec: { template: { metadata: { labels: { extra: 'yes' } } } } }, 'spec.template.metadata.labels');
    await refused('another pod annotation', templateAnnotations({ 'example.com/inject': 'true' }), 'spec.template.metadata.annotations[example.com/inject]');
    await refused('a restart annotation with something else', { spec: { replicas: 3, template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: new Date().toISOString() } } } } }, 'spec.replicas');

    const restart = await patchAsOperator(s.release, ns, 'target', templateAnnotations({ [RESTARTED_AT_ANNOTATION]: new Date().toISOString(), [SECRET_VERSIONS_ANNOTATION]: '{"x":"v1"}' }));
    expect(restart).toEqual({ status: 200, message: '' });
    const w = await s.ctx.kube.readWorkload('Deployment', ns, 'target');
    expect(w.spec?.template?.spec?.containers[0].image).toBe('nginx:1.27');

    const admin = await kubectl(s.ctx, ['set', 'image', 'deployment/target', '-n', ns, 'app=nginx:1.28']);
    expect({ code: admin.code, stderr: admin.stderr }).toEqual({ code: 0, stderr: '' });
  });

  test("a workload of about 1 MB (near the API server's request limit) is restarted within the policy's CEL cost budget", async () => {
    const [ns] = s.namespaces;
    const env = Array.from({ length: 4000 }, (_, i) => ({ name: `VAR_${i}`, value: 'x'.repeat(240) }));
    const big = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'big', namespace: ns, labels: { app: 'big' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'big' } },
        template: { metadata: { labels: { app: 'big' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', env }] } },
      },
    };
    const body = JSON.stringify(big);
    expect(body.length).toBeGreaterThan(1_000_000);
    const made = await kubectlStdin(s.ctx, ['create', '-f', '-'], body);
    expect({ code: made.code, stderr: made.stderr }).toEqual({ code: 0, stderr: '' });
    const restart = await patchAsOperator(s.release, ns, 'big', templateAnnotations({ [RESTARTED_AT_ANNOTATION]: new Date().toISOString() }));
    expect(restart).toEqual({ status: 200, message: '' });
    const changed = await patchAsOperator(s.release, ns, 'big', { spec: { template: { spec: { containers: [{ name: 'app', image: 'attacker/shell:latest' }] } } } });
    expect(changed).toEqual({ status: 403, message: expect.stringContaining('this request changes spec.template.spec') });
  });

  test("a pod template of 200 containers, close to 1 MiB, is restarted within the policy's CEL cost budget; a change to one container is still refused", async () => {
    // The policy compares old and new object field by field: many list elements, each
    // with fields of its own, is the shape that costs most per byte.
    const [ns] = s.namespaces;
    const containers = Array.from({ length: 200 }, (_, c) => ({
      name: `c${c}`,
      image: 'nginx:1.27',
      ports: [{ name: `p${c}`, containerPort: 8000 + c }],
      env: Array.from({ length: 18 }, (_, i) => ({ name: `VAR_${i}`, value: 'x'.repeat(240) })),
      resources: { requests: { cpu: '1m', memory: '1Mi' } },
    }));
    const many = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'many', namespace: ns, labels: { app: 'many' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'many' } }, template: { metadata: { labels: { app: 'many' } }, spec: { containers } } },
    };
    const body = JSON.stringify(many);
    expect(body.length).toBeGreaterThan(900_000);
    expect(body.length).toBeLessThan(1 << 20);
    const made = await kubectlStdin(s.ctx, ['create', '-f', '-'], body);
    expect({ code: made.code, stderr: made.stderr }).toEqual({ code: 0, stderr: '' });
    const restart = await patchAsOperator(s.release, ns, 'many', templateAnnotations({ [RESTARTED_AT_ANNOTATION]: new Date().toISOString(), [SECRET_VERSIONS_ANNOTATION]: '{"x":"v1"}' }));
    expect(restart).toEqual({ status: 200, message: '' });
    const changed = await patchAsOperator(s.release, ns, 'many', { spec: { template: { spec: { containers: [{ name: 'c199', image: 'attacker/shell:latest' }] } } } });
    expect(changed).toEqual({ status: 403, message: expect.stringContaining('this request changes spec.template.spec') });
  });
});

describe('without the restartOnly policy', () => {
  test("the operator's token can change a workload's image: the power the policy takes away", async () => {
    const ctx = e2eContext();
    const releaseNs = await ctx.kube.createNamespace('vapoff-sro');
    const ns = await ctx.kube.createNamespace('vapoff-app');
    const name = `sro-vapoff-${rand(4)}`;
    try {
      await helm(ctx, ['install', name, ...chartSource(ctx), '--namespace', releaseNs, ...localValues(ctx), '--set', 'admissionPolicies.restartOnly.enabled=false']);
      const release = await readRelease(ctx, name, releaseNs);
      await ctx.kube.createWorkload('Deployment', ns, 'target', { app: 'target' });
      const out = await patchAsOperator(release, ns, 'target', { spec: { template: { spec: { containers: [{ name: 'app', image: 'attacker/shell:latest' }] } } } });
      expect(out).toEqual({ status: 200, message: '' });
      expect((await ctx.kube.readWorkload('Deployment', ns, 'target')).spec?.template?.spec?.containers[0].image).toBe('attacker/shell:latest');
    } finally {
      await helm(ctx, ['uninstall', name, '--namespace', releaseNs, '--wait']).catch(() => undefined);
      for (const n of [ns, releaseNs]) await ctx.kube.deleteNamespace(n);
    }
  });
});

describe('secretPrefixes policy (opt-in)', () => {
  const ctx = e2eContext();
  const selectorLabel = `vap-e2e-${rand(4)}`;
  let release: Release;
  let teamA: string;
  let trap: string;
  let bare: string;
  const created: string[] = [];

  /** A namespace the policy applies to (the binding selects the label), with `prefixes` as its annotation unless undefined. */
  async function tenantNamespace(prefix: string, prefixes?: string): Promise<string> {
    const ns = await ctx.kube.createNamespace(prefix);
    created.push(ns);
    expect((await kubectl(ctx, ['label', 'namespace', ns, `${selectorLabel}=true`])).code).toBe(0);
    if (prefixes !== undefined) expect((await kubectl(ctx, ['annotate', 'namespace', ns, `${ALLOWED_SECRET_PREFIXES_ANNOTATION}=${prefixes}`])).code).toBe(0);
    return ns;
  }

  const mappingYaml = (ns: string, name: string, idField: 'secretId' | 'SecretID', id: string) => `apiVersion: awssecretsoperator.secretoperator/v1
kind: SecretsRotationMapping
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ${idField}: ${JSON.stringify(id)}
  selector: {matchLabels: {app: web}}
`;

  /** Creates the mapping (server-side dry run unless `persist`); the API server's answer. */
  function create(ns: string, id: string, opts: { name?: string; persist?: boolean; idField?: 'secretId' | 'SecretID' } = {}) {
    return kubectlStdin(ctx, ['create', ...(opts.persist ? [] : ['--dry-run=server']), '-f', '-'], mappingYaml(ns, opts.name ?? `m-${rand(6)}`, opts.idField ?? 'secretId', id));
  }

  beforeAll(async () => {
    await ctx.kube.installCrd();
    const releaseNs = await ctx.kube.createNamespace('vapsp-sro');
    created.push(releaseNs);
    const name = `sro-vapsp-${rand(4)}`;
    await helm(ctx, [
      'install', name, ...chartSource(ctx), '--namespace', releaseNs, ...localValues(ctx),
      '--set', 'admissionPolicies.secretPrefixes.enabled=true',
      '--set-string', `admissionPolicies.secretPrefixes.namespaceSelector.matchLabels.${selectorLabel}=true`,
    ]);
    release = await readRelease(ctx, name, releaseNs);
    teamA = await tenantNamespace('vapsp-a', 'team-a/, shared/');
    trap = await tenantNamespace('vapsp-trap', 'app-abc');
    bare = await tenantNamespace('vapsp-none');
    // The binding is in force once a mapping outside the prefixes is refused.
    await waitFor('the secretPrefixes policy refuses', async () => (await create(teamA, 'team-b/db')).code !== 0);
  });
  afterAll(async () => {
    if (release) await uninstallChart(ctx, release).catch(() => undefined);
    for (const ns of created) await ctx.kube.deleteNamespace(ns);
  });

  test('a mapping outside the allowed prefixes is refused with a message naming the secret and the prefixes; one inside is accepted', async () => {
    const out = await create(teamA, 'team-b/db', { persist: true, name: 'outside' });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`secret team-b/db is not one namespace ${teamA} may map: its annotation ${ALLOWED_SECRET_PREFIXES_ANNOTATION} allows secret names starting with team-a/ or shared/`);
    expect((await kubectl(ctx, ['get', 'srm', 'outside', '-n', teamA])).stderr).toContain('NotFound');

    const inside = await create(teamA, 'team-a/db', { persist: true, name: 'inside' });
    expect({ code: inside.code, stderr: inside.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await ctx.kube.mapping(teamA, 'inside')).spec?.secretId).toBe('team-a/db');
  });

  test('every form of secret id is judged by every name the operator would read it as (no ARN gets around a prefix)', async () => {
    const arn = arnOf;
    const cases: [namespace: string, prefixes: string[], id: string][] = [
      [teamA, ['team-a/', 'shared/'], 'team-a/db'],
      [teamA, ['team-a/', 'shared/'], 'shared/tls'],
      [teamA, ['team-a/', 'shared/'], 'team-b/db'],
      [teamA, ['team-a/', 'shared/'], 'team-a'],
      [teamA, ['team-a/', 'shared/'], arn('team-a/db')],
      [teamA, ['team-a/', 'shared/'], arn('team-a/db-AbCdEf')],
      [teamA, ['team-a/', 'shared/'], arn('team-b/db')],
      [teamA, ['team-a/', 'shared/'], arn('team-b/db-AbCdEf')],
      [teamA, ['team-a/', 'shared/'], `arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:team-b/db`],
      // `app-abcdef` as an ARN may be the full ARN of `app`: the prefix must allow both readings.
      [trap, ['app-abc'], arn('app-abcdef')],
      [trap, ['app-abc'], arn('app-abcdef-QwErTy')],
      [trap, ['app-abc'], 'app-abcdef'],
      [trap, ['app-abc'], arn('app-ab')],
    ];
    const verdicts = [];
    for (const [ns, prefixes, id] of cases) {
      const allowedByTheOperatorsReading = indexNames(parseSecretId(id)).every((n) => prefixes.some((p) => n.startsWith(p)));
      const out = await create(ns, id);
      verdicts.push({ id, prefixes, admitted: out.code === 0, expected: allowedByTheOperatorsReading, refusal: out.code === 0 ? '' : /may map/.test(out.stderr) ? 'policy' : out.stderr });
    }
    expect(verdicts).toEqual(verdicts.map((v) => ({ ...v, admitted: v.expected, refusal: v.expected ? '' : 'policy' })));
    // Both answers occur, so the comparison can fail either way.
    expect(new Set(verdicts.map((v) => v.admitted))).toEqual(new Set([true, false]));
    const trapped = await create(trap, arn('app-abcdef'));
    expect(trapped.stderr).toContain('may be the full ARN of app, so that name must be allowed too');
  });

  test("the legacy spec.SecretID is checked too, and a namespace without the annotation may map no secret", async () => {
    const legacy = await create(teamA, 'team-b/db', { idField: 'SecretID' });
    expect(legacy.stderr).toContain(`secret team-b/db is not one namespace ${teamA} may map`);
    const none = await create(bare, 'anything');
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain(`namespace ${bare} may map no secret: its annotation ${ALLOWED_SECRET_PREFIXES_ANNOTATION} lists no secret name prefix (spec.secretId is anything)`);
  });

  test("changing a mapping's secret to one outside the prefixes is refused; other edits go through", async () => {
    expect((await create(teamA, 'team-a/cache', { persist: true, name: 'edit' })).code).toBe(0);
    const moved = await kubectl(ctx, ['patch', 'srm', 'edit', '-n', teamA, '--type=merge', '-p', JSON.stringify({ spec: { secretId: arnOf('team-b/cache') } })]);
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toContain(`secret ${arnOf('team-b/cache')} is not one namespace ${teamA} may map`);
    const relabelled = await kubectl(ctx, ['label', 'srm', 'edit', '-n', teamA, 'owner=team-a']);
    expect({ code: relabelled.code, stderr: relabelled.stderr }).toEqual({ code: 0, stderr: '' });
  });

  test('namespaces outside namespaceSelector are not checked', async () => {
    const other = await ctx.kube.createNamespace('vapsp-other');
    created.push(other);
    const out = await create(other, 'team-b/db');
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' });
  });
});

function arnOf(name: string): string {
  return `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`;
}

describe("a mapping's rollout policy (spec.rollout, spec.suspend) on the real API server", () => {
  const ctx = e2eContext();
  let ns: string;
  beforeAll(async () => {
    await ctx.kube.installCrd();
    ns = await ctx.kube.createNamespace('policy');
  });
  afterAll(() => ctx.kube.deleteNamespace(ns));

  const mapping = (name: string, extra: object) => JSON.stringify({
    apiVersion: 'awssecretsoperator.secretoperator/v1',
    kind: 'SecretsRotationMapping',
    metadata: { name, namespace: ns },
    spec: { secretId: 'app/db', selector: { matchLabels: { app: 'web' } }, ...extra },
  });
  const dryRun = (extra: object) => kubectlStdin(ctx, ['create', '--dry-run=server', '-f', '-'], mapping(`m-${rand(6)}`, extra));
  const window = (w: object) => ({ rollout: { windows: [{ kind: 'allow', schedule: '0 22 * * MON-FRI', duration: '2h', timeZone: 'Europe/Berlin', ...w }] } });

  test('a well-formed policy is accepted: canary by count or percent with a selector, windows, settle, health deadline, suspend', async () => {
    const good: object[] = [
      { suspend: true },
      { rollout: { maxConcurrent: 1, canary: { count: 1 }, healthTimeoutSeconds: 1, settleSeconds: 0 } },
      { rollout: { canary: { percent: 100, selector: { matchLabels: { tier: 'canary' } } } } },
      { rollout: { windows: [
        { kind: 'allow', schedule: '0 22 * * MON-FRI', duration: '2h', timeZone: 'Europe/Berlin' },
        { kind: 'deny', schedule: '*/15 0-6,20-23 1,15 JAN-MAR,12 0', duration: '1h30m15s', timeZone: 'America/New_York' },
        { kind: 'allow', schedule: '0 0 * * *', duration: '24h', timeZone: 'UTC' },
        { kind: 'allow', schedule: '0-59/30 9-17 1-31 JAN-DEC SUN-SAT', duration: '1h', timeZone: 'UTC' },
        { kind: 'deny', schedule: '0 0 * 1-MAR 5-7', duration: '1h', timeZone: 'UTC' },
        { kind: 'allow', schedule: '30 1 * * *', duration: '1h', timeZone: 'Asia/Kolkata' },
        { kind: 'allow', schedule: '30 1 * * *', duration: '1h', timeZone: 'Asia/Calcutta' },
      ] } },
    ];
    const answers = [];
    for (const extra of good) answers.push({ extra, ...(({ code, stderr }) => ({ code, stderr }))(await dryRun(extra)) });
    expect(answers).toEqual(good.map((extra) => ({ extra, code: 0, stderr: '' })));
  });

  test('each malformed policy is refused with a message naming the field and what is wrong', async () => {
    const bad: [what: string, extra: object, message: string][] = [
      ['both count and percent', { rollout: { canary: { count: 1, percent: 10 } } }, 'spec.rollout.canary needs exactly one of count or percent'],
      ['neither count nor percent', { rollout: { canary: { selector: { matchLabels: { tier: 'canary' } } } } }, 'spec.rollout.canary needs exactly one of count or percent'],
      ['canary over 100 %', { rollout: { canary: { percent: 101 } } }, 'spec.rollout.canary.percent: Invalid value: 101: spec.rollout.canary.percent in body should be less than or equal to 100'],
      ['canary of 0 %', { rollout: { canary: { percent: 0 } } }, 'spec.rollout.canary.percent in body should be greater than or equal to 1'],
      ['a canary count of 0', { rollout: { canary: { count: 0 } } }, 'spec.rollout.canary.count in body should be greater than or equal to 1'],
      ['a negative maxConcurrent', { rollout: { maxConcurrent: -1 } }, 'spec.rollout.maxConcurrent in body should be greater than or equal to 1'],
      ['a negative settle', { rollout: { settleSeconds: -5 } }, 'spec.rollout.settleSeconds in body should be greater than or equal to 0'],
      ['a zero health deadline', { rollout: { healthTimeoutSeconds: 0 } }, 'spec.rollout.healthTimeoutSeconds in body should be greater than or equal to 1'],
      ['a cron of 6 fields', window({ schedule: '0 0 22 * * MON' }), 'schedule must be a cron schedule of 5 fields'],
      ['minute 60', window({ schedule: '60 22 * * *' }), 'schedule must be a cron schedule of 5 fields'],
      ['hour 24', window({ schedule: '0 24 * * *' }), 'schedule must be a cron schedule of 5 fields'],
      ['a step of 0', window({ schedule: '*/0 * * * *' }), 'schedule must be a cron schedule of 5 fields'],
      ['a day name in the month field', window({ schedule: '0 22 * MON *' }), 'schedule must be a cron schedule of 5 fields'],
      ['a reversed range of minutes', window({ schedule: '5-3 * * * *' }), 'schedule has a range whose start is after its end'],
      ['a reversed range of week days', window({ schedule: '0 22 * * FRI-MON' }), 'schedule has a range whose start is after its end'],
      ['a reversed range of months, among good ones', window({ schedule: '0-30 9-17 * DEC-JAN 1-5' }), 'schedule has a range whose start is after its end'],
      ['an unknown time zone', window({ timeZone: 'Mars/Olympus_Mons' }), 'timeZone must be an IANA time zone name'],
      ['a time zone abbreviation', window({ timeZone: 'CEST' }), 'timeZone must be an IANA time zone name'],
      ['a duration without unit', window({ duration: '90' }), 'duration must be a duration such as 1h, 30m or 1h30m'],
      ['a zero duration', window({ duration: '0h' }), 'duration must be a duration such as 1h, 30m or 1h30m'],
      ['an unknown window kind', window({ kind: 'maybe' }), 'spec.rollout.windows[0].kind: Unsupported value: "maybe"'],
      ['a window without schedule', { rollout: { windows: [{ kind: 'allow', duration: '1h', timeZone: 'UTC' }] } }, 'spec.rollout.windows[0].schedule: Required value'],
      ['suspend as a string', { suspend: 'yes' }, 'spec.suspend: Invalid value: "string"'],
    ];
    const answers = [];
    for (const [what, extra, message] of bad) {
      const out = await dryRun(extra);
      answers.push({ what, refused: out.code !== 0, namesIt: out.stderr.includes(message), stderr: out.stderr.includes(message) ? '' : out.stderr });
    }
    expect(answers).toEqual(bad.map(([what]) => ({ what, refused: true, namesIt: true, stderr: '' })));
  });

  test("a rollout record of 1,000 workloads with 253-character names is stored in the mapping's status as written", async () => {
    const made = await kubectlStdin(ctx, ['create', '-f', '-'], mapping('thousand', { rollout: { canary: { percent: 5 } } }));
    expect({ code: made.code, stderr: made.stderr }).toEqual({ code: 0, stderr: '' });
    const workloads = Array.from({ length: 1000 }, (_, i) => `Deployment/${`w${i}-`.padEnd(253, 'x')}`);
    const policy = { maxConcurrent: 10, canary: { percent: 5 }, settleSeconds: 0, windows: [], suspend: false };
    const now = new Date();
    const observed: Observation = { health: 'progressing', hasVersion: false };
    const d = decide(admitChange(undefined, { versions: { 'app/db': 'v2' }, workloads }, policy, now), policy, { workloads: new Map(workloads.map((w) => [w, observed])) }, now, { override: 'incident-1' });
    const status = { rollout: { ...d.record, summary: d.summary } };
    const body = JSON.stringify({ status });
    expect(body.length).toBeGreaterThan(250_000);
    // Too long for one argument (Linux caps one at 128 KiB): a file.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'srm-status-')), 'patch.json');
    fs.writeFileSync(file, body);
    const patched = await kubectl(ctx, ['patch', 'srm', 'thousand', '-n', ns, '--subresource=status', '--type=merge', `--patch-file=${file}`]);
    fs.rmSync(path.dirname(file), { recursive: true });
    expect({ code: patched.code, stderr: patched.stderr }).toEqual({ code: 0, stderr: '' });
    const stored = await kubectl(ctx, ['get', 'srm', 'thousand', '-n', ns, '-o', 'jsonpath={.status.rollout}']);
    expect(JSON.parse(stored.stdout)).toEqual(status.rollout);
    expect(d.summary).toBe('Canary 0/1000');
  });

  test('kubectl get srm shows the rollout phase the operator writes in status.rollout.summary', async () => {
    const made = await kubectlStdin(ctx, ['create', '-f', '-'], mapping('phased', { rollout: { canary: { count: 1 } } }));
    expect({ code: made.code, stderr: made.stderr }).toEqual({ code: 0, stderr: '' });
    const patched = await kubectl(ctx, ['patch', 'srm', 'phased', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { rollout: { phase: 'Rolling', summary: 'Rolling 3/40' } } })]);
    expect({ code: patched.code, stderr: patched.stderr }).toEqual({ code: 0, stderr: '' });
    const table = await kubectl(ctx, ['get', 'srm', 'phased', '-n', ns]);
    const [header, row] = table.stdout.split('\n');
    expect(header).toMatch(/\bROLLOUT\b/);
    expect(row.slice(header.indexOf('ROLLOUT')).startsWith('Rolling 3/40')).toBe(true);
  });
});
