import { Fence, FencedError, SoleLeader, withFence, type Term } from '../../../src/leader/fence';
import { RotationLane } from '../../../src/rotation/lane';

function holder() {
  let term: (Term & { c: AbortController }) | undefined;
  let valid = true;
  return {
    start(id: number) {
      const c = new AbortController();
      term = { id, signal: c.signal, c };
      return term;
    },
    end() {
      term?.c.abort(new Error('ended'));
      term = undefined;
    },
    set valid(v: boolean) {
      valid = v;
    },
    currentTerm: () => term,
    leaseValid: () => valid,
  };
}

describe('Fence', () => {
  it('lets work of the current term write while its lease is valid', () => {
    const h = holder();
    const f = new Fence(h);
    const t = h.start(1);
    expect(f.run(t, () => f.refusal())).toBeUndefined();
  });

  it('refuses a write not made from leader work', () => {
    const h = holder();
    h.start(1);
    expect(() => new Fence(h).check()).toThrow(FencedError);
  });

  it('refuses the writes of an ended term, even once this replica leads again', async () => {
    const h = holder();
    const f = new Fence(h);
    const old = h.start(1);
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    const orphan = f.run(old, async () => {
      await paused; // e.g. a request that hung, or a frozen process
      return f.refusal();
    });
    h.end();
    h.start(2);
    resume();
    expect(await orphan).toMatch(/no longer leads the term/);
  });

  it('refuses every write once the lease is past its renew deadline (a process frozen past it, on waking)', () => {
    const h = holder();
    const f = new Fence(h);
    const t = h.start(1);
    h.valid = false;
    expect(f.run(t, () => f.refusal())).toMatch(/not renewed within the renew deadline/);
  });

  it('withFence checks mutating calls only, right before they are sent', async () => {
    const h = holder();
    const f = new Fence(h);
    const sent: string[] = [];
    const api = withFence(
      {
        listNamespacedDeployment: async () => void sent.push('list'),
        patchNamespacedDeployment: async () => void sent.push('patch'),
        createNamespacedEvent: async () => void sent.push('create'),
      },
      f,
    );
    await api.listNamespacedDeployment();
    await expect(api.patchNamespacedDeployment()).rejects.toThrow(FencedError);
    await expect(api.createNamespacedEvent()).rejects.toThrow(FencedError);
    const t = h.start(1);
    await f.run(t, () => api.patchNamespacedDeployment());
    expect(sent).toEqual(['list', 'patch']);
  });

  it('SoleLeader: relinquish ends the term (aborting it) and starts the next', async () => {
    const terms: Term[] = [];
    let stops = 0;
    const s = new SoleLeader({ onStartedLeading: (t) => terms.push(t), onStoppedLeading: () => void stops++ });
    s.start();
    await s.relinquish('stalled');
    expect(terms.map((t) => t.id)).toEqual([1, 2]);
    expect(terms[0].signal.aborted).toBe(true);
    expect(s.currentTerm()).toBe(terms[1]);
    expect(stops).toBe(1);
  });
});

describe('RotationLane', () => {
  it('runs rotations one at a time, in order', async () => {
    const lane = new RotationLane();
    const log: string[] = [];
    let inside = 0;
    const job = (name: string) => async () => {
      inside++;
      expect(inside).toBe(1);
      log.push(`${name}:start`);
      await new Promise((r) => setImmediate(r));
      log.push(`${name}:end`);
      inside--;
      return name;
    };
    expect(await Promise.all([lane.run(job('a')), lane.run(job('b')), lane.run(job('c'))])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  });

  it('a rotation whose term ended gives up its turn: the next term does not wait on it', async () => {
    const lane = new RotationLane();
    const c = new AbortController();
    void lane.run(() => new Promise<never>(() => undefined), c.signal).catch(() => undefined); // hangs for ever
    let ran = false;
    const next = lane.run(async () => (ran = true));
    c.abort(new Error('stepped down'));
    await next;
    expect(ran).toBe(true);
  });

  it('work queued for an ended term does not start at all', async () => {
    const lane = new RotationLane();
    const c = new AbortController();
    c.abort(new Error('stepped down'));
    let ran = false;
    await expect(lane.run(async () => (ran = true), c.signal)).rejects.toThrow('stepped down');
    expect(ran).toBe(false);
  });
});
