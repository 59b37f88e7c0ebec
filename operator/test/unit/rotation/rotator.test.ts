import { createLogger } from '../../../src/core/log';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import type { Mapping, RotationRecord } from '../../../src/mappings/model';
import type { WorkloadKind, WorkloadRef, WorkloadState } from '../../../src/workloads/workload';
import { createMetrics } from '../../../src/core/metrics';
import { Limiter } from '../../../src/kube/limit';
import { Rotator, type RotatorOptions } from '../../../src/rotation/rotator';
import type { AllowList } from '../../../src/sqs/admission';
import { Intake } from '../../../src/sqs/intake';
import type { SecretDescriber } from '../../../src/secrets/describer';
import type { RestartOutcome } from '../../../src/workloads/adapters';
import { Discovery } from '../../../src/discovery/discovery';
import type { EsoRefresher } from '../../../src/discovery/esoRefresh';
import { readExternalSecret, readProviderClass, type DiscoveredSource } from '../../../src/discovery/model';
import type { DiscoveredSources } from '../../../src/discovery/sources';
import { podTemplateReferences } from '../../../src/workloads/references';
import { fixture } from '../../support/fixtures';
import { mapping, resolved, workload } from '../../support/builders';

const FIXTURE_KEY = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:eks-controller-test-secret';
const FIXTURE_ARN = `${FIXTURE_KEY}-AbC123`;
const NATIVE_VERSION = '5c2e9d71-8a3f-4b6e-a1d4-93f7c0e2b815';

class FakeCluster {
  readonly workloads = new Map<string, WorkloadState & { labels: Record<string, string> }>();
  readonly patches: { workload: WorkloadRef; versions: Record<string, string> }[] = [];
  failNext = new Set<string>();
  failList = false;
  /** Kinds whose unfiltered list (every workload of a namespace: discovery's consumers) fails. */
  failEveryList = new Set<WorkloadKind>();

  add(w: WorkloadState, labels: Record<string, string>) {
    this.workloads.set(`${w.kind}/${w.namespace}/${w.name}`, { ...w, labels });
  }

  readonly client = {
    list: async (kind: WorkloadKind, namespace: string, selector: string): Promise<WorkloadState[]> => {
      if (this.failList) throw new Error('connection refused');
      if (selector === '' && this.failEveryList.has(kind)) throw new Error(`listing ${kind}s failed: 503`);
      const [k, v] = selector.split('=');
      return [...this.workloads.values()].filter((w) => w.kind === kind && w.namespace === namespace && w.labels[k] === v);
    },
    restart: async (w: WorkloadState, versions: Readonly<Record<string, string>>): Promise<RestartOutcome> => {
      const id = `${w.kind}/${w.namespace}/${w.name}`;
      if (this.failNext.delete(id)) throw new Error('the server is on fire');
      this.patches.push({ workload: { kind: w.kind, namespace: w.namespace, name: w.name }, versions: { ...versions } });
      const cur = this.workloads.get(id)!;
      this.workloads.set(id, { ...cur, appliedVersions: { ...w.appliedVersions, ...versions } });
      return { patched: true, rollout: cur.rollout };
    },
  };
}

function setup(opts: Partial<RotatorOptions> & { mappings?: Mapping[]; current?: string | Error; allowedAccountIds?: AllowList['accountIds']; allowedRegions?: AllowList['regions'] } = {}) {
  const index = opts.index ?? new MappingIndex();
  if (!opts.index) for (const m of opts.mappings ?? [mapping('web', { secretId: 'eks-controller-test-secret' })]) index.upsert(m);
  const cluster = new FakeCluster();
  const statuses: { mapping: string; record: RotationRecord; ok: boolean; applied?: string }[] = [];
  /** The RotationSucceeded condition's reason per status write, in order. */
  const reasons: { mapping: string; reason: string }[] = [];
  const events: { mapping: string; kind: string; type: string; reason: string; message: string }[] = [];
  const described: string[] = [];
  const describer: SecretDescriber = {
    describe: async (id) => {
      described.push(id);
      if (opts.current instanceof Error) throw opts.current;
      return { arn: FIXTURE_ARN, name: 'eks-controller-test-secret', ...(opts.current ? { currentVersion: opts.current } : {}) };
    },
  };
  const metrics = createMetrics(false);
  const rotator = new Rotator({
    index,
    workloads: cluster.client,
    describer,
    status: { recordRotation: async (m, record, ok, reason, _msg, applied) => {
        statuses.push({ mapping: m.key, record, ok, ...(applied ? { applied } : {}) });
        reasons.push({ mapping: m.key, reason });
      },
    },
    events: { record: async (m, type, reason, message) => void events.push({ mapping: `${m.namespace}/${m.name}`, kind: m.kind, type, reason, message }) },
    metrics,
    log: createLogger('silent'),
    region: 'us-east-1',
    dryRun: false,
    now: () => new Date('2025-03-11T09:14:30Z'),
    ...opts,
  });
  // What the queue hands it: messages are interpreted and admitted by the intake.
  const intake = new Intake({ rotate: (c, s) => rotator.handle(c, s), allow: { accountIds: opts.allowedAccountIds ?? [], regions: opts.allowedRegions ?? [] }, metrics, log: createLogger('silent') });
  const metric = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;
  return { rotator, intake, cluster, statuses, reasons, events, described, metrics, metric, index };
}

const msg = (id: string, file: string) => ({ id, body: fixture(file) });

describe('Rotator.handleBatch: listing overlaps DescribeSecret', () => {
  it('lists the workloads of the mappings the event names while DescribeSecret is still answering, once', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const order: string[] = [];
    const t = setup({
      describer: {
        describe: async () => {
          order.push('describe sent');
          await answered;
          order.push('describe answered');
          return { arn: FIXTURE_ARN, name: 'eks-controller-test-secret', currentVersion: NATIVE_VERSION };
        },
      },
    });
    t.cluster.add(workload('web'), { app: 'web' });
    const list = t.cluster.client.list;
    t.cluster.client.list = async (...args) => (order.push(`list ${args[0]}`), list(...args));
    const done = t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    for (let i = 0; i < 100 && !order.includes('list Deployment'); i++) await new Promise((r) => setImmediate(r));
    expect(order).toContain('list Deployment');
    expect(order).not.toContain('describe answered');
    answer();
    expect((await done).get('m1')).toBe('delete');
    expect(order.filter((o) => o === 'list Deployment')).toHaveLength(1);
    expect(t.cluster.patches).toHaveLength(1);
  });
});

describe('Rotator: one lookup per change', () => {
  const lookups = (t: ReturnType<typeof setup>) => jest.spyOn(t.index, 'lookup');

  it("looks a settled change's secret up once per batch", async () => {
    const t = setup({ current: NATIVE_VERSION });
    const spy = lookups(t);
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toHaveLength(1);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("looks an unsettled change's secret up once too (to tell whether anything names it)", async () => {
    const t = setup({ current: new Error('AccessDenied') });
    const spy = lookups(t);
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'service-event-rotation-succeeded.json')])).get('m1')).toBe('retry');
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('keeps only the mappings the settled secret names: a mapping of an earlier secret of the same name is left alone', async () => {
    const old = `${FIXTURE_KEY}-ZzZ999`;
    const t = setup({ current: 'v-current', mappings: [mapping('web', { secretId: 'eks-controller-test-secret' }), mapping('old', { secretId: old })] });
    t.cluster.add(workload('web'), { app: 'web' });
    t.cluster.add(workload('old'), { app: 'old' });
    const byName = fixture('service-event-rotation-succeeded.json').replace(`"SecretId": "${FIXTURE_ARN}"`, '"SecretId": "eks-controller-test-secret"');
    expect(byName).not.toContain(`"SecretId": "${FIXTURE_ARN}"`);
    expect((await t.intake.handleBatch([{ id: 'm1', body: byName }])).get('m1')).toBe('delete');
    expect(t.cluster.patches.map((p) => p.workload.name)).toEqual(['web']);
    expect(t.statuses.map((s) => s.mapping)).toEqual(['ns/web']);
  });
});

describe('Rotator.handleBatch', () => {
  it('rolls the mapped workload, records status and an Event, deletes the message', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('web'), { app: 'web' });
    t.cluster.add(workload('unrelated'), { app: 'other' });
    const d = await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(d.get('m1')).toBe('delete');
    expect(t.cluster.patches).toEqual([{ workload: { kind: 'Deployment', namespace: 'ns', name: 'web' }, versions: { [FIXTURE_KEY]: NATIVE_VERSION } }]);
    expect(t.statuses).toEqual([
      {
        mapping: 'ns/web',
        ok: true,
        applied: NATIVE_VERSION,
        record: expect.objectContaining({ secretVersion: NATIVE_VERSION, eventId: expect.any(String), workloads: [{ kind: 'Deployment', name: 'web', result: 'Restarted' }] }),
      },
    ]);
    expect(t.events).toEqual([expect.objectContaining({ mapping: 'ns/web', type: 'Normal', reason: 'Rotated' })]);
    expect(await t.metric('secrets_rotation_operator_restarts_total')).toEqual([expect.objectContaining({ labels: { kind: 'Deployment', result: 'restarted' }, value: 1 })]);
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'rotated', source: 'mapping' }, value: 1 })]);
  });

  it('the same change delivered three ways restarts once', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('web'), { app: 'web' });
    const first = await t.intake.handleBatch([msg('a', 'native-label-updated-awscurrent.json'), msg('b', 'cloudtrail-put-secret-value-no-stages.json')]);
    const second = await t.intake.handleBatch([msg('c', 'sns-wrapped-native-label-updated.json')]);
    expect([...first.values(), ...second.values()]).toEqual(['delete', 'delete', 'delete']);
    expect(t.cluster.patches).toHaveLength(1);
  });

  it('RotationSucceeded rolls to the AWSCURRENT version DescribeSecret reports', async () => {
    const t = setup({ current: 'v-current' });
    t.cluster.add(workload('web'), { app: 'web' });
    await t.intake.handleBatch([msg('m', 'service-event-rotation-succeeded.json')]);
    expect(t.cluster.patches[0].versions).toEqual({ [FIXTURE_KEY]: 'v-current' });
  });

  it('without DescribeSecret it falls back to the event version', async () => {
    const t = setup({ current: new Error('AccessDenied') });
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m', 'native-label-updated-awscurrent.json')])).get('m')).toBe('delete');
    expect(t.cluster.patches[0].versions).toEqual({ [FIXTURE_KEY]: NATIVE_VERSION });
  });

  it('describes each secret once per batch', async () => {
    const t = setup({ current: NATIVE_VERSION });
    await t.intake.handleBatch([msg('a', 'native-label-updated-awscurrent.json'), msg('b', 'native-label-updated-awscurrent.json')]);
    expect(t.described).toHaveLength(1);
  });

  it('non-changes are acknowledged and counted, never restart', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('web'), { app: 'web' });
    const d = await t.intake.handleBatch([msg('p', 'cloudtrail-put-secret-value-awspending.json'), msg('f', 'service-event-rotation-failed.json')]);
    expect([...d.values()]).toEqual(['delete', 'delete']);
    expect(t.cluster.patches).toEqual([]);
    expect(await t.metric('secrets_rotation_operator_messages_ignored_total')).toEqual([expect.objectContaining({ labels: { reason: 'NotAwsCurrent' }, value: 1 }), expect.objectContaining({ labels: { reason: 'NotAChange' }, value: 1 })]);
  });

  it('malformed messages go to the dead-letter queue and do not disturb good ones', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('web'), { app: 'web' });
    const d = await t.intake.handleBatch([msg('bad1', 'not-json.txt'), msg('good', 'native-label-updated-awscurrent.json'), msg('bad2', 'foreign-source-ec2.json')]);
    expect(Object.fromEntries(d)).toEqual({ bad1: 'dead-letter', good: 'delete', bad2: 'dead-letter' });
    expect(t.cluster.patches).toHaveLength(1);
    expect(await t.metric('secrets_rotation_operator_messages_malformed_total')).toHaveLength(2);
  });

  it('a failed patch leaves only the messages that asked for it', async () => {
    const t = setup({ current: NATIVE_VERSION, mappings: [mapping('web', { secretId: 'eks-controller-test-secret' }), mapping('db', { secretId: 'other-secret' })] });
    t.cluster.add(workload('web'), { app: 'web' });
    t.cluster.failNext.add('Deployment/ns/web');
    const d = await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json'), msg('ignored', 'service-event-rotation-failed.json')]);
    expect(Object.fromEntries(d)).toEqual({ m1: 'retry', ignored: 'delete' });
    expect(t.statuses[0]).toMatchObject({ ok: false, record: { workloads: [expect.objectContaining({ result: 'Failed' })] } });
    expect(t.statuses[0].applied).toBeUndefined();
    expect(t.events[0]).toMatchObject({ type: 'Warning', reason: 'RotationFailed' });
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'failed', source: 'mapping' }, value: 1 })]);
    // Redelivery after the failure restarts it.
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toHaveLength(1);
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([
      expect.objectContaining({ labels: { result: 'failed', source: 'mapping' }, value: 1 }),
      expect.objectContaining({ labels: { result: 'rotated', source: 'mapping' }, value: 1 }),
    ]);
  });

  it('a listing failure leaves the message for redelivery', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.failList = true;
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('retry');
  });

  it('a mapping whose workloads could not be listed records no version, is not reported as succeeded, and its status says ListFailed', async () => {
    const rotated: string[] = [];
    const t = setup({ current: NATIVE_VERSION, notifier: { rotated: (r) => void rotated.push(r.summary.eventReason) } });
    t.cluster.failList = true;
    await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(t.statuses).toEqual([expect.objectContaining({ mapping: 'ns/web', ok: false })]);
    expect(t.statuses[0].applied).toBeUndefined();
    expect(t.reasons).toEqual([{ mapping: 'ns/web', reason: 'ListFailed' }]);
    expect(t.events).toEqual([expect.objectContaining({ mapping: 'ns/web', type: 'Warning', reason: 'RotationIncomplete', message: expect.stringContaining('connection refused') })]);
    expect(rotated).toEqual(['RotationIncomplete']);
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'incomplete', source: 'mapping' }, value: 1 })]);
  });

  it('a change no mapping names is acknowledged', async () => {
    const t = setup({ current: NATIVE_VERSION, mappings: [mapping('web', { secretId: 'something-else' })] });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(await t.metric('secrets_rotation_operator_messages_ignored_total')).toEqual([expect.objectContaining({ labels: { reason: 'NoMapping' }, value: 1 })]);
  });

  it('dry run patches nothing and records what it would have done', async () => {
    const t = setup({ current: NATIVE_VERSION, dryRun: true });
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toEqual([]);
    expect(t.statuses[0]).toMatchObject({ ok: true, record: { dryRun: true, workloads: [{ kind: 'Deployment', name: 'web', result: 'WouldRestart', reason: 'DryRun' }] } });
    expect(t.statuses[0].applied).toBeUndefined();
    expect(t.events[0].reason).toBe('RotationDryRun');
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'dry_run', source: 'mapping' }, value: 1 })]);
  });

  it.each([
    [{ allowedAccountIds: ['210987654321'] }, false],
    [{ allowedAccountIds: ['123456789012'] }, true],
    [{ allowedRegions: ['eu-west-1'] }, false],
    [{ allowedRegions: ['us-east-1'] }, true],
  ])('allow-list %j → restart %s', async (allow, restarts) => {
    const t = setup({ current: NATIVE_VERSION, ...allow });
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toHaveLength(restarts ? 1 : 0);
  });

  it('tenancy: only workloads in the mapping namespace roll', async () => {
    const t = setup({ current: NATIVE_VERSION, mappings: [mapping('web', { secretId: 'eks-controller-test-secret', namespace: 'team-a' })] });
    t.cluster.add(workload('web', { namespace: 'team-a' }), { app: 'web' });
    t.cluster.add(workload('web', { namespace: 'team-b' }), { app: 'web' });
    await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(t.cluster.patches.map((p) => p.workload.namespace)).toEqual(['team-a']);
  });

  it('every request goes through its ports, so one limiter on them bounds lists, patches, status writes and Events together', async () => {
    const limiter = new Limiter(3);
    const mappings = Array.from({ length: 6 }, (_, i) => mapping(`m${i}`, { namespace: `ns${i}`, secretId: 'eks-controller-test-secret' }));
    let inFlight = 0;
    let peak = 0;
    const limited =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      (...a: A): Promise<R> =>
        limiter.run(async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          try {
            await new Promise((r) => setImmediate(r));
            return await fn(...a);
          } finally {
            inFlight--;
          }
        });
    const statuses: string[] = [];
    const events: string[] = [];
    const t = setup({
      current: NATIVE_VERSION,
      mappings,
      status: { recordRotation: limited(async (m) => void statuses.push(m.key)) },
      events: { record: limited(async (m) => void events.push(`${m.namespace}/${m.name}`)) },
    });
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) t.cluster.add(workload(`w${j}`, { namespace: `ns${i}` }), { app: `m${i}` });
    t.cluster.client.list = limited(t.cluster.client.list);
    t.cluster.client.restart = limited(t.cluster.client.restart);
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toHaveLength(24);
    expect([statuses.length, events.length]).toEqual([6, 6]);
    expect(peak).toBe(3);
  });

  it('never puts a message body in a log line', async () => {
    const lines: string[] = [];
    const log = createLogger('debug');
    log.transports.forEach((tr) => (tr.silent = true));
    log.on('data', (l) => lines.push(JSON.stringify(l)));
    const t = setup({ current: NATIVE_VERSION, log });
    await t.intake.handleBatch([{ id: 'x', body: '{"SecretString":"hunter2-super-secret"' }, msg('y', 'native-label-updated-awscurrent.json')]);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('a paused Deployment is stamped and reported Deferred: it rolls when resumed', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('web', { rollout: 'Paused' }), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toHaveLength(1);
    expect(t.statuses[0]).toMatchObject({ ok: true, applied: NATIVE_VERSION, record: { summary: { Deferred: 1 }, workloads: [{ kind: 'Deployment', name: 'web', result: 'Deferred', reason: 'Paused' }] } });
    expect(t.events[0]).toMatchObject({ type: 'Normal', reason: 'RotationDeferred' });
    expect(await t.metric('secrets_rotation_operator_restarts_total')).toEqual([expect.objectContaining({ labels: { kind: 'Deployment', result: 'deferred' }, value: 1 })]);
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'deferred', source: 'mapping' }, value: 1 })]);
  });

  it('an OnDelete StatefulSet is stamped and reported Pending, never Restarted', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('db', { kind: 'StatefulSet', rollout: 'OnDelete' }), { app: 'web' });
    await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(t.cluster.patches).toHaveLength(1);
    expect(t.statuses[0].record.workloads).toEqual([{ kind: 'StatefulSet', name: 'db', result: 'Pending', reason: 'OnDelete' }]);
    expect(await t.metric('secrets_rotation_operator_restarts_total')).toEqual([expect.objectContaining({ labels: { kind: 'StatefulSet', result: 'pending' }, value: 1 })]);
  });

  it('a mapping that selects no workload still records the version, so drift does not find it behind for ever', async () => {
    const t = setup({ current: NATIVE_VERSION, mappings: [mapping('web', { secretId: 'eks-controller-test-secret', appliedVersion: 'v-old' })] });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.statuses).toEqual([expect.objectContaining({ mapping: 'ns/web', ok: true, applied: NATIVE_VERSION, record: expect.objectContaining({ workloadCount: 0, workloads: [] }) })]);
  });

  it('a redelivered change a mapping already recorded writes nothing, lists nothing and is done', async () => {
    const t = setup({ current: NATIVE_VERSION, mappings: [mapping('web', { secretId: 'eks-controller-test-secret', appliedVersion: NATIVE_VERSION })] });
    t.cluster.add(workload('web'), { app: 'web' });
    const lists: string[] = [];
    const list = t.cluster.client.list;
    t.cluster.client.list = async (...args) => (lists.push(args[0]), list(...args));
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json'), msg('m2', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.statuses).toEqual([]);
    expect(t.events).toEqual([]);
    expect(t.cluster.patches).toEqual([]);
    // Only the early listing of a small batch (made before the version was settled) lists.
    expect(lists).toEqual(['Deployment', 'StatefulSet', 'DaemonSet']);
  });

  it('a change every mapping already recorded lists no workloads (a burst\'s later messages)', async () => {
    const t = setup({ mappings: [mapping('web', { appliedVersion: 'v9' }), mapping('api', { appliedVersion: 'v8' })] });
    t.cluster.add(workload('web'), { app: 'web' });
    t.cluster.add(workload('api'), { app: 'api' });
    const lists: string[] = [];
    const list = t.cluster.client.list;
    t.cluster.client.list = async (...args) => (lists.push(`${args[0]} ${args[2]}`), list(...args));
    const done = await t.rotator.rotate([resolved('c1', 'v9')]);
    expect(done.get('c1')).toBe(true);
    // Only the mapping behind the version is listed (and rolled).
    expect(lists).toEqual(['Deployment app=api', 'StatefulSet app=api', 'DaemonSet app=api']);
    expect(t.cluster.patches.map((p) => p.workload.name)).toEqual(['api']);
  });

  it('a drift change moves only what it replaces: a mapping an event moved to a newer version meanwhile is not listed, rolled or recorded back', async () => {
    const t = setup({ mappings: [mapping('web', { appliedVersion: 'v3' }), mapping('api', { appliedVersion: 'v1' })] });
    t.cluster.add(workload('web', { applied: { [resolved('x', 'v').secretKey]: 'v3' } }), { app: 'web' });
    t.cluster.add(workload('api', { applied: { [resolved('x', 'v').secretKey]: 'v1' } }), { app: 'api' });
    const done = await t.rotator.rotate([{ ...resolved('drift', 'v2'), replaces: ['v1'] }]);
    expect(done.get('drift')).toBe(true);
    expect(t.cluster.patches.map((p) => [p.workload.name, p.versions])).toEqual([['api', { [resolved('x', 'v').secretKey]: 'v2' }]]);
    expect(t.statuses.map((st) => [st.mapping, st.applied])).toEqual([['ns/api', 'v2']]);
  });

  it('RotationSucceeded while DescribeSecret fails is left for redelivery, never recorded under a made-up version', async () => {
    const t = setup({ current: new Error('ThrottlingException') });
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m', 'service-event-rotation-succeeded.json')])).get('m')).toBe('retry');
    expect(t.cluster.patches).toEqual([]);
    expect(t.statuses).toEqual([]);
  });

  it('RotationSucceeded for a secret nothing names needs no version: acknowledged even when DescribeSecret fails', async () => {
    const t = setup({ current: new Error('ResourceNotFoundException'), mappings: [mapping('web', { secretId: 'some-other-secret' })] });
    expect((await t.intake.handleBatch([msg('m', 'service-event-rotation-succeeded.json')])).get('m')).toBe('delete');
    expect(await t.metric('secrets_rotation_operator_messages_ignored_total')).toEqual([expect.objectContaining({ labels: { reason: 'NoMapping' }, value: 1 })]);
  });

  it('a mapping with 1,000 workloads gets a bounded record: counts for all, at most 100 listed, failures first', async () => {
    const t = setup({ current: NATIVE_VERSION });
    for (let i = 0; i < 1000; i++) t.cluster.add(workload(`w${String(i).padStart(4, '0')}`), { app: 'web' });
    t.cluster.failNext.add('Deployment/ns/w0999');
    await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    const r = t.statuses[0].record;
    expect(r.workloadCount).toBe(1000);
    expect(r.summary).toEqual({ Restarted: 999, Failed: 1 });
    expect(r.workloads).toHaveLength(100);
    expect(r.workloads[0]).toMatchObject({ name: 'w0999', result: 'Failed' });
    expect(JSON.stringify(r).length).toBeLessThan(16 * 1024);
    expect(t.events[0].message.length).toBeLessThanOrEqual(2048);
  });

  it('a bare secret name means a secret of the queue account: another account\'s event for the same name restarts nothing', async () => {
    const index = new MappingIndex({ accounts: ['999999999999'], regions: ['us-east-1'] });
    const t = setup({ current: NATIVE_VERSION, index, describer: undefined });
    index.upsert(mapping('web', { secretId: 'eks-controller-test-secret' }));
    t.cluster.add(workload('web'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toEqual([]);
  });

  it('a secret of another account is named by its ARN, and then its events do restart', async () => {
    const index = new MappingIndex({ accounts: ['999999999999'], regions: ['us-east-1'] });
    const t = setup({ current: NATIVE_VERSION, index, describer: undefined });
    index.upsert(mapping('web', { secretId: FIXTURE_KEY }));
    t.cluster.add(workload('web'), { app: 'web' });
    await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(t.cluster.patches).toHaveLength(1);
  });

  it('a batch whose term ends stops before it patches', async () => {
    const t = setup({ current: NATIVE_VERSION });
    t.cluster.add(workload('web'), { app: 'web' });
    const c = new AbortController();
    c.abort(new Error('stopped leading'));
    await expect(t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')], c.signal)).rejects.toThrow('stopped leading');
    expect(t.cluster.patches).toEqual([]);
  });
});

describe('Rotator: the notifier port', () => {
  it("tells the notifier of each mapping's rotation once, after its status and Event, succeeded and failed alike", async () => {
    const told: { mapping: string; reason: string; wroteBefore: boolean }[] = [];
    const t: ReturnType<typeof setup> = setup({
      mappings: [mapping('web', { secretId: 'eks-controller-test-secret' }), mapping('db', { secretId: 'eks-controller-test-secret', labels: { app: 'db' } })],
      notifier: {
        rotated: (r) => {
          const wrote = t.statuses.some((s) => s.mapping === r.mapping.key) && t.events.some((e) => e.mapping === r.mapping.key);
          told.push({ mapping: r.mapping.key, reason: r.summary.eventReason, wroteBefore: wrote });
        },
      },
    });
    t.cluster.add(workload('web'), { app: 'web' });
    t.cluster.add(workload('db'), { app: 'db' });
    t.cluster.failNext.add('Deployment/ns/db');
    await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(told.sort((a, b) => a.mapping.localeCompare(b.mapping))).toEqual([
      { mapping: 'ns/db', reason: 'RotationFailed', wroteBefore: true },
      { mapping: 'ns/web', reason: 'Rotated', wroteBefore: true },
    ]);
  });
});

describe('Rotator: sources discovery found', () => {
  const externalSecret = readExternalSecret(
    { metadata: { name: 'app', namespace: 'ns', uid: 'es-uid', generation: 1 }, spec: { secretStoreRef: { name: 'aws' }, target: { name: 'app-env' }, data: [{ remoteRef: { key: 'eks-controller-test-secret' } }] } },
    'external-secrets.io/v1',
    () => ({ awsSecretsManager: true, region: 'us-east-1' }),
  );
  const providerClass = readProviderClass({
    metadata: { name: 'db-spc', namespace: 'ns', uid: 'spc-uid', generation: 1 },
    spec: { provider: 'aws', parameters: { objects: `- objectName: "${FIXTURE_KEY}"\n  objectType: secretsmanager\n` } },
  })!;
  const usingSecret = (name: string, secret: string) => ({
    ...workload(name),
    references: podTemplateReferences({ spec: { containers: [{ name: 'c', envFrom: [{ secretRef: { name: secret } }] }] } }),
  });
  const mountingClass = (name: string, spc: string) => ({
    ...workload(name),
    references: podTemplateReferences({ spec: { containers: [], volumes: [{ name: 'v', csi: { driver: 'secrets-store.csi.k8s.io', volumeAttributes: { secretProviderClass: spc } } }] } }),
  });

  function withDiscovery(found: DiscoveredSource[], opts: { mappings?: Mapping[]; refresh?: (m: Mapping) => Promise<void>; snapshot?: () => Promise<DiscoveredSource[]>; notifier?: RotatorOptions['notifier'] } = {}) {
    const prepared: string[] = [];
    const sources = { snapshot: opts.snapshot ?? (async () => found) } as unknown as DiscoveredSources;
    const refresher = {
      refresh: async (m: Mapping) => {
        prepared.push(m.key);
        await opts.refresh?.(m);
      },
    } as unknown as EsoRefresher;
    const t = setup({ current: NATIVE_VERSION, mappings: opts.mappings ?? [], ...(opts.notifier ? { notifier: opts.notifier } : {}), discovery: new Discovery({ sources, refresher, scope: { accounts: [], regions: [] }, kinds: ['Deployment', 'StatefulSet', 'DaemonSet'] }) });
    return { ...t, prepared };
  }

  it("rolls an ExternalSecret's consumers once ESO has synced: Events on it and on each workload, no status", async () => {
    const order: string[] = [];
    const t = withDiscovery([externalSecret], {
      // ESO takes a moment: the restart must wait for it, not merely be sent after asking.
      refresh: async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push('synced');
      },
    });
    t.cluster.add(usingSecret('web', 'app-env'), { app: 'web' });
    t.cluster.add(usingSecret('other', 'other-env'), { app: 'other' });
    const restart = t.cluster.client.restart;
    t.cluster.client.restart = async (...args) => (order.push(`restart ${args[0].name}`), restart(...args));
    const d = await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')]);
    expect(d.get('m1')).toBe('delete');
    expect(order).toEqual(['synced', 'restart web']);
    expect(t.cluster.patches).toEqual([{ workload: { kind: 'Deployment', namespace: 'ns', name: 'web' }, versions: { [FIXTURE_KEY]: NATIVE_VERSION } }]);
    expect(t.statuses).toEqual([]);
    expect(t.events).toEqual([
      expect.objectContaining({ mapping: 'ns/app', kind: 'ExternalSecret', type: 'Normal', reason: 'Rotated' }),
      expect.objectContaining({ mapping: 'ns/web', kind: 'Deployment', type: 'Normal', reason: 'Restarted', message: expect.stringContaining('ExternalSecret app') }),
    ]);
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'rotated', source: 'externalsecret' }, value: 1 })]);
  });

  it('rolls a workload reached by a mapping and an ExternalSecret once; the mapping records it', async () => {
    const t = withDiscovery([externalSecret], { mappings: [mapping('web', { secretId: 'eks-controller-test-secret' })] });
    t.cluster.add(usingSecret('web', 'app-env'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches).toHaveLength(1);
    expect(t.statuses).toEqual([expect.objectContaining({ mapping: 'ns/web', ok: true, applied: NATIVE_VERSION })]);
    expect(t.prepared).toEqual(['externalsecret:ns/app']);
  });

  it('rolls no consumer of an ExternalSecret ESO did not sync, not even through a mapping, and retries the change', async () => {
    let synced = false;
    const t = withDiscovery([externalSecret], {
      mappings: [mapping('web', { secretId: 'eks-controller-test-secret' }), mapping('db', { secretId: 'eks-controller-test-secret', labels: { app: 'db' } })],
      refresh: async () => {
        if (!synced) throw new Error('ESO did not sync it within 30 s');
      },
    });
    t.cluster.add(usingSecret('web', 'app-env'), { app: 'web' });
    t.cluster.add(usingSecret('db', 'db-env'), { app: 'db' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('retry');
    // db does not read the ExternalSecret's Secret: it rolls; web waits for ESO.
    expect(t.cluster.patches.map((p) => p.workload.name)).toEqual(['db']);
    synced = true;
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches.map((p) => p.workload.name)).toEqual(['db', 'web']);
  });

  it('a mapping whose workload was held back for ESO records no version, is not reported as succeeded, and its status says WaitingForExternalSecret', async () => {
    const rotated: string[] = [];
    const t = withDiscovery([externalSecret], {
      mappings: [mapping('web', { secretId: 'eks-controller-test-secret' })],
      refresh: async () => {
        throw new Error('ESO did not sync it within 30 s');
      },
      notifier: { rotated: (r) => void rotated.push(r.summary.eventReason) },
    });
    t.cluster.add(usingSecret('web', 'app-env'), { app: 'web' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('retry');
    expect(t.cluster.patches).toEqual([]);
    expect(t.statuses).toEqual([expect.objectContaining({ mapping: 'ns/web', ok: false })]);
    expect(t.statuses[0].applied).toBeUndefined();
    expect(t.reasons).toEqual([{ mapping: 'ns/web', reason: 'WaitingForExternalSecret' }]);
    expect(t.events.filter((e) => e.mapping === 'ns/web')).toEqual([expect.objectContaining({ type: 'Warning', reason: 'RotationIncomplete', message: expect.stringContaining('Deployment/web') })]);
    expect(rotated).toEqual(['RotationIncomplete']);
  });

  it('holds every workload of the namespace when an ExternalSecret was not synced and its consumers could not be listed', async () => {
    const t = withDiscovery([externalSecret], {
      mappings: [mapping('web', { secretId: 'eks-controller-test-secret' })],
      refresh: async () => {
        throw new Error('ESO did not sync it within 30 s');
      },
    });
    t.cluster.add(usingSecret('web', 'app-env'), { app: 'web' });
    // The Deployments' list for the mapping's selector answers; the StatefulSets' full list does not.
    t.cluster.failEveryList.add('StatefulSet');
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('retry');
    expect(t.cluster.patches).toEqual([]);
    expect(t.reasons).toEqual([{ mapping: 'ns/web', reason: 'WaitingForExternalSecret' }]);
  });

  it("lists a namespace's workloads once per batch however many of its sources name the secret", async () => {
    const second = readExternalSecret(
      { metadata: { name: 'worker', namespace: 'ns', uid: 'es-2', generation: 1 }, spec: { secretStoreRef: { name: 'aws' }, target: { name: 'worker-env' }, data: [{ remoteRef: { key: 'eks-controller-test-secret' } }] } },
      'external-secrets.io/v1',
      () => ({ awsSecretsManager: true, region: 'us-east-1' }),
    );
    const t = withDiscovery([externalSecret, second, providerClass]);
    t.cluster.add(usingSecret('web', 'app-env'), { app: 'web' });
    t.cluster.add(usingSecret('worker', 'worker-env'), { app: 'worker' });
    t.cluster.add(mountingClass('api', 'db-spc'), { app: 'api' });
    const lists: string[] = [];
    const list = t.cluster.client.list;
    t.cluster.client.list = async (...args) => (lists.push(`${args[0]} ${args[1]}`), list(...args));
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches.map((p) => p.workload.name).sort()).toEqual(['api', 'web', 'worker']);
    expect(lists.sort()).toEqual(['DaemonSet ns', 'Deployment ns', 'StatefulSet ns']);
  });

  it("rolls the workloads mounting a SecretProviderClass that names the secret, and no other; CSI needs no sync", async () => {
    const t = withDiscovery([providerClass]);
    t.cluster.add(mountingClass('api', 'db-spc'), { app: 'api' });
    t.cluster.add(mountingClass('elsewhere', 'other-spc'), { app: 'x' });
    t.cluster.add(usingSecret('env-user', 'db-spc'), { app: 'y' });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('delete');
    expect(t.cluster.patches.map((p) => p.workload.name)).toEqual(['api']);
    expect(t.prepared).toEqual([]);
    expect(t.events.map((e) => [e.kind, e.reason])).toEqual([
      ['SecretProviderClass', 'Rotated'],
      ['Deployment', 'Restarted'],
    ]);
    expect(await t.metric('secrets_rotation_operator_rotations_total')).toEqual([expect.objectContaining({ labels: { result: 'rotated', source: 'csi' } })]);
  });

  it('retries a change whose discovered sources could not be listed instead of taking it as naming nothing', async () => {
    const t = withDiscovery([], {
      snapshot: async () => {
        throw new Error('listing ExternalSecrets failed: 503');
      },
    });
    expect((await t.intake.handleBatch([msg('m1', 'native-label-updated-awscurrent.json')])).get('m1')).toBe('retry');
    expect(await t.metric('secrets_rotation_operator_messages_ignored_total')).toEqual([]);
  });
});
