import fc from 'fast-check';
import {
  consumes,
  describeSource,
  esoRefreshability,
  esoResourceVersion,
  esoSyncState,
  isNonPositiveDuration,
  matchSources,
  sourcesAsMappings,
  readExternalSecret,
  readProviderClass,
  readSecretStore,
  type DiscoveredSource,
  type StoreInfo,
} from '../../../src/discovery/model';
import { GROUP, SOURCE_ROLLOUT_ANNOTATION } from '../../../src/core/names';
import { parseSecretId } from '../../../src/secrets/secretId';
import { podTemplateReferences } from '../../../src/workloads/references';

const ACCOUNT = '123456789012';
const ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:`;
const FULL = `${ARN}db/pass-AbC123`;
const event = (fullArn = FULL) => parseSecretId(fullArn, 'full');
const scope = { accounts: [ACCOUNT], regions: ['eu-west-1'] };
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

const AWS_STORE: StoreInfo = { awsSecretsManager: true, region: 'eu-west-1' };
const stores =
  (table: Record<string, StoreInfo> = { 'SecretStore/aws': AWS_STORE }) =>
  (kind: string, name: string) =>
    table[`${kind}/${name}`];

function es(spec: Record<string, unknown>, meta: Record<string, unknown> = {}) {
  return { metadata: { name: 'app', namespace: 'team', uid: 'u1', generation: 2, ...meta }, spec: { secretStoreRef: { name: 'aws' }, ...spec } };
}
const fields = (s: DiscoveredSource) => s.secrets.map((n) => [n.field, n.ref.raw, n.ref.region]);
const matches = (s: DiscoveredSource, fullArn = FULL) => matchSources([s], event(fullArn), scope, KINDS).length === 1;

describe('readSecretStore', () => {
  it('is AWS Secrets Manager for provider.aws with service SecretsManager, or none named (ESO’s default)', () => {
    expect(readSecretStore({ spec: { provider: { aws: { service: 'SecretsManager', region: 'eu-west-1' } } } })).toEqual({ awsSecretsManager: true, region: 'eu-west-1' });
    expect(readSecretStore({ spec: { provider: { aws: { region: 'us-east-2' } } } })).toEqual({ awsSecretsManager: true, region: 'us-east-2' });
  });
  it('is not for Parameter Store, another provider, or a store without spec', () => {
    expect(readSecretStore({ spec: { provider: { aws: { service: 'ParameterStore' } } } }).awsSecretsManager).toBe(false);
    expect(readSecretStore({ spec: { provider: { vault: {} } } }).awsSecretsManager).toBe(false);
    expect(readSecretStore({}).awsSecretsManager).toBe(false);
  });
});

describe('readExternalSecret', () => {
  it('reads spec.data[].remoteRef.key by name, with the store’s region, and matches the event’s full ARN', () => {
    const s = readExternalSecret(es({ data: [{ secretKey: 'p', remoteRef: { key: 'db/pass', property: 'password' } }] }), 'external-secrets.io/v1', stores());
    expect(fields(s)).toEqual([['spec.data[0].remoteRef.key', 'db/pass', 'eu-west-1']]);
    expect(s.key).toBe('externalsecret:team/app');
    expect(s.origin).toEqual({
      source: 'externalsecret',
      object: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', namespace: 'team', name: 'app', uid: 'u1' },
      consumedAs: { secret: 'app' },
      refresh: { ok: true },
    });
    expect(matches(s)).toBe(true);
  });

  it('reads a partial ARN and a full ARN, each matching the event', () => {
    for (const key of [`${ARN}db/pass`, FULL]) {
      const s = readExternalSecret(es({ data: [{ secretKey: 'p', remoteRef: { key } }] }), 'external-secrets.io/v1', stores());
      expect(matches(s)).toBe(true);
      expect(matches(s, `${ARN}db/other-AbC123`)).toBe(false);
    }
  });

  it('reads spec.dataFrom[].extract.key', () => {
    const s = readExternalSecret(es({ dataFrom: [{ extract: { key: 'db/pass' } }] }), 'external-secrets.io/v1', stores());
    expect(fields(s)).toEqual([['spec.dataFrom[0].extract.key', 'db/pass', 'eu-west-1']]);
  });

  it('reports spec.dataFrom[].find as not supported and follows nothing for it', () => {
    const s = readExternalSecret(es({ dataFrom: [{ find: { name: { regexp: '^db/' } } }] }), 'external-secrets.io/v1', stores());
    expect(s.secrets).toEqual([]);
    expect(s.unsupported).toEqual([expect.stringMatching(/^spec\.dataFrom\[0\]\.find .*not supported/)]);
  });

  it('goes through a ClusterSecretStore, and an entry’s own sourceRef.storeRef over the ExternalSecret’s', () => {
    const table = { 'ClusterSecretStore/global': { awsSecretsManager: true, region: 'us-east-1' }, 'SecretStore/vault': { awsSecretsManager: false } };
    const s = readExternalSecret(
      es({
        secretStoreRef: { name: 'vault', kind: 'SecretStore' },
        data: [
          { secretKey: 'a', remoteRef: { key: 'from-vault' } },
          { secretKey: 'b', remoteRef: { key: 'db/pass' }, sourceRef: { storeRef: { name: 'global', kind: 'ClusterSecretStore' } } },
        ],
      }),
      'external-secrets.io/v1',
      stores(table),
    );
    expect(fields(s)).toEqual([['spec.data[1].remoteRef.key', 'db/pass', 'us-east-1']]);
    expect(s.unsupported).toEqual([]);
    // The store's region is the secret's: an event of another region is another secret.
    expect(matches(s)).toBe(false);
    expect(matches(s, `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db/pass-AbC123`)).toBe(true);
  });

  it('skips generators, other providers and Parameter Store; reports a missing store or a key that is no secret id', () => {
    const table = { 'SecretStore/aws': AWS_STORE, 'SecretStore/ssm': { awsSecretsManager: false } };
    const s = readExternalSecret(
      es({
        data: [
          { secretKey: 'a', remoteRef: { key: 'x' }, sourceRef: { generatorRef: { kind: 'Password', name: 'p' } } },
          { secretKey: 'b', remoteRef: { key: '/ssm/param' }, sourceRef: { storeRef: { name: 'ssm' } } },
          { secretKey: 'c', remoteRef: { key: 'y' }, sourceRef: { storeRef: { name: 'gone' } } },
          { secretKey: 'd', remoteRef: { key: 'not a secret id!' } },
        ],
      }),
      'external-secrets.io/v1',
      stores(table),
    );
    expect(s.secrets).toEqual([]);
    expect(s.unsupported).toEqual(['spec.data[2].remoteRef.key: SecretStore gone not found', 'spec.data[3].remoteRef.key: "not a secret id!" is not a Secrets Manager secret name or ARN']);
  });

  it("keeps the operator's own annotations (its rollout's record, a person's requests), and no one else's", () => {
    const annotations = { [SOURCE_ROLLOUT_ANNOTATION]: '{"phase":"Rolling"}', [`${GROUP}/rollout-abandon`]: '1', 'force-sync': '123', 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    const spc = { metadata: { name: 'db', namespace: 'team', annotations }, spec: { provider: 'aws', parameters: { objects: '- objectName: db/pass\n  objectType: secretsmanager\n' } } };
    const own = { [SOURCE_ROLLOUT_ANNOTATION]: '{"phase":"Rolling"}', [`${GROUP}/rollout-abandon`]: '1' };
    expect(readExternalSecret(es({ data: [{ remoteRef: { key: 'db/pass' } }] }, { annotations }), 'external-secrets.io/v1', stores()).annotations).toEqual(own);
    expect(readProviderClass(spc)!.annotations).toEqual(own);
  });

  it('names its target Secret from spec.target.name, else its own name; lists a secret named twice once', () => {
    const s = readExternalSecret(es({ target: { name: 'app-env' }, data: [{ remoteRef: { key: 'db/pass' } }], dataFrom: [{ extract: { key: 'db/pass' } }] }), 'external-secrets.io/v1beta1', stores());
    expect(s.origin.consumedAs).toEqual({ secret: 'app-env' });
    expect(s.origin.object.apiVersion).toBe('external-secrets.io/v1beta1');
    expect(s.secrets).toHaveLength(1);
  });

  it('says a refreshInterval of 0 cannot be synced on request', () => {
    const s = readExternalSecret(es({ refreshInterval: '0', data: [{ remoteRef: { key: 'db/pass' } }] }), 'external-secrets.io/v1', stores());
    expect(s.origin.refresh).toEqual({ ok: false, reason: expect.stringContaining('refreshInterval is 0') });
    expect(describeSource(s)).toContain('will NOT roll anything');
  });

  it('never throws on any JSON, and only ever names valid secrets', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (spec, meta) => {
        const s = readExternalSecret({ metadata: meta, spec }, 'external-secrets.io/v1', () => AWS_STORE);
        for (const n of s.secrets) expect(typeof n.ref.raw).toBe('string');
        readExternalSecret(es({ data: [spec], dataFrom: [meta] }), 'external-secrets.io/v1', () => AWS_STORE);
      }),
    );
  });
});

describe('esoRefreshability', () => {
  it.each([
    [{}, true],
    [{ refreshInterval: '1h' }, true],
    [{ refreshInterval: '15m30s' }, true],
    [{ refreshInterval: '0' }, false],
    [{ refreshInterval: '0s' }, false],
    [{ refreshInterval: '0h0m0s' }, false],
    // ESO never refreshes on an interval of 0 or less (shouldRefreshPeriodic: Duration <= 0).
    [{ refreshInterval: '-1s' }, false],
    [{ refreshInterval: '-1h30m' }, false],
    [{ refreshInterval: '0', refreshPolicy: 'OnChange' }, true],
    [{ refreshInterval: '0', refreshPolicy: 'Periodic' }, false],
    [{ refreshInterval: '1h', refreshPolicy: 'CreatedOnce' }, false],
  ])('%j → %s', (spec, ok) => {
    expect(esoRefreshability(spec).ok).toBe(ok);
  });

  it.each([
    ['0', true],
    ['0s', true],
    ['0.0s', true],
    ['0h0m0s', true],
    ['-0', true],
    ['-1s', true],
    ['-0.5ms', true],
    ['-1h30m', true],
    ['1ns', false],
    ['+1s', false],
    ['10m', false],
    ['', false],
    ['-', false],
    ['never', false],
  ])('isNonPositiveDuration(%j) is %s', (d, nonPositive) => {
    expect(isNonPositiveDuration(d)).toBe(nonPositive);
  });

  it('says what a negative refreshInterval means', () => {
    expect(esoRefreshability({ refreshInterval: '-1s' })).toEqual({ ok: false, reason: expect.stringContaining('refreshInterval is -1s (0 or less)') });
  });
});

describe('esoSyncState', () => {
  const REQUESTED = Date.parse('2026-12-02T10:00:00.400Z');
  const asked = { generation: 2, annotations: { 'force-sync': String(REQUESTED) } };
  const ASKED = esoResourceVersion(asked);
  const es = (meta: object, syncedResourceVersion: string | undefined, ready: 'True' | 'False', at = '2026-12-02T09:00:00Z', reason = 'SecretSynced') => ({
    metadata: meta,
    status: { ...(syncedResourceVersion ? { syncedResourceVersion } : {}), refreshTime: at, conditions: [{ type: 'Ready', status: ready, reason, message: 'm', lastTransitionTime: at }] },
  });

  it('is synced once ESO synced the object as our request left it (our force-sync value) and Ready is True', () => {
    expect(esoSyncState(ASKED, es(asked, ASKED, 'True'), REQUESTED)).toEqual({ state: 'synced' });
  });
  it('is synced once ESO synced the object as it is now, changed after our request (a later force-sync)', () => {
    const later = { generation: 2, annotations: { 'force-sync': String(REQUESTED + 5_000) } };
    expect(esoSyncState(ASKED, es(later, esoResourceVersion(later), 'True'), REQUESTED)).toEqual({ state: 'synced' });
  });
  it("is pending on any other sync: one from before the request, or an earlier request's that lands late", () => {
    const earlier = esoResourceVersion({ generation: 2, annotations: { 'force-sync': String(REQUESTED - 30_000) } });
    expect(esoSyncState(ASKED, es(asked, earlier, 'True'), REQUESTED)).toEqual({ state: 'pending' });
    expect(esoSyncState(ASKED, es(asked, '1-aaa', 'True'), REQUESTED)).toEqual({ state: 'pending' });
    expect(esoSyncState(ASKED, es(asked, undefined, 'True'), REQUESTED)).toEqual({ state: 'pending' });
    expect(esoSyncState(ASKED, {}, REQUESTED)).toEqual({ state: 'pending' });
  });
  it('is pending when Ready was False before the request (an old failure), failed when it turned False since', () => {
    expect(esoSyncState(ASKED, es(asked, '1-aaa', 'False', '2026-12-02T09:59:59Z'), REQUESTED)).toEqual({ state: 'pending' });
    // lastTransitionTime has a resolution of one second: the request's own second counts.
    expect(esoSyncState(ASKED, es(asked, '1-aaa', 'False', '2026-12-02T10:00:00Z', 'SecretSyncedError'), REQUESTED)).toEqual({ state: 'failed', reason: 'SecretSyncedError: m' });
  });
});

describe('readProviderClass', () => {
  const spc = (parameters: Record<string, unknown>, provider = 'aws') => ({ metadata: { name: 'db', namespace: 'team', uid: 'u2', generation: 1 }, spec: { provider, parameters } });

  it('reads objectType secretsmanager entries by objectName, with parameters.region', () => {
    const s = readProviderClass(spc({ region: 'eu-west-1', objects: '- objectName: "db/pass"\n  objectType: "secretsmanager"\n- objectName: "/ssm/x"\n  objectType: "ssmparameter"\n' }))!;
    expect(fields(s)).toEqual([['spec.parameters.objects[0].objectName', 'db/pass', 'eu-west-1']]);
    expect(s.key).toBe('csi:team/db');
    expect(s.origin).toEqual({ source: 'csi', object: { apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClass', namespace: 'team', name: 'db', uid: 'u2' }, consumedAs: { providerClass: 'db' } });
    expect(matches(s)).toBe(true);
  });

  it('reads a full ARN without objectType, and a partial ARN', () => {
    expect(matches(readProviderClass(spc({ objects: `- objectName: "${FULL}"\n` }))!)).toBe(true);
    expect(matches(readProviderClass(spc({ objects: `- objectName: "${ARN}db/pass"\n  objectType: secretsmanager\n` }))!)).toBe(true);
    expect(readProviderClass(spc({ objects: '- objectName: "db/pass"\n' }))!.secrets).toEqual([]); // a bare name without a type is an SSM parameter to the provider
  });

  it('is undefined for another provider; reports objects that are not a YAML list', () => {
    expect(readProviderClass(spc({ objects: '- objectName: x\n  objectType: secretsmanager' }, 'azure'))).toBeUndefined();
    expect(readProviderClass(spc({ objects: 'a: [' }))!.unsupported).toEqual([expect.stringMatching(/^spec\.parameters\.objects is not YAML/)]);
    expect(readProviderClass(spc({ objects: 'objectName: x' }))!.unsupported).toEqual(['spec.parameters.objects is not a YAML list']);
  });

  it('never throws on any parameters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), fc.jsonValue(), (objects, region) => {
        readProviderClass(spc({ objects, region }));
      }),
    );
  });
});

describe('consumers', () => {
  const template = (spec: Record<string, unknown>) => podTemplateReferences({ spec: { containers: [], ...spec } } as never);

  it('finds a Secret by env secretKeyRef, envFrom secretRef (init containers too), secret and projected volumes', () => {
    const refs = template({
      containers: [{ name: 'a', env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }], envFrom: [{ secretRef: { name: 'from-secret' } }, { configMapRef: { name: 'cm' } }] }],
      initContainers: [{ name: 'i', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
      volumes: [
        { name: 'v', secret: { secretName: 'vol-secret' } },
        { name: 'p', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'cm' } }] } },
        { name: 'c', csi: { driver: 'secrets-store.csi.k8s.io', volumeAttributes: { secretProviderClass: 'db' } } },
        { name: 'o', csi: { driver: 'other.csi.example', volumeAttributes: { secretProviderClass: 'not-ours' } } },
      ],
    });
    expect(refs).toEqual({ secrets: ['env-secret', 'from-secret', 'init-secret', 'proj-secret', 'vol-secret'], providerClasses: ['db'] });
    const origin = (consumedAs: { secret: string } | { providerClass: string }) => ({ source: 'externalsecret' as const, object: { apiVersion: 'v', kind: 'k', namespace: 'n', name: 'x' }, consumedAs });
    expect(consumes(refs, origin({ secret: 'proj-secret' }))).toBe(true);
    expect(consumes(refs, origin({ secret: 'cm' }))).toBe(false);
    expect(consumes(refs, origin({ providerClass: 'db' }))).toBe(true);
    expect(consumes(refs, origin({ providerClass: 'not-ours' }))).toBe(false);
    expect(consumes(undefined, origin({ secret: 'x' }))).toBe(false);
  });

  it('finds nothing in a template without a spec', () => {
    expect(podTemplateReferences(undefined)).toEqual({ secrets: [], providerClasses: [] });
  });
});

describe('sourcesAsMappings', () => {
  it('every secret each source names, each as a mapping of its namespace (drift covers all of them); the same form matchSources gives', () => {
    const s = readExternalSecret(es({ data: [{ secretKey: 'p', remoteRef: { key: 'db/pass' } }, { secretKey: 'u', remoteRef: { key: 'db/user' } }] }), 'external-secrets.io/v1', stores());
    const all = sourcesAsMappings([s], KINDS);
    expect(all.map((m) => [m.key, m.namespace, m.secret.raw, m.origin?.source])).toEqual([
      ['externalsecret:team/app', 'team', 'db/pass', 'externalsecret'],
      ['externalsecret:team/app', 'team', 'db/user', 'externalsecret'],
    ]);
    expect(matchSources([s], event(), scope, KINDS)).toEqual([all[0]]);
  });
});
