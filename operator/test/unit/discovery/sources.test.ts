import { DiscoveryReporter } from '../../../src/discovery/reporter';
import { DiscoveredSources } from '../../../src/discovery/sources';
import { createLogger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';

const notFound = () => Object.assign(new Error('404 page not found'), { statusCode: 404 });

/** A fake API server: `served` maps `group/version/plural` to items (cluster-wide); anything else is 404. */
function fakeApi(served: Record<string, object[]>, calls: string[] = []) {
  const find = (group: string, version: string, plural: string, ns?: string) => {
    calls.push(`${ns ?? '*'} ${group}/${version}/${plural}`);
    const items = served[`${group}/${version}/${plural}`];
    if (!items) throw notFound();
    return { body: { items: ns ? items.filter((i) => (i as { metadata: { namespace?: string } }).metadata.namespace === ns) : items } };
  };
  return {
    listClusterCustomObject: async (group: string, version: string, plural: string) => find(group, version, plural),
    listNamespacedCustomObject: async (group: string, version: string, ns: string, plural: string) => find(group, version, plural, ns),
  };
}

const es = (name: string, namespace: string, store: { name: string; kind?: string }) => ({ metadata: { name, namespace, uid: `uid-${name}`, generation: 1 }, spec: { secretStoreRef: store, data: [{ remoteRef: { key: 'db/pass' } }] } });
const store = (name: string, namespace?: string) => ({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec: { provider: { aws: { service: 'SecretsManager', region: 'eu-west-1' } } } });

function sources(served: Record<string, object[]>, opts: { namespaces?: string[]; calls?: string[]; now?: () => number; warnings?: string[] } = {}) {
  const log = createLogger('silent');
  if (opts.warnings) log.warn = ((m: string) => (opts.warnings!.push(m), log)) as never;
  return new DiscoveredSources({ api: fakeApi(served, opts.calls) as never, namespaces: opts.namespaces ?? [], externalSecrets: true, providerClasses: true, log, maxAgeMs: 2_000, ...(opts.now ? { now: opts.now } : {}) });
}

describe('DiscoveredSources', () => {
  it('reads v1 ExternalSecrets through their SecretStore or ClusterSecretStore, and SecretProviderClasses', async () => {
    const found = await sources({
      'external-secrets.io/v1/externalsecrets': [es('a', 'team', { name: 'aws' }), es('b', 'team', { name: 'global', kind: 'ClusterSecretStore' })],
      'external-secrets.io/v1/secretstores': [store('aws', 'team')],
      'external-secrets.io/v1/clustersecretstores': [store('global')],
      'secrets-store.csi.x-k8s.io/v1/secretproviderclasses': [{ metadata: { name: 'spc', namespace: 'team' }, spec: { provider: 'aws', parameters: { objects: '- objectName: db/pass\n  objectType: secretsmanager' } } }],
    }).snapshot();
    expect(found.map((s) => [s.key, s.secrets.map((n) => n.ref.raw), s.unsupported])).toEqual([
      ['externalsecret:team/a', ['db/pass'], []],
      ['externalsecret:team/b', ['db/pass'], []],
      ['csi:team/spc', ['db/pass'], []],
    ]);
  });

  it('falls back to v1beta1 where v1 is not served, and says so in the object reference', async () => {
    const found = await sources({ 'external-secrets.io/v1beta1/externalsecrets': [es('a', 'team', { name: 'aws' })], 'external-secrets.io/v1beta1/secretstores': [store('aws', 'team')], 'external-secrets.io/v1beta1/clustersecretstores': [] }).snapshot();
    expect(found.map((s) => s.origin.object.apiVersion)).toEqual(['external-secrets.io/v1beta1']);
  });

  it('finds none where a CRD is not installed, and warns once', async () => {
    const warnings: string[] = [];
    let now = 0;
    const s = sources({}, { warnings, now: () => now });
    expect(await s.snapshot()).toEqual([]);
    now += 5_000;
    expect(await s.snapshot()).toEqual([]);
    expect(warnings.sort()).toEqual([
      'ClusterSecretStores are not served (their CRD is not installed): discovery finds none',
      'ExternalSecrets are not served (their CRD is not installed): discovery finds none',
      'SecretProviderClasses are not served (their CRD is not installed): discovery finds none',
      'SecretStores are not served (their CRD is not installed): discovery finds none',
    ]);
  });

  it('throws on any other failure, and does not keep a failed listing', async () => {
    let fail = true;
    const api = fakeApi({ 'external-secrets.io/v1/externalsecrets': [], 'external-secrets.io/v1/secretstores': [], 'external-secrets.io/v1/clustersecretstores': [], 'secrets-store.csi.x-k8s.io/v1/secretproviderclasses': [] });
    const list = api.listClusterCustomObject;
    api.listClusterCustomObject = async (...args) => {
      if (fail) throw Object.assign(new Error('etcdserver: request timed out'), { statusCode: 500 });
      return list(...args);
    };
    const s = new DiscoveredSources({ api: api as never, namespaces: [], externalSecrets: true, providerClasses: true, log: createLogger('silent'), maxAgeMs: 60_000 });
    await expect(s.snapshot()).rejects.toThrow(/^listing \w+ \([\w.-]+\/v1\) failed: etcdserver/);
    fail = false;
    expect(await s.snapshot()).toEqual([]);
  });

  it('lists each watched namespace, ClusterSecretStores cluster-wide, and shares one listing for a moment', async () => {
    const calls: string[] = [];
    let now = 0;
    const s = sources({ 'external-secrets.io/v1/externalsecrets': [], 'external-secrets.io/v1/secretstores': [], 'external-secrets.io/v1/clustersecretstores': [], 'secrets-store.csi.x-k8s.io/v1/secretproviderclasses': [] }, { namespaces: ['a', 'b'], calls, now: () => now });
    await Promise.all([s.snapshot(), s.snapshot()]);
    now += 1_999;
    await s.snapshot();
    expect(calls.sort()).toEqual([
      '* external-secrets.io/v1/clustersecretstores',
      'a external-secrets.io/v1/externalsecrets',
      'a external-secrets.io/v1/secretstores',
      'a secrets-store.csi.x-k8s.io/v1/secretproviderclasses',
      'b external-secrets.io/v1/externalsecrets',
      'b external-secrets.io/v1/secretstores',
      'b secrets-store.csi.x-k8s.io/v1/secretproviderclasses',
    ]);
    now += 1;
    await s.snapshot();
    expect(calls).toHaveLength(14);
  });
});

describe('DiscoveryReporter', () => {
  it('records Discovered once per generation, a Warning for what it cannot follow, and counts sources', async () => {
    let generation = 1;
    const served = () => ({
      'external-secrets.io/v1/externalsecrets': [
        { ...es('a', 'team', { name: 'aws' }), metadata: { name: 'a', namespace: 'team', uid: 'u', generation } },
        { metadata: { name: 'f', namespace: 'team', uid: 'f' }, spec: { secretStoreRef: { name: 'aws' }, dataFrom: [{ find: { tags: { team: 'x' } } }] } },
      ],
      'external-secrets.io/v1/secretstores': [store('aws', 'team')],
      'external-secrets.io/v1/clustersecretstores': [],
    });
    const events: string[] = [];
    const metrics = createMetrics(false);
    const make = () => new DiscoveredSources({ api: fakeApi(served()) as never, namespaces: [], externalSecrets: true, providerClasses: false, log: createLogger('silent'), maxAgeMs: 0 });
    let s = make();
    const reporter = new DiscoveryReporter({ sources: { snapshot: () => s.snapshot() } as never, events: { record: async (t, type, reason) => void events.push(`${t.name} ${type} ${reason}`) }, metrics, log: createLogger('silent'), kinds: ['externalsecret'] });
    await reporter.pass();
    await reporter.pass();
    expect(events).toEqual(['a Normal Discovered', 'f Warning UnsupportedReference']);
    generation = 2;
    s = make();
    await reporter.pass();
    expect(events).toEqual(['a Normal Discovered', 'f Warning UnsupportedReference', 'a Normal Discovered']);
    const gauge = (await metrics.registry.getSingleMetric('secrets_rotation_operator_discovered_sources')!.get()).values;
    expect(gauge).toEqual([expect.objectContaining({ labels: { source: 'externalsecret' }, value: 1 })]);
  });
});
