import fc from 'fast-check';
import {
  ABANDON_ANNOTATION,
  PHASES,
  OVERRIDE_ANNOTATION,
  RESUME_ANNOTATION,
  admitChange,
  decide,
  rolloutOrder,
  waves,
  type Change,
  type Observation,
  type RolloutPolicy,
  type RolloutRecord,
} from '../../../src/rollout/engine';
import { compileWindows } from '../../../src/rollout/windows';

const T0 = new Date('2026-12-07T10:00:00Z');
const after = (s: number) => new Date(T0.getTime() + s * 1000);
const policy = (p: Partial<RolloutPolicy> = {}): RolloutPolicy => ({ maxConcurrent: 2, settleSeconds: 0, windows: [], suspend: false, ...p });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `Deployment/app-${String(i).padStart(2, '0')}`);
const change = (workloads: string[], version = 'v2', extra: Partial<Change> = {}): Change => ({ versions: { 'app/db': version }, workloads, ...extra });

/**
 * A fake cluster: which workloads carry the version, and how each one's rollout goes. Like
 * Kubernetes, it reports a workload still progressing at its deadline as failed
 * (ProgressDeadlineExceeded).
 */
class World {
  readonly carries = new Set<string>();
  readonly stampedAt = new Map<string, number>();
  readonly health = new Map<string, Observation['health']>();
  readonly paused = new Set<string>();
  constructor(
    readonly workloads: string[],
    readonly deadlineSeconds = 600,
  ) {}
  private healthOf(w: string, now: Date): Observation['health'] {
    const h = this.health.get(w) ?? 'progressing';
    return h === 'progressing' && now.getTime() - this.stampedAt.get(w)! >= this.deadlineSeconds * 1000 ? { failed: 'ProgressDeadlineExceeded' } : h;
  }
  observe(now: Date): Map<string, Observation> {
    return new Map(
      this.workloads.map((w) => {
        const stamped = this.stampedAt.get(w);
        const carries = this.carries.has(w);
        return [w, { hasVersion: carries, health: carries ? this.healthOf(w, now) : 'healthy', deferred: this.paused.has(w), ...(carries && stamped !== undefined ? { stampedAt: stamped / 1000 } : {}) }];
      }),
    );
  }
  apply(stamp: readonly string[], now: Date): void {
    for (const w of stamp) {
      if (this.carries.has(w)) throw new Error(`${w} stamped twice for one version`);
      this.carries.add(w);
      this.stampedAt.set(w, now.getTime());
    }
  }
  rolling(now: Date): string[] {
    return [...this.carries].filter((w) => !this.paused.has(w) && this.healthOf(w, now) === 'progressing');
  }
}

function step(world: World, record: RolloutRecord, p: RolloutPolicy, now: Date, requests = {}) {
  const d = decide(record, p, { workloads: world.observe(now) }, now, requests);
  world.apply(d.stamp, now);
  return d;
}

describe('rollout order and waves', () => {
  it('canaries first (those the selector names first), then the rest, in waves of maxConcurrent', () => {
    const { order, canaries } = rolloutOrder(change(ids(7), 'v2', { preferredCanaries: ['Deployment/app-05'] }), { canary: { count: 2 } });
    expect({ order, canaries }).toEqual({ order: ['Deployment/app-05', 'Deployment/app-00', 'Deployment/app-01', 'Deployment/app-02', 'Deployment/app-03', 'Deployment/app-04', 'Deployment/app-06'], canaries: 2 });
    expect(waves(order, canaries, 2)).toEqual([['Deployment/app-05', 'Deployment/app-00'], ['Deployment/app-01', 'Deployment/app-02'], ['Deployment/app-03', 'Deployment/app-04'], ['Deployment/app-06']]);
  });

  it('a canary percentage rounds up, at least one, at most all', () => {
    expect(rolloutOrder(change(ids(40)), { canary: { percent: 5 } }).canaries).toBe(2);
    expect(rolloutOrder(change(ids(3)), { canary: { percent: 1 } }).canaries).toBe(1);
    expect(rolloutOrder(change(ids(3)), { canary: { count: 9 } }).canaries).toBe(3);
    expect(rolloutOrder(change(ids(3)), {}).canaries).toBe(0);
  });
});

describe('decide', () => {
  it('stamps the canaries first; the rest only once every canary is healthy, never more than maxConcurrent rolling', () => {
    const world = new World(ids(5));
    const p = policy({ maxConcurrent: 2, canary: { count: 1 } });
    let d = step(world, admitChange(undefined, change(world.workloads), p, T0), p, T0);
    expect({ stamp: d.stamp, summary: d.summary }).toEqual({ stamp: ['Deployment/app-00'], summary: 'Canary 0/5' });
    d = step(world, d.record, p, after(10));
    expect(d.stamp).toEqual([]);
    world.health.set('Deployment/app-00', 'healthy');
    d = step(world, d.record, p, after(20));
    expect({ stamp: d.stamp, summary: d.summary }).toEqual({ stamp: ['Deployment/app-01', 'Deployment/app-02'], summary: 'Rolling 1/5' });
    world.health.set('Deployment/app-01', 'healthy');
    d = step(world, d.record, p, after(30));
    expect(d.stamp).toEqual(['Deployment/app-03']);
    for (const w of world.workloads) world.health.set(w, 'healthy');
    d = step(world, d.record, p, after(40));
    expect(d.stamp).toEqual(['Deployment/app-04']);
    d = step(world, d.record, p, after(50));
    expect({ phase: d.record.phase, summary: d.summary, events: d.events.map((e) => e.reason) }).toEqual({ phase: 'Complete', summary: 'Complete 5/5', events: ['RolloutComplete'] });
  });

  it('halts when a canary fails: a Warning naming the workload and what was seen, and nothing more is stamped', () => {
    const world = new World(ids(4));
    const p = policy({ canary: { count: 1 } });
    let d = step(world, admitChange(undefined, change(world.workloads), p, T0), p, T0);
    world.health.set('Deployment/app-00', { failed: 'Progressing=False (ProgressDeadlineExceeded)' });
    d = step(world, d.record, p, after(60));
    expect({ phase: d.record.phase, reason: d.record.reason, halted: d.halted, stamp: d.stamp, summary: d.summary }).toEqual({ phase: 'Halted', reason: 'CanaryUnhealthy', halted: true, stamp: [], summary: 'Halted' });
    expect(d.events).toEqual([{ type: 'Warning', reason: 'CanaryUnhealthy', message: expect.stringMatching(/^canary Deployment\/app-00 is not healthy on versions app\/db@v2: Progressing=False \(ProgressDeadlineExceeded\); nothing more is restarted/) }]);
    for (let s = 120; s < 2000; s += 300) expect(step(world, d.record, p, after(s)).stamp).toEqual([]);
  });

  it('halts when a canary is not healthy by its deadline (healthTimeoutSeconds, else its progressDeadlineSeconds)', () => {
    const world = new World(ids(3));
    const p = policy({ canary: { count: 1 }, healthTimeoutSeconds: 120 });
    let d = step(world, admitChange(undefined, change(world.workloads), p, T0), p, T0);
    d = step(world, d.record, p, after(119));
    expect(d.record.phase).toBe('Canary');
    d = step(world, d.record, p, after(120));
    expect({ phase: d.record.phase, message: d.record.message }).toEqual({ phase: 'Halted', message: expect.stringContaining('canary Deployment/app-00 is not healthy on versions app/db@v2: not healthy 120s after its restart (still progressing)') });
  });

  it('a newer version supersedes a halted rollout and starts again with the same canaries, the failed one first', () => {
    const world = new World(ids(4));
    const p = policy({ canary: { count: 1 } });
    let d = step(world, admitChange(undefined, change(world.workloads, 'v2', { preferredCanaries: ['Deployment/app-03'] }), p, T0), p, T0);
    world.health.set('Deployment/app-03', { failed: 'CrashLoopBackOff' });
    d = step(world, d.record, p, after(30));
    expect(d.record.phase).toBe('Halted');
    const v3 = admitChange(d.record, change(world.workloads, 'v3'), p, after(40));
    world.carries.clear();
    world.health.clear();
    d = step(world, v3, p, after(40));
    expect({ phase: d.record.phase, stamp: d.stamp, versions: d.record.versions }).toEqual({ phase: 'Canary', stamp: ['Deployment/app-03'], versions: { 'app/db': 'v3' } });
  });

  it('resume (an annotation) lets the rest roll past a halt, once per token; abandon ends the rollout', () => {
    const world = new World(ids(3));
    const p = policy({ canary: { count: 1 } });
    let d = step(world, admitChange(undefined, change(world.workloads), p, T0), p, T0);
    world.health.set('Deployment/app-00', { failed: 'CrashLoopBackOff' });
    d = step(world, d.record, p, after(30));
    d = step(world, d.record, p, after(40), { resume: '1' });
    expect({ phase: d.record.phase, stamp: d.stamp, events: d.events.map((e) => e.reason) }).toEqual({ phase: 'Rolling', stamp: ['Deployment/app-01', 'Deployment/app-02'], events: ['RolloutResumed'] });
    const abandoned = step(world, d.record, p, after(50), { resume: '1', abandon: 'now' });
    expect({ phase: abandoned.record.phase, stamp: abandoned.stamp, handled: abandoned.record.handled }).toEqual({ phase: 'Abandoned', stamp: [], handled: { resume: '1', abandon: 'now' } });
    expect([RESUME_ANNOTATION, ABANDON_ANNOTATION, OVERRIDE_ANNOTATION]).toEqual(['awssecretsoperator.secretoperator/rollout-resume', 'awssecretsoperator.secretoperator/rollout-abandon', 'awssecretsoperator.secretoperator/rollout-override']);
  });

  it('changes within settleSeconds of the first join the same rollout: each workload is stamped once with every version', () => {
    const world = new World(ids(2));
    const p = policy({ settleSeconds: 10 });
    let r = admitChange(undefined, change(['Deployment/app-00']), p, T0);
    let d = step(world, r, p, after(2));
    expect({ phase: d.record.phase, stamp: d.stamp }).toEqual({ phase: 'Settling', stamp: [] });
    r = admitChange(d.record, { versions: { 'app/user': 'u7' }, workloads: ['Deployment/app-00', 'Deployment/app-01'] }, p, after(5));
    d = step(world, r, p, after(9));
    expect(d.stamp).toEqual([]);
    d = step(world, d.record, p, after(10));
    expect({ stamp: d.stamp, versions: d.record.versions }).toEqual({ stamp: ['Deployment/app-00', 'Deployment/app-01'], versions: { 'app/db': 'v2', 'app/user': 'u7' } });
  });

  it("a change after the settle time starts a new rollout that still carries the unfinished one's other secrets and workloads", () => {
    const p = policy({ settleSeconds: 10 });
    const first = admitChange(undefined, change(['Deployment/app-00']), p, T0);
    const second = admitChange(first, { versions: { 'app/user': 'u7' }, workloads: ['Deployment/app-01'] }, p, after(30));
    expect({ versions: second.versions, workloads: second.workloads, since: second.since }).toEqual({
      versions: { 'app/db': 'v2', 'app/user': 'u7' },
      workloads: ['Deployment/app-00', 'Deployment/app-01'],
      since: T0.getTime() / 1000 + 30,
    });
    const done = { ...second, phase: 'Complete' as const };
    expect(admitChange(done, change(['Deployment/app-01'], 'v3'), p, after(60)).versions).toEqual({ 'app/db': 'v3' });
  });

  it('suspend records and stamps nothing (Deferred, Suspended); un-suspending rolls what was recorded', () => {
    const world = new World(ids(2));
    const suspended = policy({ suspend: true });
    let d = step(world, admitChange(undefined, change(world.workloads), suspended, T0), suspended, T0);
    expect({ phase: d.record.phase, reason: d.record.reason, stamp: d.stamp, summary: d.summary }).toEqual({ phase: 'Deferred', reason: 'Suspended', stamp: [], summary: 'Deferred' });
    d = step(world, d.record, policy(), after(60));
    expect(d.stamp).toEqual(['Deployment/app-00', 'Deployment/app-01']);
  });

  it('outside the windows: Deferred, OutsideWindow, with the next opening; it starts on its own when the window opens; an override stamps now', () => {
    const world = new World(ids(1));
    const p = policy({ windows: compileWindows([{ kind: 'allow', schedule: '0 22 * * *', duration: '2h', timeZone: 'UTC' }]) });
    let d = step(world, admitChange(undefined, change(world.workloads), p, T0), p, T0);
    expect({ phase: d.record.phase, reason: d.record.reason, nextOpen: d.record.nextOpen, message: d.record.message, stamp: d.stamp }).toEqual({
      phase: 'Deferred',
      reason: 'OutsideWindow',
      nextOpen: Date.parse('2026-12-07T22:00:00Z') / 1000,
      message: 'outside the restart windows: the next opens at 2026-12-07T22:00:00.000Z',
      stamp: [],
    });
    expect(step(new World(ids(1)), d.record, p, new Date('2026-12-07T22:00:00Z')).stamp).toEqual(['Deployment/app-00']);
    const now = step(world, d.record, p, after(60), { override: 'incident-42' });
    expect({ stamp: now.stamp, events: now.events.map((e) => e.reason) }).toEqual({ stamp: ['Deployment/app-00'], events: ['RolloutOverride'] });
  });

  it('a paused or OnDelete workload is stamped but holds no slot', () => {
    const world = new World(ids(3));
    world.paused.add('Deployment/app-00');
    world.paused.add('Deployment/app-01');
    const p = policy({ maxConcurrent: 1 });
    const d = step(world, admitChange(undefined, change(world.workloads), p, T0), p, T0);
    expect({ stamp: d.stamp, states: d.record.states }).toEqual({ stamp: ['Deployment/app-00', 'Deployment/app-01', 'Deployment/app-02'], states: 'dds' });
  });

  it('a stamp lost in a crash is sent again; one whose record was lost is not sent twice', () => {
    const world = new World(ids(2));
    const p = policy();
    const start = admitChange(undefined, change(world.workloads), p, T0);
    const lostStamp = decide(start, p, { workloads: world.observe(T0) }, T0); // persisted, then the process died before the PATCH
    expect(step(world, lostStamp.record, p, after(5)).stamp).toEqual(['Deployment/app-00', 'Deployment/app-01']);
    const world2 = new World(ids(2));
    step(world2, start, p, T0); // PATCHed, then the process died before persisting
    expect(step(world2, start, p, after(5)).stamp).toEqual([]);
  });

  it('keeps the cluster-wide ceiling: workloads rolling in other rollouts take slots', () => {
    const world = new World(ids(5));
    const p = policy({ maxConcurrent: 5 });
    const d = decide(admitChange(undefined, change(world.workloads), p, T0), p, { workloads: world.observe(T0), clusterMaxConcurrent: 10, rollingElsewhere: 8 }, T0);
    expect(d.stamp).toHaveLength(2);
  });

  it('a record of 1,000 workloads fits a status: under 64 KiB with 40-character names, under 300 KiB with 253-character ones', () => {
    for (const [len, limit] of [[40, 64 * 1024], [253, 300 * 1024]] as const) {
      const workloads = Array.from({ length: 1000 }, (_, i) => `Deployment/${`w${i}-`.padEnd(len, 'x')}`);
      const world = new World(workloads);
      const p = policy({ maxConcurrent: 10, canary: { percent: 10 } });
      let d = step(world, admitChange(undefined, change(workloads), p, T0), p, T0);
      for (const w of workloads) world.health.set(w, 'healthy');
      d = step(world, d.record, p, after(100_000));
      const size = Buffer.byteLength(JSON.stringify(d.record));
      expect({ len, fits: size < limit }).toEqual({ len, fits: true });
    }
  });
});

describe('decide, for any sequence of changes, health, crashes and windows', () => {
  type Op =
    | { op: 'tick'; seconds: number; crash: 'none' | 'beforePatch' | 'beforePersist' }
    | { op: 'health'; index: number; health: 'healthy' | 'failed' }
    | { op: 'change' }
    | { op: 'resume' }
    | { op: 'override' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 900 }), crash: fc.constantFrom('none' as const, 'none' as const, 'beforePatch' as const, 'beforePersist' as const) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('health' as const), index: fc.nat(30), health: fc.constantFrom('healthy' as const, 'healthy' as const, 'failed' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('change' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('resume' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('override' as const) }) },
  );
  const policyArb = fc.record({
    maxConcurrent: fc.integer({ min: 1, max: 5 }),
    canary: fc.option(fc.oneof(fc.record({ count: fc.integer({ min: 1, max: 4 }) }), fc.record({ percent: fc.integer({ min: 1, max: 100 }) })), { nil: undefined }),
    settleSeconds: fc.constantFrom(0, 0, 30),
    healthTimeoutSeconds: fc.option(fc.integer({ min: 60, max: 1200 }), { nil: undefined }),
    windows: fc.constantFrom([], [{ kind: 'deny' as const, schedule: '0 */2 * * *', duration: '1h', timeZone: 'Europe/Berlin' }], [{ kind: 'allow' as const, schedule: '*/30 * * * *', duration: '10m', timeZone: 'America/New_York' }]),
    suspend: fc.constant(false),
  });

  it('never more than maxConcurrent rolling, each workload stamped at most once per version, none left behind once Complete, nothing stamped after a halt', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 12 }), fc.array(fc.boolean(), { maxLength: 12 }), fc.array(opArb, { maxLength: 60 }), (raw, n, paused, ops) => {
        const p: RolloutPolicy = { ...raw, windows: compileWindows(raw.windows) };
        const workloads = ids(n);
        let version = 1;
        // Paused (or OnDelete) workloads stay so: stamped, they hold no slot.
        const newWorld = () => {
          const w = new World(workloads, p.healthTimeoutSeconds);
          workloads.forEach((id, i) => paused[i] && w.paused.add(id));
          return w;
        };
        let world = newWorld();
        let override = 0;
        let persisted = admitChange(undefined, change(workloads, `v${version}`), p, T0);
        let t = 0;
        let resume = 0;
        for (const o of ops) {
          if (o.op === 'health') {
            const w = workloads[o.index % n];
            if (world.carries.has(w)) world.health.set(w, o.health === 'healthy' ? 'healthy' : { failed: 'CrashLoopBackOff' });
          } else if (o.op === 'change') {
            version++;
            persisted = admitChange(persisted, change(workloads, `v${version}`), p, after(t));
            world = newWorld(); // a new version: no template carries it yet
          } else if (o.op === 'resume') {
            resume++;
          } else if (o.op === 'override') {
            override++;
          } else {
            t += o.seconds;
            const wasHalted = persisted.phase === 'Halted';
            const request = { ...(resume > 0 ? { resume: String(resume) } : {}), ...(override > 0 ? { override: String(override) } : {}) };
            const resumed = wasHalted && request.resume !== undefined && request.resume !== persisted.handled.resume;
            const d = decide(persisted, p, { workloads: world.observe(after(t)) }, after(t), request);
            if (wasHalted && !resumed) expect(d.stamp).toEqual([]);
            if (d.record.phase === 'Halted' && !wasHalted) expect(d.stamp).toEqual([]);
            if (o.crash !== 'beforePatch') world.apply(d.stamp, after(t)); // apply() throws on a second stamp for one version
            if (o.crash !== 'beforePersist') persisted = d.record;
            expect(world.rolling(after(t)).length).toBeLessThanOrEqual(p.maxConcurrent);
            if (d.record.phase === 'Complete' && o.crash === 'none') {
              expect(workloads.filter((w) => !world.carries.has(w))).toEqual([]);
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('the CRD and the record agree', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { load } = require('js-yaml') as typeof import('js-yaml');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const { CRD_FILE } = require('../../../../scripts/crd-time-zones') as typeof import('../../../../scripts/crd-time-zones');
  const rollout = (load(readFileSync(CRD_FILE, 'utf8')) as any).spec.versions[0].schema.openAPIV3Schema.properties.status.properties.rollout;

  it('status.rollout has a field for every field of the record (and the summary), and the phases the engine writes', () => {
    const p = policy({ canary: { count: 1 }, windows: compileWindows([{ kind: 'allow', schedule: '0 22 * * *', duration: '1h', timeZone: 'UTC' }]) });
    const d = decide({ ...admitChange(undefined, change(ids(3)), p, T0), override: true }, { ...p, windows: [] }, { workloads: new World(ids(3)).observe(T0) }, T0, { resume: 'a' });
    const written = { ...d.record, reason: 'CanaryUnhealthy', message: 'm', nextOpen: 1, handled: { resume: 'a', abandon: 'b', override: 'c' }, summary: d.summary };
    expect(Object.keys(rollout.properties).sort()).toEqual(Object.keys(written).sort());
    expect(Object.keys(rollout.properties.handled.properties).sort()).toEqual(['abandon', 'override', 'resume']);
    expect(rollout.properties.phase.enum).toEqual([...PHASES]);
    expect(new RegExp(rollout.properties.states.pattern).test(d.record.states)).toBe(true);
  });
});
