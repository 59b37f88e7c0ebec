import { EsoRefresher, EsoSyncError } from '../../../src/discovery/esoRefresh';
import { esoResourceVersion, matchSources, readExternalSecret } from '../../../src/discovery/model';
import { Limiter, withLimit } from '../../../src/kube/limit';
import { createLogger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';
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

type Meta = { generation: number; annotations: Record<string, string> };
/** What ESO writes to the status of an ExternalSecret: a sync of `synced` (ESO's resource version of the object it read), Ready or not. */
const statusOf = (synced: string, ready = 'True', at = '2000-01-01T00:00:00Z') => ({
  syncedResourceVersion: synced,
  conditions: [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'SecretSynced' : 'SecretSyncedError', message: 'could not get secret', lastTransitionTime: at }],
});
/** ESO's answer to each status read, from the object as it is then. */
type Eso = (meta: Meta) => object;
/** ESO synced the object as it is now (our force-sync value included). */
const syncsNow: Eso = (meta) => statusOf(esoResourceVersion(meta));
/** ESO has not synced since the version it synced before any request. */
const syncedLongAgo: Eso = () => statusOf('1-0000');

function setup(opts: { gets: Eso[]; patchError?: Error; timeoutMs?: number; api?: (api: object) => object }) {
  const patches: unknown[][] = [];
  const events: { kind: string; name: string; type: string; reason: string; message: string }[] = [];
  let gets = 0;
  let meta: Meta = { generation: 1, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } };
  let status: object = syncedLongAgo(meta);
  const raw = {
    patchNamespacedCustomObject: async (...args: unknown[]) => {
      patches.push(args);
      if (opts.patchError) throw opts.patchError;
      const body = args[5] as { metadata: { annotations: Record<string, string> } };
      meta = { ...meta, annotations: { ...meta.annotations, ...body.metadata.annotations } };
      return { body: { metadata: meta, status } };
    },
    getNamespacedCustomObject: async () => {
      status = opts.gets[Math.min(gets++, opts.gets.length - 1)](meta);
      return { body: { metadata: meta, status } };
    },
  };
  const metrics = createMetrics();
  let clock = Date.parse('2026-12-07T10:00:00Z');
  const refresher = new EsoRefresher({
    api: (opts.api ? opts.api(raw) : raw) as never,
    timeoutMs: opts.timeoutMs ?? 2_000,
    pollMs: 5,
    events: { record: async (t, type, reason, message) => void events.push({ kind: t.kind, name: t.name, type, reason, message }) },
    metrics,
    log: createLogger('silent'),
    // A clock that moves on each reading: each request's force-sync value is new.
    now: () => (clock += 7),
  });
  const failures = async () => (await metrics.registry.getSingleMetric('secrets_rotation_operator_eso_sync_failures_total')!.get()).values.map((v) => [v.labels.reason, v.value]);
  return { refresher, patches, events, failures, gets: () => gets, meta: () => meta };
}

describe('EsoRefresher', () => {
  it('asks through the force-sync annotation only, and resolves once ESO synced after the request', async () => {
    const t = setup({ gets: [syncedLongAgo, syncedLongAgo, syncsNow] });
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
    const t = setup({ gets: [syncedLongAgo], timeoutMs: 60 });
    const err = await t.refresher.refresh(mappingOf()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EsoSyncError);
    expect((err as EsoSyncError).reason).toBe('timeout');
    expect(t.events).toEqual([{ kind: 'ExternalSecret', name: 'app', type: 'Warning', reason: 'ExternalSecretNotSynced', message: expect.stringContaining('ESO did not sync it within 0 s') }]);
    expect(t.events[0].message).toContain('workloads using Secret app-env were not rolled');
    expect(await t.failures()).toEqual([['timeout', 1]]);
  });

  it('does not ask at all when refreshInterval is 0 (ESO would ignore it)', async () => {
    const t = setup({ gets: [syncsNow] });
    const err = await t.refresher.refresh(mappingOf({ refreshInterval: '0s' })).catch((e: unknown) => e);
    expect((err as EsoSyncError).reason).toBe('not_refreshable');
    expect(t.patches).toEqual([]);
    expect(t.events).toEqual([expect.objectContaining({ reason: 'ExternalSecretNotSynced', message: expect.stringContaining('refreshInterval is 0') })]);
    expect(await t.failures()).toEqual([['not_refreshable', 1]]);
  });

  it('fails at once when ESO reports a failed sync after the request', async () => {
    const t = setup({ gets: [() => statusOf('1-0000', 'False', '2026-12-07T10:00:01Z')] });
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
    const t = setup({ gets: [syncedLongAgo], timeoutMs: 5_000 });
    const ac = new AbortController();
    const p = t.refresher.refresh(mappingOf(), ac.signal).catch((e: unknown) => e);
    ac.abort(new Error('stepped down'));
    expect(((await p) as Error).message).toBe('stepped down');
    expect(t.events).toEqual([]);
  });

  it("does not take an earlier request's late sync for its own (request 1 timed out while ESO still fetched; request 2 asked since)", async () => {
    let eso: Eso = syncedLongAgo;
    const t = setup({ gets: [(meta) => eso(meta)], timeoutMs: 200 });
    // Request 1: ESO starts a sync of the object carrying request 1's force-sync value and does not finish in time.
    await expect(t.refresher.refresh(mappingOf())).rejects.toThrow(EsoSyncError);
    const firstAsked = t.meta();
    // Request 2 (the secret moved on): ESO's slow sync of request 1 lands first, then ESO syncs request 2's value.
    let reads = 0;
    eso = (meta) => (reads++ < 3 ? statusOf(esoResourceVersion(firstAsked)) : syncsNow(meta));
    await t.refresher.refresh(mappingOf());
    expect(reads).toBe(4);
  });

  it('each status read goes through the limiter it is given: bounded with the others, and each counts as progress for the stall watchdog', async () => {
    const limiter = new Limiter(2);
    let runs = 0;
    const load = { active: 0, peak: 0 };
    const run = limiter.run.bind(limiter);
    limiter.run = (fn) => (runs++, run(fn));
    const counted = (raw: object) =>
      withLimit(
        Object.fromEntries(
          Object.entries(raw).map(([k, f]) => [
            k,
            async (...args: unknown[]) => {
              load.active++;
              load.peak = Math.max(load.peak, load.active);
              await new Promise((r) => setImmediate(r));
              load.active--;
              return (f as (...a: unknown[]) => Promise<unknown>)(...args);
            },
          ]),
        ),
        limiter,
      );
    const t = setup({ gets: [syncedLongAgo, syncedLongAgo, syncedLongAgo, syncsNow], api: counted });
    await Promise.all(Array.from({ length: 6 }, () => t.refresher.refresh(mappingOf())));
    expect(runs).toBe(t.patches.length + t.gets());
    expect(load.peak).toBeLessThanOrEqual(2);
  });
});

describe("esoResourceVersion: ESO's record of the object a sync read", () => {
  // Values computed with ESO v0.16.2's util.GetResourceVersion (Go): "<generation>-" + SHA3-224 of fmt's %+v of its labels and annotations.
  it('is what ESO writes to status.syncedResourceVersion', () => {
    const annotations = { 'force-sync': '1765101234567', 'kubectl.kubernetes.io/last-applied-configuration': '{"a": [1, 2]}\n', b: 'x y' };
    expect(esoResourceVersion({ generation: 3, annotations, labels: { app: 'web' } })).toBe('3-fb72f9a91b97a66033d0257f5c9fce148690fee8f9b7581339782c21');
    expect(esoResourceVersion({ generation: 1 })).toBe('1-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2');
  });
});
