/**
 * Discovered sources (an ExternalSecret, a SecretProviderClass) under the chart's rollout
 * policy: the rollout is recorded in an annotation on the source before anything is
 * stamped, the loop paces the rest from that record, a new leader carries on from it, and
 * the chart-wide ceiling counts their workloads with the mappings'. Fakes for the API
 * server only: the real DiscoveredSources (listing, shared for a moment), SourceRecords,
 * Discovery, MappingCache, StatusWriter, Rotator, engine and execute path.
 */
import type * as k8s from '@kubernetes/client-node';
import { createLogger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';
import { SOURCE_ROLLOUT_ANNOTATION } from '../../../src/core/names';
import { Discovery } from '../../../src/discovery/discovery';
import type { EsoRefresher } from '../../../src/discovery/esoRefresh';
import { SourceRecords } from '../../../src/discovery/rolloutRecords';
import { DiscoveredSources } from '../../../src/discovery/sources';
import { MappingCache } from '../../../src/mappings/cache';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import type { SecretsRotationMapping } from '../../../src/mappings/model';
import { StatusWriter } from '../../../src/mappings/statusWriter';
import { ABANDON_ANNOTATION } from '../../../src/rollout/engine';
import { readRecord } from '../../../src/rotation/rolloutState';
import { Rollouts } from '../../../src/rotation/rollouts';
import { Rotator } from '../../../src/rotation/rotator';
import type { RestartOutcome } from '../../../src/workloads/adapters';
import type { Health } from '../../../src/workloads/kinds';
import { podTemplateReferences } from '../../../src/workloads/references';
import type { WorkloadKind, WorkloadState } from '../../../src/workloads/workload';
import { resolved, SECRET_KEY } from '../../support/builders';

const NS = 'ns';
const T0 = Date.parse('2026-03-02T10:00:00Z');
const KINDS: WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

/** Deployments; `list` with an empty selector lists a namespace's every one (how a source's consumers are found). */
class FakeApps {
  readonly workloads = new Map<string, WorkloadState & { labels: Record<string, string> }>();
  readonly patches: string[] = [];
  constructor(private readonly log: string[]) {}

  add(name: string, use: { secret: string } | { providerClass: string } | { labels: Record<string, string> }) {
    const spec =
      'secret' in use
        ? { containers: [{ name: 'c', envFrom: [{ secretRef: { name: use.secret } }] }] }
        : 'providerClass' in use
          ? { containers: [], volumes: [{ name: 'v', csi: { driver: 'secrets-store.csi.k8s.io', volumeAttributes: { secretProviderClass: use.providerClass } } }] }
          : { containers: [] };
    const labels = 'labels' in use ? use.labels : {};
    this.workloads.set(name, { kind: 'Deployment', namespace: NS, name, rollout: 'Rolling', appliedVersions: {}, health: 'healthy', labels, references: podTemplateReferences({ spec }) });
  }

  setHealth(name: string, health: Health) {
    this.workloads.set(name, { ...this.workloads.get(name)!, health });
  }

  settle() {
    for (const [name, w] of this.workloads) if (w.health === 'progressing') this.setHealth(name, 'healthy');
  }

  rolling() {
    return [...this.workloads.values()].filter((w) => w.health === 'progressing').length;
  }

  count(name: string) {
    return this.patches.filter((p) => p === name).length;
  }

  readonly client = {
    list: async (kind: WorkloadKind, namespace: string, selector: string): Promise<WorkloadState[]> => {
      const [k, v] = selector.split('=');
      return [...this.workloads.values()].filter((w) => w.kind === kind && w.namespace === namespace && (selector === '' || w.labels[k] === v));
    },
    restart: async (w: WorkloadState, versions: Readonly<Record<string, string>>, now: Date): Promise<RestartOutcome> => {
      const cur = this.workloads.get(w.name)!;
      if (Object.entries(versions).every(([k, v]) => cur.appliedVersions[k] === v)) return { patched: false };
      this.patches.push(w.name);
      this.log.push(`restart ${w.name}`);
      this.workloads.set(w.name, { ...cur, appliedVersions: { ...cur.appliedVersions, ...versions }, restartedAt: now.toISOString(), health: 'progressing' });
      return { patched: true, rollout: cur.rollout };
    },
  };
}

type Obj = { metadata: { name: string; namespace: string; uid: string; generation: number; annotations?: Record<string, string> }; spec: unknown };

/** The API server's custom objects: ESO's and the CSI driver's kinds, listed and merge-patched (annotations). */
class FakeCustomObjects {
  readonly objects = new Map<string, Obj[]>([
    ['externalsecrets', []],
    ['secretstores', [{ metadata: { name: 'aws', namespace: NS, uid: 'store', generation: 1 }, spec: { provider: { aws: { service: 'SecretsManager', region: 'us-east-1' } } } }]],
    ['clustersecretstores', []],
    ['secretproviderclasses', []],
  ]);
  failPatches = false;
  constructor(private readonly log: string[]) {}

  externalSecret(name: string, target: string) {
    this.objects.get('externalsecrets')!.push({ metadata: { name, namespace: NS, uid: `uid-${name}`, generation: 1 }, spec: { secretStoreRef: { name: 'aws' }, target: { name: target }, data: [{ remoteRef: { key: SECRET_KEY } }] } });
  }

  providerClass(name: string) {
    this.objects.get('secretproviderclasses')!.push({ metadata: { name, namespace: NS, uid: `uid-${name}`, generation: 1 }, spec: { provider: 'aws', parameters: { objects: `- objectName: "${SECRET_KEY}"\n  objectType: secretsmanager\n` } } });
  }

  /** The rollout record on a source, as `kubectl get -o jsonpath` would read it. */
  record(plural: string, name: string): Record<string, unknown> | undefined {
    const json = this.objects.get(plural)!.find((o) => o.metadata.name === name)?.metadata.annotations?.[SOURCE_ROLLOUT_ANNOTATION];
    return json === undefined ? undefined : JSON.parse(json);
  }

  /** The client's shape (its answers carry `response` too, which nothing here reads). */
  get client(): k8s.CustomObjectsApi {
    return this.api as unknown as k8s.CustomObjectsApi;
  }

  private readonly api = {
    listClusterCustomObject: async (_group: string, _version: string, plural: string) => ({ body: { items: structuredClone(this.objects.get(plural) ?? []) } }),
    listNamespacedCustomObject: async (_group: string, _version: string, namespace: string, plural: string) => ({ body: { items: structuredClone((this.objects.get(plural) ?? []).filter((o) => o.metadata.namespace === namespace)) } }),
    patchNamespacedCustomObject: async (_group: string, _version: string, namespace: string, plural: string, name: string, body: { metadata: { uid?: string; annotations: Record<string, string> } }) => {
      if (this.failPatches) throw new Error('HTTP 500');
      const obj = this.objects.get(plural)!.find((o) => o.metadata.namespace === namespace && o.metadata.name === name);
      if (!obj) throw Object.assign(new Error('not found'), { statusCode: 404 });
      if (body.metadata.uid !== undefined && body.metadata.uid !== obj.metadata.uid) throw Object.assign(new Error('Precondition failed: UID'), { statusCode: 409 });
      obj.metadata.annotations = { ...obj.metadata.annotations, ...body.metadata.annotations };
      this.log.push(`record ${plural}/${name}`);
      return { body: obj };
    },
  };
}

function setup(opts: { maxConcurrent: number; mappings?: string[] }) {
  let t = T0;
  const now = () => new Date(t);
  const log = createLogger('silent');
  const order: string[] = [];
  const apps = new FakeApps(order);
  const custom = new FakeCustomObjects(order);
  const index = new MappingIndex();
  const cache = new MappingCache(index, log);
  for (const name of opts.mappings ?? []) cache.apply('ADDED', mappingObject(name));
  let rv = 1;
  const writer = new StatusWriter({ cache, send: async () => ({ resourceVersion: String(++rv) }) });
  const events: { object: string; reason: string; message: string }[] = [];
  const eventPort = { record: async (target: { kind?: string; name: string }, _type: 'Normal' | 'Warning', reason: string, message: string) => void events.push({ object: `${target.kind}/${target.name}`, reason, message }) };
  const metrics = createMetrics(false);
  const chart = { maxConcurrent: opts.maxConcurrent, settleSeconds: 0, windows: [] };
  // Shared for 2 s, as in the operator (TUNING.discoveryListMaxAgeMs): a pass may read a listing older than its last write.
  const listing = () => new DiscoveredSources({ api: custom.client, namespaces: [], externalSecrets: true, providerClasses: true, log, maxAgeMs: 2_000, now: () => t });
  /** A replica's rollouts: a new one is a restarted operator or a new leader (nothing in memory). */
  const replica = (sources = listing()) =>
    new Rollouts({ mappings: cache, index, writer, workloads: apps.client, sources: new SourceRecords({ sources, api: custom.client, workloads: apps.client, kinds: KINDS }), events: eventPort, metrics, log, chart, now });
  const sources = listing();
  const rollouts = replica(sources);
  const refresher = { refresh: async () => undefined } as unknown as EsoRefresher;
  const rotator = new Rotator({
    index,
    workloads: apps.client,
    discovery: new Discovery({ sources, refresher, scope: { accounts: [], regions: [] }, kinds: KINDS }),
    status: { recordRotation: async () => undefined },
    events: eventPort,
    metrics,
    log,
    region: 'us-east-1',
    dryRun: false,
    rollouts,
    now,
  });
  return { apps, custom, cache, rollouts, rotator, events, order, replica, advance: (seconds: number) => void (t += seconds * 1000) };
}

function mappingObject(name: string): SecretsRotationMapping {
  return {
    apiVersion: 'awssecretsoperator.secretoperator/v1',
    kind: 'SecretsRotationMapping',
    metadata: { name, namespace: NS, uid: `uid-${name}`, generation: 1, resourceVersion: '1' },
    spec: { secretId: 'app', selector: { matchLabels: { app: name } } },
  };
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('a discovered source follows the chart-wide rollout policy, its record in an annotation on the source', () => {
  it('an ExternalSecret with 3 consumers under maxConcurrent 1: recorded on the ExternalSecret before the first stamp, the others Deferred, rolled one at a time by the loop, each once; the record ends Complete 3/3', async () => {
    const s = setup({ maxConcurrent: 1 });
    s.custom.externalSecret('app', 'app-env');
    for (const n of names('c', 3)) s.apps.add(n, { secret: 'app-env' });
    s.apps.add('other', { secret: 'other-env' });
    const done = await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(done.get('c1')).toBe(true);
    // The intent is durable before anything rolls.
    expect(s.order).toEqual(['record externalsecrets/app', 'restart c-0']);
    expect(s.apps.patches).toEqual(['c-0']);
    expect(s.custom.record('externalsecrets', 'app')).toMatchObject({ versions: { [SECRET_KEY]: 'v2' }, phase: 'Rolling', workloads: ['Deployment/c-0', 'Deployment/c-1', 'Deployment/c-2'], states: 'spp', summary: 'Rolling 0/3', eventId: 'ev-c1' });
    // What the workloads' owners are told: one restarted, two waiting for the rollout.
    const told = s.events.filter((e) => e.object.startsWith('Deployment/')).sort((a, b) => a.object.localeCompare(b.object));
    expect(told).toEqual([
      { object: 'Deployment/c-0', reason: 'Restarted', message: expect.stringMatching(/^restarted by /) },
      { object: 'Deployment/c-1', reason: 'Deferred', message: expect.stringMatching(/^to be restarted when its turn comes: held by the rollout \(Rolling 0\/3\)/) },
      { object: 'Deployment/c-2', reason: 'Deferred', message: expect.stringMatching(/^to be restarted when its turn comes/) },
    ]);
    let peak = s.apps.rolling();
    for (let pass = 0; pass < 6; pass++) {
      s.advance(1);
      await s.rollouts.tick();
      peak = Math.max(peak, s.apps.rolling());
      s.apps.settle();
    }
    s.advance(1);
    await s.rollouts.tick();
    expect(peak).toBe(1);
    expect(names('c', 3).map((n) => s.apps.count(n))).toEqual([1, 1, 1]);
    expect(s.apps.count('other')).toBe(0);
    expect(s.custom.record('externalsecrets', 'app')).toMatchObject({ phase: 'Complete', states: 'hhh', summary: 'Complete 3/3' });
    expect(s.events.filter((e) => e.object === 'ExternalSecret/app').map((e) => e.reason)).toEqual(['RotationDeferred', 'RolloutComplete']);
  });

  it('a new leader carries on from the annotation where the last left off: none stamped twice, none forgotten', async () => {
    const s = setup({ maxConcurrent: 1 });
    s.custom.externalSecret('app', 'app-env');
    for (const n of names('c', 3)) s.apps.add(n, { secret: 'app-env' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    s.apps.settle();
    s.advance(1);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['c-0', 'c-1']);
    // The old leader stops; the next one has nothing in memory and its own listing.
    s.rollouts.stopped();
    const next = s.replica();
    for (let pass = 0; pass < 4; pass++) {
      s.apps.settle();
      s.advance(1);
      await next.tick();
    }
    expect(names('c', 3).map((n) => s.apps.count(n))).toEqual([1, 1, 1]);
    expect(readRecord(s.custom.record('externalsecrets', 'app'))).toMatchObject({ phase: 'Complete', states: 'hhh' });
  });

  it("the chart-wide ceiling counts a mapping's and a SecretProviderClass's workloads together: 2 + 2 under a ceiling of 3 roll 3 at first", async () => {
    const s = setup({ maxConcurrent: 3, mappings: ['web'] });
    s.custom.providerClass('db');
    for (const n of names('web', 2)) s.apps.add(n, { labels: { app: 'web' } });
    for (const n of names('csi', 2)) s.apps.add(n, { providerClass: 'db' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect([...s.apps.patches].sort()).toEqual(['csi-0', 'web-0', 'web-1']);
    expect(s.custom.record('secretproviderclasses', 'db')).toMatchObject({ states: 'sp' });
    s.advance(1);
    await s.rollouts.tick();
    expect(s.apps.patches).toHaveLength(3);
    // A mapping's workload turns healthy: the slot it frees goes to the source's in the same pass.
    s.apps.setHealth('web-0', 'healthy');
    s.advance(1);
    await s.rollouts.tick();
    expect(s.apps.patches.slice(3)).toEqual(['csi-1']);
  });

  it('a record that cannot be written on the source stamps nothing, and the change is retried', async () => {
    const s = setup({ maxConcurrent: 10 });
    s.custom.externalSecret('app', 'app-env');
    for (const n of names('c', 2)) s.apps.add(n, { secret: 'app-env' });
    s.custom.failPatches = true;
    const done = await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(done.get('c1')).toBe(false);
    expect(s.apps.patches).toEqual([]);
    s.custom.failPatches = false;
    expect((await s.rotator.rotate([resolved('c1', 'v2')])).get('c1')).toBe(true);
    expect(s.apps.patches).toEqual(['c-0', 'c-1']);
  });

  it("a person's request on the source acts as on a mapping: an abandon annotation ends the rollout, nothing more is stamped", async () => {
    const s = setup({ maxConcurrent: 1 });
    s.custom.externalSecret('app', 'app-env');
    for (const n of names('c', 3)) s.apps.add(n, { secret: 'app-env' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    const es = s.custom.objects.get('externalsecrets')![0];
    es.metadata.annotations = { ...es.metadata.annotations, [ABANDON_ANNOTATION]: '1' };
    s.apps.settle();
    s.advance(3);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['c-0']);
    expect(s.custom.record('externalsecrets', 'app')).toMatchObject({ phase: 'Abandoned' });
  });
});
