/**
 * Issue 4 end to end: the chart as users meet it. `helm install` into the real API
 * server, the operator under the chart's own ServiceAccount, what `kubectl get srm`
 * shows, what the API server refuses, least-privilege RBAC, and a clean uninstall.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { canI, chartSource, helm, localValues } from './support/chart';
import { CRD_FILE, REPO_ROOT } from './support/kube';
import { GROUP, KIND, PLURAL } from '../operator/src/mappings/model';
import { e2eContext } from './support/context';
import { endScenario, kubectl, kubectlStdin, rand, snapshot, startScenario, value, waitForNewPods, waitLastRotation, waitMappingSynced, type Scenario } from './support/scenario';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

describe('cluster-wide install (the default)', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ prefix: 'chart', namespaces: ['chart-app'] });
  });
  afterAll(() => endScenario(s));

  test('a rotation works end to end under the chart ServiceAccount and kubectl get srm shows it', async () => {
    const [ns] = s.namespaces;
    const secret = await s.ctx.aws.createSecret(`chart-${rand()}`, value());
    await s.ctx.kube.createWorkload('Deployment', ns, 'web', { app: 'web' });
    await s.ctx.kube.createMapping(ns, 'web', { secretId: secret.name, selector: { matchLabels: { app: 'web' } } });
    const before = await snapshot(s.ctx, 'Deployment', ns, 'web');
    await waitMappingSynced(s.ctx, ns, 'web', secret.version);

    const rotated = await s.ctx.aws.putSecretValue(secret, value());
    await s.ctx.aws.sendLabelUpdated(rotated);
    await waitForNewPods(s.ctx, before);
    await waitLastRotation(s.ctx, ns, 'web', rotated.version);

    const table = await kubectl(s.ctx, ['get', 'secretsrotationmappings', '-n', ns]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['NAME', 'SECRET', 'WORKLOADS', 'LAST ROTATION', 'READY', 'ROLLOUT', 'AGE']);
    expect(row.split(/\s{2,}/).slice(0, 5)).toEqual(['web', secret.name, '1', expect.stringMatching(/^\d+s$/), 'True']);
    const short = await kubectl(s.ctx, ['get', 'srm', '-n', ns, '-o', 'name']);
    expect(short.stdout.trim()).toBe(`${KIND.toLowerCase()}.${GROUP}/web`);
  });

  test("the chart's ServiceAccount cannot read Secrets, and can do what the operator needs", async () => {
    const [ns] = s.namespaces;
    expect(await canI(s.ctx, s.release, 'get', 'secrets')).toBe(false);
    expect(await canI(s.ctx, s.release, 'list', 'secrets')).toBe(false);
    expect(await canI(s.ctx, s.release, 'get', 'secrets', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'watch', 'secretsrotationmappings.awssecretsoperator.secretoperator')).toBe(true);
    expect(await canI(s.ctx, s.release, 'patch', 'deployments.apps', ns)).toBe(true);
    expect(await canI(s.ctx, s.release, 'delete', 'deployments.apps', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'delete', 'pods', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'update', 'leases.coordination.k8s.io', ns)).toBe(false);
    // Least privilege: verbs nothing in the operator uses are not granted (every e2e test runs without them).
    expect(await canI(s.ctx, s.release, 'get', 'deployments.apps', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'get', 'secretsrotationmappings.awssecretsoperator.secretoperator', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'update', `${PLURAL}.${GROUP}/status`, ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'patch', 'events', ns)).toBe(false);
    expect(await canI(s.ctx, s.release, 'create', 'events', ns)).toBe(true);
    expect(await canI(s.ctx, s.release, 'patch', `${PLURAL}.${GROUP}/status`, ns)).toBe(true);
  });

  test('a mapping with a bad spec is refused by the API server with a message naming the field', async () => {
    const [ns] = s.namespaces;
    const bad = `apiVersion: awssecretsoperator.secretoperator/v1
kind: SecretsRotationMapping
metadata: {name: bad, namespace: ${ns}}
spec:
  secretId: "not a secret id!"
  selector: {matchLabels: {app: web}}
`;
    const out = await kubectlStdin(s.ctx, ['apply', '-f', '-'], bad);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/spec\.secretId/);
    expect(out.stderr).toMatch(/secret name or ARN/);
    const both = bad.replace('secretId: "not a secret id!"', 'secretId: app\n  SecretID: app');
    const out2 = await kubectlStdin(s.ctx, ['apply', '-f', '-'], both);
    expect(out2.code).not.toBe(0);
    expect(out2.stderr).toMatch(/SecretID/);
  });
});

describe('aggregated roles (rbac.aggregate, on by default)', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ prefix: 'chartagg', namespaces: ['chartagg-team'] });
  });
  afterAll(() => endScenario(s));

  test("a namespace's admin and editor can create a mapping there, a viewer can read mappings but not create one", async () => {
    const [ns] = s.namespaces;
    const [admin, editor, viewer] = ['alice', 'erin', 'victor'].map((u) => `${u}-${rand(4)}@example.com`);
    for (const [user, role] of [[admin, 'admin'], [editor, 'edit'], [viewer, 'view']]) {
      const bound = await kubectl(s.ctx, ['create', 'rolebinding', `${role}-${rand(4)}`, '-n', ns, `--clusterrole=${role}`, `--user=${user}`]);
      expect({ code: bound.code, stderr: bound.stderr }).toEqual({ code: 0, stderr: '' });
    }
    // The controller-manager aggregates the chart's ClusterRoles into the built-in ones asynchronously.
    const can = async (user: string, verb: string) => (await kubectl(s.ctx, ['auth', 'can-i', verb, `${PLURAL}.${GROUP}`, '-n', ns, `--as=${user}`])).stdout.trim();
    await waitFor('the built-in admin, edit and view roles aggregate the chart\'s mapping rules', async () => (await can(admin, 'create')) === 'yes' && (await can(editor, 'create')) === 'yes' && (await can(viewer, 'list')) === 'yes');

    const mapping = (name: string) => JSON.stringify({ apiVersion: `${GROUP}/v1`, kind: KIND, metadata: { name, namespace: ns }, spec: { secretId: 'team/db', selector: { matchLabels: { app: name } } } });
    for (const user of [admin, editor]) {
      const made = await kubectlStdin(s.ctx, ['create', '-f', '-', `--as=${user}`], mapping(`by-${user.split('-')[0]}`));
      expect({ user, code: made.code, stderr: made.stderr }).toEqual({ user, code: 0, stderr: '' });
    }
    const refused = await kubectlStdin(s.ctx, ['create', '-f', '-', `--as=${viewer}`], mapping('by-viewer'));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/forbidden: User ".*" cannot create resource "secretsrotationmappings"/);
    const listed = await kubectl(s.ctx, ['get', `${PLURAL}.${GROUP}`, '-n', ns, `--as=${viewer}`, '-o', 'jsonpath={.items[*].metadata.name}']);
    expect({ code: listed.code, names: listed.stdout.trim().split(' ').sort() }).toEqual({ code: 0, names: ['by-alice', 'by-erin'] });
    // The status is the operator's: not even a namespace admin writes it.
    expect(await can(admin, 'patch')).toBe('yes');
    expect((await kubectl(s.ctx, ['auth', 'can-i', 'patch', `${PLURAL}.${GROUP}`, '--subresource=status', '-n', ns, `--as=${admin}`])).stdout.trim()).toBe('no');
  });
});

/** The chart as it was at git main's first commit of this change: it shipped the CRD in crds/. */
const PREVIOUS_CHART_COMMIT = '4fabad3';

describe('upgrade from the previous chart version (CRD in crds/) to the templated CRD', () => {
  test('after the documented adoption, helm upgrade updates the CRD (labels, keep policy, spec) and every mapping survives, uninstall included', async () => {
    const ctx = e2eContext();
    const ns = await ctx.kube.createNamespace('chart-upg');
    const name = `sro-upg-${rand(4)}`;
    const crdName = `${PLURAL}.${GROUP}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-previous-chart-'));
    try {
      // The previous chart, packaged from git as a user would have pulled it.
      execFileSync('bash', ['-c', `git -C "$1" archive ${PREVIOUS_CHART_COMMIT} charts/secrets-rotation-operator | tar -x -C "$2"`, '_', REPO_ROOT, dir]);
      expect(fs.existsSync(path.join(dir, 'charts/secrets-rotation-operator/crds/secretsrotationmappings.yaml'))).toBe(true);
      const packaged = (await helm(ctx, ['package', path.join(dir, 'charts/secrets-rotation-operator'), '-d', dir])).stdout.trim().split(' ').pop()!;
      await helm(ctx, ['install', name, packaged, '--namespace', ns, ...localValues(ctx), '--set', `fullnameOverride=${name}`]);
      await ctx.kube.createMapping(ns, 'kept', { secretId: 'team/db', selector: { matchLabels: { app: 'kept' } } });

      // The CRD as an older chart would have left it: this version's columns minus the last (Age),
      // and no Helm ownership (crds/ is applied without it).
      const columns = async () => JSON.parse((await kubectl(ctx, ['get', 'crd', crdName, '-o', 'jsonpath={.spec.versions[0].additionalPrinterColumns}'])).stdout) as { name: string }[];
      const chartColumns = (load(fs.readFileSync(CRD_FILE, 'utf8')) as { spec: { versions: { additionalPrinterColumns: { name: string }[] }[] } }).spec.versions[0].additionalPrinterColumns.map((c) => c.name);
      const older = await kubectl(ctx, ['patch', 'crd', crdName, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: `/spec/versions/0/additionalPrinterColumns/${chartColumns.length - 1}` }])]);
      expect({ code: older.code, stderr: older.stderr }).toEqual({ code: 0, stderr: '' });
      for (const key of ['meta.helm.sh/release-name-', 'meta.helm.sh/release-namespace-', 'helm.sh/resource-policy-']) await kubectl(ctx, ['annotate', 'crd', crdName, key]);
      expect((await columns()).map((c) => c.name)).toEqual(chartColumns.slice(0, -1));

      // Chart-README.md's adoption step, then the upgrade as the docs write it.
      for (const args of [
        ['label', '--overwrite', 'crd', crdName, 'app.kubernetes.io/managed-by=Helm'],
        ['annotate', '--overwrite', 'crd', crdName, `meta.helm.sh/release-name=${name}`, `meta.helm.sh/release-namespace=${ns}`],
      ]) {
        const r = await kubectl(ctx, args);
        expect({ args, code: r.code }).toEqual({ args, code: 0 });
      }
      await helm(ctx, ['upgrade', name, ...chartSource(ctx), '--namespace', ns, '--reset-then-reuse-values', ...localValues(ctx), '--set', `fullnameOverride=${name}`]);

      const crd = JSON.parse((await kubectl(ctx, ['get', 'crd', crdName, '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
      expect(crd.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
      expect(crd.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': name, 'app.kubernetes.io/managed-by': 'Helm' });
      expect((await columns()).map((c) => c.name)).toEqual(chartColumns);
      expect((await kubectl(ctx, ['get', `${PLURAL}.${GROUP}`, 'kept', '-n', ns])).code).toBe(0);

      await helm(ctx, ['uninstall', name, '--namespace', ns, '--wait']);
      expect((await kubectl(ctx, ['get', 'crd', crdName])).code).toBe(0);
      expect((await kubectl(ctx, ['get', `${PLURAL}.${GROUP}`, 'kept', '-n', ns])).code).toBe(0);
    } finally {
      await helm(ctx, ['uninstall', name, '--namespace', ns, '--wait']).catch(() => undefined);
      // Whatever happened above, the other tests get this version's CRD back.
      await ctx.kube.installCrd();
      await ctx.kube.deleteNamespace(ns);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('namespaced install (watchNamespaces)', () => {
  test('Roles only in the watched namespace: the ServiceAccount cannot patch workloads elsewhere', async () => {
    const ctx = e2eContext();
    const a = await ctx.kube.createNamespace('chartns-a');
    const b = await ctx.kube.createNamespace('chartns-b');
    const releaseNs = await ctx.kube.createNamespace('chartns-rel');
    const name = `sro-nsmode-${rand(4)}`;
    try {
      await helm(ctx, ['install', name, ...chartSource(ctx), '--namespace', releaseNs, ...localValues(ctx), '--set', `fullnameOverride=${name}`, '--set', `watchNamespaces={${a}}`]);
      const sa = `system:serviceaccount:${releaseNs}:${name}`;
      const can = async (verb: string, resource: string, ns: string) => (await kubectl(ctx, ['auth', 'can-i', verb, resource, `--as=${sa}`, '-n', ns])).stdout.trim();
      expect(await can('patch', 'deployments.apps', a)).toBe('yes');
      expect(await can('watch', 'secretsrotationmappings.awssecretsoperator.secretoperator', a)).toBe('yes');
      expect(await can('patch', 'deployments.apps', b)).toBe('no');
      expect(await can('list', 'secretsrotationmappings.awssecretsoperator.secretoperator', b)).toBe('no');
      expect(await can('get', 'secrets', a)).toBe('no');
      expect((await kubectl(ctx, ['get', 'clusterrole', name])).code).not.toBe(0);
    } finally {
      await helm(ctx, ['uninstall', name, '--namespace', releaseNs, '--wait']).catch(() => undefined);
      for (const ns of [a, b, releaseNs]) await ctx.kube.deleteNamespace(ns);
    }
  });
});

describe('namespaced install with discovery of ExternalSecrets', () => {
  test('ClusterSecretStores are listed through a ClusterRole of their own, which uninstall removes; still no Secrets', async () => {
    const ctx = e2eContext();
    const a = await ctx.kube.createNamespace('chartdisc-a');
    const releaseNs = await ctx.kube.createNamespace('chartdisc-rel');
    const name = `sro-disc-${rand(4)}`;
    const clusterWide = [
      ['clusterrole', `${name}-clustersecretstores`],
      ['clusterrolebinding', `${name}-clustersecretstores`],
    ];
    try {
      await helm(ctx, ['install', name, ...chartSource(ctx), '--namespace', releaseNs, ...localValues(ctx), '--set', `fullnameOverride=${name}`, '--set', `watchNamespaces={${a}}`, '--set', 'discovery.externalSecrets.enabled=true']);
      const rules = async (...args: string[]) => JSON.parse((await kubectl(ctx, ['get', ...args, '-o', 'jsonpath={.rules}'])).stdout || '[]') as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
      expect(await rules('clusterrole', `${name}-clustersecretstores`)).toEqual([{ apiGroups: ['external-secrets.io'], resources: ['clustersecretstores'], verbs: ['list'] }]);
      expect((await kubectl(ctx, ['get', 'clusterrolebinding', `${name}-clustersecretstores`, '-o', 'jsonpath={.subjects[0].name}/{.subjects[0].namespace}'])).stdout).toBe(`${name}/${releaseNs}`);
      const role = await rules('role', name, '-n', a);
      expect(role).toContainEqual({ apiGroups: ['external-secrets.io'], resources: ['externalsecrets'], verbs: ['get', 'list', 'patch'] });
      expect(role.flatMap((r) => r.resources)).not.toContain('secrets');
      // The operator's main ClusterRole does not exist in namespaced mode.
      expect((await kubectl(ctx, ['get', 'clusterrole', name])).code).not.toBe(0);
      await helm(ctx, ['uninstall', name, '--namespace', releaseNs, '--wait']);
      for (const args of clusterWide) await waitFor(`${args.join(' ')} gone`, async () => (await kubectl(ctx, ['get', ...args])).stderr.includes('NotFound'));
    } finally {
      await helm(ctx, ['uninstall', name, '--namespace', releaseNs, '--wait']).catch(() => undefined);
      for (const ns of [a, releaseNs]) await ctx.kube.deleteNamespace(ns);
    }
  });
});

describe('install and uninstall', () => {
  test('a typo in values fails helm install with a message naming the key', async () => {
    const ctx = e2eContext();
    const err = await helm(ctx, ['install', `typo-${rand(4)}`, ...chartSource(ctx), '--namespace', 'default', ...localValues(ctx), '--set', 'replicaCont=2']).then(
      () => undefined,
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(err).toMatch(/replicaCont/);
    expect(err).toMatch(/additional properties/);
  });

  test('helm uninstall removes what the release made and keeps the CRD (and so every mapping)', async () => {
    const ctx = e2eContext();
    const ns = await ctx.kube.createNamespace('chart-un');
    const name = `sro-un-${rand(4)}`;
    try {
      await helm(ctx, ['install', name, ...chartSource(ctx), '--namespace', ns, ...localValues(ctx), '--set', `fullnameOverride=${name}`]);
      const made = [
        ['serviceaccount', name, '-n', ns],
        ['deployment', name, '-n', ns],
        ['role', `${name}-leader-election`, '-n', ns],
        ['clusterrole', name],
        ['clusterrolebinding', name],
        ['clusterrole', `${name}-view`],
        ['clusterrole', `${name}-edit`],
        ['validatingadmissionpolicy', `${name}-restart-only`],
        ['validatingadmissionpolicybinding', `${name}-restart-only`],
      ];
      for (const args of made) expect([args.join(' '), (await kubectl(ctx, ['get', ...args])).code]).toEqual([args.join(' '), 0]);
      await helm(ctx, ['uninstall', name, '--namespace', ns, '--wait']);
      for (const args of made) {
        await waitFor(`${args.join(' ')} gone`, async () => (await kubectl(ctx, ['get', ...args])).stderr.includes('NotFound'));
      }
      expect((await kubectl(ctx, ['get', 'crd', 'secretsrotationmappings.awssecretsoperator.secretoperator'])).code).toBe(0);
    } finally {
      await ctx.kube.deleteNamespace(ns);
    }
  });
});
