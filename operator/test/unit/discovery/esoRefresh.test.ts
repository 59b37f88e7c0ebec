import { EsoRefresher, EsoSyncError } from '../../../src/discovery/esoRefresh';
import { matchSources, readExternalSecret } from '../../../src/discovery/model';
import { createLogger } from '../../../src/log';
import { createMetrics } from '../../../src/metrics';
import { parseSecretId } from '../../../src/secrets/secretId';

const FULL = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db/pass-AbC123';

function mappingOf(spec: Record<string, unknown> = {}) {
  const source = readExternalSecret(
    { metadata: { name: 'app', namespace: 'team', uid: 'u1', generation: 1 }, spec: { secretStoreRef: { name: 'aws' }, target: { name: 'app-env' }, data: [{ remoteRef: { key: 'db/pass' } }], ...spec } },
    'external-secrets.io/v1',
    () => ({ awsSecretsManager: true, region: 'eu-west-1' }),
  );
  return matchSources([source], parseSecretId(FULL, 'full'), { accounts: [], regions: [] }, ['Deployment'])[0];
}

const readyAt = (syncedResourceVersion: string, ready = 'True', at = '2000-01-01T00:00:00Z') => ({
  status: { syncedResourceVersion, conditions: [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'SecretSynced' : 'SecretSyncedError', message: 'could not get secret', lastTransitionTime: at }] },
});

function setup(opts: { gets: object[]; patchError?: Error; timeoutMs?: number }) {
  const patches: unknown[][] = [];
  const events: { kind: string; name: string; type: string; reason: string; message: string }[] = [];
  let gets = 0;
  const api = {
    patchNamespacedCustomObject: async (...args: unknown[]) => {
      patches.push(args);
      if (opts.patchError) throw opts.patchError;
      return { body: readyAt('1-before') };
    },
    getNamespacedCustomObject: async () => ({ body: opts.gets[Math.min(gets++, opts.gets.length - 1)] }),
  };
  const metrics = createMetrics();
  const refresher = new EsoRefresher({
    api: api as never,
    timeoutMs: opts.timeoutMs ?? 2_000,
    pollMs: 5,
    events: { record: async (t, type, reason, message) => void events.push({ kind: t.kind, name: t.name, type, reason, message }) },
    metrics,
    log: createLogger('silent'),
  });
  const failures = async () => (await metrics.registry.getSingleMetric('secrets_rotation_operator_eso_sync_failures_total')!.get()).values.map((v) => [v.labels.reason, v.value]);
  return { refresher, patches, events, failures, gets: () => gets };
}

describe('EsoRefresher', () => {
  it('asks through the force-sync annotation only, and resolves once ESO synced after the request', async () => {
    const t = setup({ gets: [readyAt('1-before'), readyAt('1-before'), readyAt('1-after')] });
    await t.refresher.refresh(mappingOf());
    expect(t.patches).toHaveLength(1);
    const [group, version, namespace, plural, name, body] = t.patches[0];
    expect([group, version, namespace, plural, name]).toEqual(['external-secrets.io', 'v1', 'team', 'externalsecrets', 'app']);
    expect(body).toEqual({ metadata: { annotations: { 'force-sync': expect.stringMatching(/^\d+$/) } } });
    expect(t.gets()).toBe(3);
    expect(t.events).toEqual([]);
    expect(await t.failures()).toEqual([]);
  });

  it('times out when ESO does not sync: a Warning Event on the ExternalSecret, the metric, and an error', async () => {
    const t = setup({ gets: [readyAt('1-before')], timeoutMs: 60 });
    const err = await t.refresher.refresh(mappingOf()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EsoSyncError);
    expect((err as EsoSyncError).reason).toBe('timeout');
    expect(t.events).toEqual([{ kind: 'ExternalSecret', name: 'app', type: 'Warning', reason: 'ExternalSecretNotSynced', message: expect.stringContaining('ESO did not sync it within 0 s') }]);
    expect(t.events[0].message).toContain('workloads using Secret app-env were not rolled');
    expect(await t.failures()).toEqual([['timeout', 1]]);
  });

  it('does not ask at all when refreshInterval is 0 (ESO would ignore it)', async () => {
    const t = setup({ gets: [readyAt('1-after')] });
    const err = await t.refresher.refresh(mappingOf({ refreshInterval: '0s' })).catch((e: unknown) => e);
    expect((err as EsoSyncError).reason).toBe('not_refreshable');
    expect(t.patches).toEqual([]);
    expect(t.events).toEqual([expect.objectContaining({ reason: 'ExternalSecretNotSynced', message: expect.stringContaining('refreshInterval is 0') })]);
    expect(await t.failures()).toEqual([['not_refreshable', 1]]);
  });

  it('fails at once when ESO reports a failed sync after the request', async () => {
    const t = setup({ gets: [readyAt('1-before', 'False', new Date(Date.now() + 1000).toISOString())] });
    const err = await t.refresher.refresh(mappingOf()).catch((e: unknown) => e);
    expect((err as EsoSyncError).reason).toBe('failed');
    expect((err as Error).message).toContain('SecretSyncedError: could not get secret');
    expect(await t.failures()).toEqual([['failed', 1]]);
  });

  it('reports a refused request as an error', async () => {
    const t = setup({ gets: [], patchError: new Error('forbidden') });
    const err = await t.refresher.refresh(mappingOf()).catch((e: unknown) => e);
    expect((err as EsoSyncError).reason).toBe('error');
    expect(t.events[0].message).toContain('forbidden');
  });

  it('stops waiting when the term is aborted, without reporting', async () => {
    const t = setup({ gets: [readyAt('1-before')], timeoutMs: 5_000 });
    const ac = new AbortController();
    const p = t.refresher.refresh(mappingOf(), ac.signal).catch((e: unknown) => e);
    ac.abort(new Error('stepped down'));
    expect(((await p) as Error).message).toBe('stepped down');
    expect(t.events).toEqual([]);
  });
});
