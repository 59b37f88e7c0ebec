/**
 * The rollout shell (rotation/rollouts.ts) with the rotator in front of it: the intent is
 * recorded in status.rollout before anything is stamped, the loop (`tick`) advances it
 * from what the workloads say, and every workload is stamped once per version. Fakes for
 * the API server only: the real MappingCache, StatusWriter (merge patches as the server
 * applies them), Rotator, engine and execute path.
 */
import { createLogger } from '../../../src/core/log';
import { MappingCache } from '../../../src/mappings/cache';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import type { RotationRecord, SecretsRotationMapping, SecretsRotationMappingSpec } from '../../../src/mappings/model';
import { StatusWriter } from '../../../src/mappings/statusWriter';
import { createMetrics, METRIC_PREFIX } from '../../../src/core/metrics';
import { readRecord, ROLLOUT_HALTED } from '../../../src/rotation/rolloutState';
import type { RolloutHalt } from '../../../src/rotation/notifier';
import { Rollouts } from '../../../src/rotation/rollouts';
import { Rotator } from '../../../src/rotation/rotator';
import type { RestartOutcome } from '../../../src/workloads/adapters';
import type { ListPods, PodFacts } from '../../../src/workloads/pods';
import type { Health } from '../../../src/workloads/kinds';
import type { Rollout, WorkloadKind, WorkloadState } from '../../../src/workloads/workload';
import { resolved, secretChange, SECRET_KEY } from '../../support/builders';
import type { ResolvedChange } from '../../../src/rotation/plan';

const NS = 'ns';
const T0 = Date.parse('2026-03-02T10:00:00Z');

class FakeApps {
  readonly workloads = new Map<string, WorkloadState & { labels: Record<string, string> }>();
  readonly patches: string[] = [];
  /** The kinds listed, in order. */
  readonly lists: WorkloadKind[] = [];
  /** Names whose next PATCH fails (the API server refuses, or the replica dies before it). */
  failNext = new Set<string>();

  add(name: string, labels: Record<string, string>, opts: { rollout?: Rollout } = {}) {
    this.workloads.set(name, { kind: 'Deployment', namespace: NS, name, rollout: opts.rollout ?? 'Rolling', appliedVersions: {}, health: 'healthy', labels });
  }

  setHealth(name: string, health: Health) {
    this.workloads.set(name, { ...this.workloads.get(name)!, health });
  }

  /** Every workload stamped and rolling turns healthy, as its controller would. */
  settle() {
    for (const [name, w] of this.workloads) if (w.health === 'progressing') this.setHealth(name, 'healthy');
  }

  count(name: string) {
    return this.patches.filter((p) => p === name).length;
  }

  readonly client = {
    list: async (kind: WorkloadKind, namespace: string, selector: string): Promise<WorkloadState[]> => {
      this.lists.push(kind);
      const [k, v] = selector.split('=');
      return [...this.workloads.values()].filter((w) => w.kind === kind && w.namespace === namespace && w.labels[k] === v);
    },
    restart: async (w: WorkloadState, versions: Readonly<Record<string, string>>, now: Date): Promise<RestartOutcome> => {
      if (this.failNext.delete(w.name)) throw new Error('connection reset');
      const cur = this.workloads.get(w.name)!;
      if (Object.entries(versions).every(([k, v]) => cur.appliedVersions[k] === v)) return { patched: false };
      this.patches.push(w.name);
      this.workloads.set(w.name, { ...cur, appliedVersions: { ...cur.appliedVersions, ...versions }, restartedAt: now.toISOString(), health: cur.rollout === 'Rolling' ? 'progressing' : cur.health });
      return { patched: true, rollout: cur.rollout };
    },
  };
}

function setup(opts: { maxConcurrent?: number; dryRun?: boolean; pods?: ListPods; mappings?: { name: string; spec?: Partial<SecretsRotationMappingSpec>; annotations?: Record<string, string> }[] } = {}) {
  let t = T0;
  const now = () => new Date(t);
  const log = createLogger('silent');
  const index = new MappingIndex();
  const cache = new MappingCache(index, log);
  let rv = 1;
  const objects = (opts.mappings ?? [{ name: 'web' }]).map(({ name, spec, annotations }) => mappingObject(name, spec, annotations));
  for (const o of objects) cache.apply('ADDED', o);
  const writes: { key: string; patch: unknown }[] = [];
  const writer = new StatusWriter({
    cache,
    send: async (obj, patch) => {
      writes.push({ key: `${obj.metadata.namespace}/${obj.metadata.name}`, patch });
      return { resourceVersion: String(++rv) };
    },
  });
  const apps = new FakeApps();
  const events: { mapping: string; type: string; reason: string; message: string }[] = [];
  const eventPort = { record: async (target: { namespace?: string; name: string }, type: 'Normal' | 'Warning', reason: string, message: string) => void events.push({ mapping: `${target.namespace}/${target.name}`, type, reason, message }) };
  const metrics = createMetrics(false);
  const halts: RolloutHalt[] = [];
  const notifier = { rolloutHalted: (h: RolloutHalt) => void halts.push(h) };
  const rollouts = new Rollouts({ mappings: cache, index, writer, workloads: apps.client, events: eventPort, metrics, log, chart: { maxConcurrent: opts.maxConcurrent ?? 10, settleSeconds: 0, windows: [] }, notifier, now, ...(opts.pods ? { pods: opts.pods } : {}) });
  const rotations: { mapping: string; record: RotationRecord }[] = [];
  const rotator = new Rotator({
    index,
    workloads: apps.client,
    status: { recordRotation: async (m, record) => void rotations.push({ mapping: m.key, record }) },
    events: eventPort,
    metrics,
    log,
    region: 'us-east-1',
    dryRun: opts.dryRun ?? false,
    rollouts,
    now,
  });
  return {
    apps,
    cache,
    rollouts,
    rotator,
    events,
    metrics,
    rotations,
    writes,
    halts,
    advance: (seconds: number) => void (t += seconds * 1000),
    record: (name = 'web') => readRecord(cache.object(`${NS}/${name}`)?.status?.rollout),
    status: (name = 'web') => cache.object(`${NS}/${name}`)!.status!,
    /** A change to the mapping's spec or annotations, as the watch would bring it. */
    edit: (name: string, spec: Partial<SecretsRotationMappingSpec>, annotations?: Record<string, string>) => {
      const cur = cache.object(`${NS}/${name}`)!;
      cache.apply('MODIFIED', { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++rv), ...(annotations ? { annotations } : {}) }, spec: { ...cur.spec!, ...spec } });
    },
  };
}

function mappingObject(name: string, spec: Partial<SecretsRotationMappingSpec> = {}, annotations?: Record<string, string>): SecretsRotationMapping {
  return {
    apiVersion: 'awssecretsoperator.secretoperator/v1',
    kind: 'SecretsRotationMapping',
    metadata: { name, namespace: NS, uid: `uid-${name}`, generation: 1, resourceVersion: '1', ...(annotations ? { annotations } : {}) },
    spec: { secretId: 'app', selector: { matchLabels: { app: name } }, ...spec },
  };
}

const USER_KEY = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:user';
/** A change of a second secret, `user`. */
const userChange = (changeId: string, version: string): ResolvedChange => ({ changeId, change: secretChange(`ev-${changeId}`, version, undefined, `${USER_KEY}-XyZ789`), secretKey: USER_KEY, version });

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('a rollout recorded before anything is stamped, paced by the loop', () => {
  it('one workload and no policy: restarted at once by the rotation, as before, and the rollout completes when it is healthy', async () => {
    const s = setup();
    s.apps.add('api', { app: 'web' });
    const done = await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(done.get('c1')).toBe(true);
    expect(s.apps.patches).toEqual(['api']);
    expect(s.rotations[0].record.workloads).toEqual([{ kind: 'Deployment', name: 'api', result: 'Restarted' }]);
    expect(s.record()).toMatchObject({ phase: 'Rolling', versions: { [SECRET_KEY]: 'v2' }, workloads: ['Deployment/api'], states: 's' });
    // The intent was written before the PATCH: the first status write already names the workload stamped.
    expect(s.writes[0].patch).toMatchObject({ rollout: { states: 's', summary: 'Rolling 0/1' } });
    s.apps.settle();
    await s.rollouts.tick();
    expect(s.record()).toMatchObject({ phase: 'Complete', states: 'h' });
    expect(s.status().rollout?.summary).toBe('Complete 1/1');
    expect(s.events.map((e) => e.reason)).toEqual(['Rotated', 'RolloutComplete']);
    expect(s.apps.patches).toEqual(['api']);
  });

  it('maxConcurrent 2 of 5: two stamped now, three Deferred (the message is done), the rest as slots free up; each once', async () => {
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { maxConcurrent: 2 } } }] });
    for (const n of names('w', 5)) s.apps.add(n, { app: 'web' });
    const done = await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(done.get('c1')).toBe(true);
    expect(s.apps.patches).toEqual(['w-0', 'w-1']);
    expect(s.rotations[0].record.summary).toEqual({ Restarted: 2, Deferred: 3 });
    expect(s.record()).toMatchObject({ phase: 'Rolling', states: 'sspp'.padEnd(5, 'p') });
    // Nothing healthy yet: a pass stamps nothing more.
    await s.rollouts.tick();
    expect(s.apps.patches).toHaveLength(2);
    s.apps.setHealth('w-0', 'healthy');
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0', 'w-1', 'w-2']);
    expect(s.status().rollout?.summary).toBe('Rolling 1/5');
    for (let i = 0; i < 4; i++) {
      s.apps.settle();
      await s.rollouts.tick();
    }
    expect(s.record()).toMatchObject({ phase: 'Complete', states: 'hhhhh' });
    expect(names('w', 5).map((n) => s.apps.count(n))).toEqual([1, 1, 1, 1, 1]);
    const gauge = await s.metrics.rolloutWorkloads.get();
    expect(gauge.values.map((v) => [v.labels.state, v.value])).toEqual([['rolling', 0], ['waiting', 0], ['halted', 0]]);
  });

  it('the chart-wide ceiling counts every mapping: two mappings of 3 under a ceiling of 4 stamp 4 at first', async () => {
    const s = setup({ maxConcurrent: 4, mappings: [{ name: 'a' }, { name: 'b' }] });
    for (const n of names('a', 3)) s.apps.add(n, { app: 'a' });
    for (const n of names('b', 3)) s.apps.add(n, { app: 'b' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual(['a-0', 'a-1', 'a-2', 'b-0']);
    await s.rollouts.tick();
    expect(s.apps.patches).toHaveLength(4);
    // One of a's turns healthy: the slot it frees goes to b in the same pass.
    s.apps.setHealth('a-0', 'healthy');
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['a-0', 'a-1', 'a-2', 'b-0', 'b-1']);
    s.apps.settle();
    await s.rollouts.tick();
    expect(s.apps.patches).toHaveLength(6);
  });

  it('a canary that fails halts the rollout: nothing more is stamped, RolloutHalted=True CanaryUnhealthy, a Warning Event, the metric; a redelivery changes nothing; a newer version starts again with the canary', async () => {
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { canary: { count: 1 } } } }] });
    for (const n of names('w', 4)) s.apps.add(n, { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual(['w-0']);
    s.apps.setHealth('w-0', { failed: 'Progressing=False (ProgressDeadlineExceeded)' });
    await s.rollouts.tick();
    expect(s.record()).toMatchObject({ phase: 'Halted', reason: 'CanaryUnhealthy', states: 'fppp' });
    const halted = s.status().conditions!.find((c) => c.type === ROLLOUT_HALTED)!;
    expect(halted).toMatchObject({ status: 'True', reason: 'CanaryUnhealthy' });
    expect(halted.message).toContain('canary Deployment/w-0 is not healthy');
    expect(halted.message).toContain('ProgressDeadlineExceeded');
    expect(s.events.filter((e) => e.reason !== 'RotationDeferred')).toEqual([expect.objectContaining({ mapping: 'ns/web', type: 'Warning', reason: 'CanaryUnhealthy' })]);
    expect((await s.metrics.registry.getSingleMetricAsString(`${METRIC_PREFIX}rollouts_halted_total`)).split('\n').at(-1)).toBe(`${METRIC_PREFIX}rollouts_halted_total 1`);
    expect(s.halts.map((h) => ({ mapping: h.mapping.key, versions: h.versions, message: h.message, workloadCount: h.workloadCount }))).toEqual([
      { mapping: 'ns/web', versions: { [SECRET_KEY]: 'v2' }, message: halted.message, workloadCount: 4 },
    ]);
    // What the alert reads: one rollout halted now, its three other workloads held.
    expect((await s.metrics.rolloutsHaltedNow.get()).values[0].value).toBe(1);
    expect((await s.metrics.rolloutWorkloads.get()).values.find((v) => v.labels.state === 'halted')?.value).toBe(3);
    // The same event again (redelivery, drift): the halt holds.
    await s.rotator.rotate([resolved('c2', 'v2')]);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0']);
    expect(s.record()?.phase).toBe('Halted');
    // A good value: the canary first again, then the rest; the halt is over.
    await s.rotator.rotate([resolved('c3', 'v3')]);
    expect(s.apps.patches).toEqual(['w-0', 'w-0']);
    expect(s.status().conditions!.find((c) => c.type === ROLLOUT_HALTED)).toMatchObject({ status: 'False' });
    s.apps.settle();
    await s.rollouts.tick();
    expect(s.apps.patches.slice(2).sort()).toEqual(['w-1', 'w-2', 'w-3']);
    expect(s.record()?.reason).toBeUndefined();
    expect((await s.metrics.rolloutsHaltedNow.get()).values[0].value).toBe(0);
    expect(s.halts).toHaveLength(1);
  });

  it('a canary whose new pods crash-loop halts the rollout at once, long before its health deadline', async () => {
    const pods = new Map<string, PodFacts[]>();
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { canary: { count: 1 } } } }], pods: async (_ns, sel) => pods.get(sel) ?? [] });
    for (const n of names('w', 3)) s.apps.add(n, { app: 'web' });
    for (const n of names('w', 3)) s.apps.workloads.set(n, { ...s.apps.workloads.get(n)!, podSelector: `app=web,name=${n}` });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual(['w-0']);
    s.advance(5);
    await s.rollouts.tick();
    expect(s.record()?.phase).toBe('Canary');
    pods.set('app=web,name=w-0', [{ name: 'w-0-new', versions: { [SECRET_KEY]: 'v2' }, waiting: [{ container: 'app', reason: 'CrashLoopBackOff', restarts: 2 }] }]);
    s.advance(5);
    await s.rollouts.tick();
    expect(s.record()).toMatchObject({ phase: 'Halted', reason: 'CanaryUnhealthy', states: 'fpp' });
    expect(s.status().conditions!.find((c) => c.type === ROLLOUT_HALTED)!.message).toContain('pod w-0-new: container app in CrashLoopBackOff (2 restarts)');
    expect(s.apps.patches).toEqual(['w-0']);
  });

  it('settling across secrets: two mappings of two secrets changed 2 s apart restart their shared workloads once, each stamp carrying both versions', async () => {
    const s = setup({
      mappings: [
        { name: 'web', spec: { rollout: { settleSeconds: 10 } } },
        { name: 'web-user', spec: { secretId: 'user', selector: { matchLabels: { app: 'web' } }, rollout: { settleSeconds: 10 } } },
      ],
    });
    for (const n of names('w', 2)) s.apps.add(n, { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    s.advance(2);
    await s.rotator.rotate([userChange('c2', 'u2')]);
    expect(s.record('web-user')).toMatchObject({ phase: 'Settling', states: 'pp' });
    s.advance(9);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0', 'w-1']);
    for (const n of names('w', 2)) expect(s.apps.workloads.get(n)!.appliedVersions).toEqual({ [SECRET_KEY]: 'v2', [USER_KEY]: 'u2' });
    s.apps.settle();
    s.advance(2);
    await s.rollouts.tick();
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0', 'w-1']);
    expect(s.record('web')?.phase).toBe('Complete');
    expect(s.record('web-user')?.phase).toBe('Complete');
  });

  it("the loop lists only the kinds its rollout holds (the mapping selects three): one list a pass for a Deployment-only rollout", async () => {
    const s = setup({ maxConcurrent: 1 });
    for (const n of names('w', 2)) s.apps.add(n, { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    s.apps.lists.length = 0;
    await s.rollouts.tick();
    expect(s.apps.lists).toEqual(['Deployment']);
  });

  it('suspended: the change is recorded, nothing is restarted (Deferred, Suspended); un-suspending rolls what was recorded, once', async () => {
    const s = setup({ mappings: [{ name: 'web', spec: { suspend: true } }] });
    for (const n of names('w', 2)) s.apps.add(n, { app: 'web' });
    const done = await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(done.get('c1')).toBe(true);
    expect(s.apps.patches).toEqual([]);
    expect(s.record()).toMatchObject({ phase: 'Deferred', reason: 'Suspended', states: 'pp' });
    expect(s.rotations[0].record.workloads.map((w) => w.result)).toEqual(['Deferred', 'Deferred']);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual([]);
    s.edit('web', { suspend: false });
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0', 'w-1']);
    expect(s.record()).toMatchObject({ phase: 'Rolling', states: 'ss' });
    expect(s.record()?.reason).toBeUndefined();
    s.apps.settle();
    await s.rollouts.tick();
    expect(s.record()?.phase).toBe('Complete');
    expect(s.apps.patches).toEqual(['w-0', 'w-1']);
  });

  it('settleSeconds: two secrets changed apart join one rollout, each workload stamped once with both versions', async () => {
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { settleSeconds: 10 } } }] });
    s.apps.add('w-0', { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.record()?.phase).toBe('Settling');
    s.advance(2);
    await s.rotator.rotate([resolved('c2', 'v3')]);
    expect(s.apps.patches).toEqual([]);
    expect(s.record()).toMatchObject({ phase: 'Settling', versions: { [SECRET_KEY]: 'v3' } });
    s.advance(9);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0']);
    expect(s.apps.workloads.get('w-0')!.appliedVersions).toEqual({ [SECRET_KEY]: 'v3' });
  });

  it('a dry run records no rollout and says what would restart, as before', async () => {
    const s = setup({ dryRun: true, mappings: [{ name: 'web', spec: { rollout: { maxConcurrent: 1 } } }] });
    for (const n of names('w', 2)) s.apps.add(n, { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual([]);
    expect(s.rotations[0].record.workloads.map((w) => w.result)).toEqual(['WouldRestart', 'WouldRestart']);
    expect(s.cache.object('ns/web')?.status?.rollout).toBeUndefined();
  });

  it('outside its restart windows: Deferred OutsideWindow with when the next opens, rolled by the loop once it opens; an override rolls at once', async () => {
    const windows = [{ kind: 'allow' as const, schedule: '0 12 * * *', duration: '1h', timeZone: 'UTC' }];
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { windows } } }, { name: 'urgent', spec: { rollout: { windows } } }] });
    s.apps.add('w-0', { app: 'web' });
    s.apps.add('u-0', { app: 'urgent' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual([]);
    expect(s.record()).toMatchObject({ phase: 'Deferred', reason: 'OutsideWindow', nextOpen: Date.parse('2026-03-02T12:00:00Z') / 1000 });
    s.edit('urgent', {}, { 'awssecretsoperator.secretoperator/rollout-override': 'leak-1' });
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['u-0']);
    s.advance(2 * 3600);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['u-0', 'w-0']);
    expect(s.record()?.nextOpen).toBeUndefined();
  });

  it('a stamp lost after its record was written is sent again by the loop, and only once', async () => {
    const s = setup();
    s.apps.add('w-0', { app: 'web' });
    s.apps.failNext.add('w-0');
    const done = await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(done.get('c1')).toBe(false);
    expect(s.record()?.states).toBe('s');
    expect(s.apps.patches).toEqual([]);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0']);
    await s.rollouts.tick();
    // The redelivered message finds the record and the stamp: nothing more.
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual(['w-0']);
  });

  it('a stamp the API server keeps refusing is tried again with a backoff, not at every pass', async () => {
    const s = setup();
    s.apps.add('w-0', { app: 'web' });
    s.apps.failNext.add('w-0');
    await s.rotator.rotate([resolved('c1', 'v2')]);
    const refusals = () => s.metrics.restarts.get().then((m) => m.values.find((v) => v.labels.result === 'failed')?.value ?? 0);
    s.apps.failNext.add('w-0');
    await s.rollouts.tick();
    expect(await refusals()).toBe(2);
    s.apps.failNext.add('w-0');
    s.advance(1);
    await s.rollouts.tick();
    s.apps.failNext.add('w-0');
    s.advance(1);
    await s.rollouts.tick();
    // One more refusal in two seconds, not two: the backoff after the loop's first refusal is 2 s.
    expect(await refusals()).toBe(3);
    s.advance(4);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0']);
  });

  it('a stamp whose record was lost (the workload carries the version) is counted, not sent twice', async () => {
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { maxConcurrent: 1 } } }] });
    for (const n of names('w', 2)) s.apps.add(n, { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    expect(s.apps.patches).toEqual(['w-0']);
    // Another replica stamped w-1 and died before writing the record.
    await s.apps.client.restart(s.apps.workloads.get('w-1')!, { [SECRET_KEY]: 'v2' }, new Date(T0));
    s.apps.settle();
    await s.rollouts.tick();
    expect(s.record()?.states).toBe('hh');
    expect(s.apps.patches).toEqual(['w-0', 'w-1']);
  });

  it('abandon on request: nothing more is stamped, and a redelivery of the version does not start it again', async () => {
    const s = setup({ mappings: [{ name: 'web', spec: { rollout: { maxConcurrent: 1 } } }] });
    for (const n of names('w', 3)) s.apps.add(n, { app: 'web' });
    await s.rotator.rotate([resolved('c1', 'v2')]);
    s.edit('web', {}, { 'awssecretsoperator.secretoperator/rollout-abandon': 't1' });
    s.apps.settle();
    await s.rollouts.tick();
    expect(s.record()?.phase).toBe('Abandoned');
    await s.rotator.rotate([resolved('c1', 'v2')]);
    await s.rollouts.tick();
    expect(s.apps.patches).toEqual(['w-0']);
  });
});
