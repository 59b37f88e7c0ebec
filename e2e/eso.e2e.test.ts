/**
 * Issue 15's stack part, without the operator: the External Secrets Operator
 * (scripts/kit/eso.ts) runs against the stack and moto, syncs an AWS secret into a
 * Kubernetes Secret, and re-syncs at once when the force-sync annotation changes (what
 * the operator will do on a secret change) although its refreshInterval is an hour.
 * Also guards the harness the discovery e2e builds on.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { esoResourceVersion } from '../operator/src/discovery/model';
import { REPO_ROOT } from '../scripts/stack/paths';
import { e2eContext, type E2eContext } from './support/context';
import { createAwsSecretStore, createExternalSecret, forceSync, readExternalSecret, removeEsoCrds, startEso, waitExternalSecretSynced, type Eso } from './support/eso';
import { kubectl, rand, value } from './support/scenario';
import { staysFalse, waitFor } from './support/wait';

jest.setTimeout(180_000);

let ctx: E2eContext;
let eso: Eso | undefined;
let ns: string;

beforeAll(async () => {
  ctx = e2eContext();
  // A run that died before its teardown may have left the CRDs behind.
  await removeEsoCrds(ctx);
  eso = await startEso(ctx);
  ns = await ctx.kube.createNamespace('eso');
});

afterAll(async () => {
  try {
    if (ns) await ctx.kube.deleteNamespace(ns);
  } finally {
    await eso?.stop();
  }
});

/** A value is compared by its digest, so a failure never prints it. */
const digest = (s: string) => createHash('sha256').update(s).digest('hex');

async function targetSecret(name: string): Promise<{ resourceVersion: string; digest: string }> {
  const s = (await ctx.kube.core.readNamespacedSecret(name, ns)).body;
  return { resourceVersion: s.metadata!.resourceVersion!, digest: digest(Buffer.from(s.data?.value ?? '', 'base64').toString('utf8')) };
}

test('ESO syncs a moto secret into a Secret, and force-sync re-syncs it after put-secret-value while refreshInterval is 1h', async () => {
  const initial = value();
  const secret = await ctx.aws.createSecret(`eso-${rand()}`, initial);
  await createAwsSecretStore(ctx, ns, 'aws');
  const synced = await createExternalSecret(ctx, ns, 'app', { store: 'aws', remoteKey: secret.name, target: 'app-config', refreshInterval: '1h' });
  const first = await waitFor('target Secret app-config written', () => targetSecret('app-config'));
  expect(first.digest).toBe(digest(initial));

  const rotatedValue = value();
  await ctx.aws.putSecretValue(secret, rotatedValue);
  // Within the hour ESO does not look again by itself.
  await staysFalse('ESO re-synced without being asked', async () => (await targetSecret('app-config')).resourceVersion !== first.resourceVersion, 3_000);

  await forceSync(ctx, ns, 'app');

  const after = await waitExternalSecretSynced(ctx, ns, 'app', synced.status!.syncedResourceVersion);
  expect(after.status!.syncedResourceVersion).not.toBe(synced.status!.syncedResourceVersion);
  // The operator's ESO wait recognises its own sync by computing what ESO writes there (discovery/model.ts).
  expect(after.status!.syncedResourceVersion).toBe(esoResourceVersion(after.metadata));
  const second = await waitFor('target Secret app-config rewritten', async () => {
    const s = await targetSecret('app-config');
    return s.resourceVersion !== first.resourceVersion ? s : undefined;
  });
  expect(second.digest).toBe(digest(rotatedValue));
  expect((await readExternalSecret(ctx, ns, 'app')).spec.refreshInterval).toBe('1h');
});

test("examples/external-secrets.yaml is valid against ESO's CRDs (server-side dry run)", async () => {
  const r = await kubectl(ctx, ['apply', '--dry-run=server', '-n', ns, '-f', path.join(REPO_ROOT, 'examples', 'external-secrets.yaml')]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/secretstore\.external-secrets\.io\/aws-secrets-manager created \(server dry run\)/);
  expect(r.stdout).toMatch(/externalsecret\.external-secrets\.io\/orders-db created \(server dry run\)/);
});
