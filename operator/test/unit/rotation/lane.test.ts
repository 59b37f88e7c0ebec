import { GiveWay, RotationLane } from '../../../src/rotation/lane';

describe('RotationLane.busy', () => {
  it('is true while work runs or waits for its turn, and false once all of it has ended, failures included', async () => {
    const lane = new RotationLane();
    expect(lane.busy).toBe(false);
    let release!: () => void;
    const first = lane.run(() => new Promise<void>((r) => (release = r)));
    const second = lane.run(async () => {
      throw new Error('boom');
    });
    expect(lane.busy).toBe(true);
    // The first work starts on the lane's next turn.
    await new Promise((r) => setImmediate(r));
    expect(lane.busy).toBe(true);
    release();
    await first;
    await expect(second).rejects.toThrow('boom');
    await new Promise((r) => setImmediate(r));
    expect(lane.busy).toBe(false);
  });
});

describe('GiveWay', () => {
  function setup(maxDeferMs = 5_000) {
    const t = { clock: 0, ran: 0 };
    const g = new GiveWay(maxDeferMs, () => t.clock);
    const run = (busy: boolean) => g.unless(busy, async () => void t.ran++);
    return { t, run };
  }

  it('runs when nothing else holds the lane', async () => {
    const { t, run } = setup();
    await run(false);
    await run(false);
    expect(t.ran).toBe(2);
  });

  it('gives way while the lane is busy, but never for longer than its maximum since it last ran', async () => {
    const { t, run } = setup(5_000);
    t.clock = 4_999;
    await run(true);
    expect(t.ran).toBe(0);
    t.clock = 5_000;
    await run(true);
    expect(t.ran).toBe(1);
    t.clock = 6_000;
    await run(true);
    expect(t.ran).toBe(1);
    await run(false);
    expect(t.ran).toBe(2);
  });
});
