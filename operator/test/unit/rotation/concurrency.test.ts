import { Limiter } from '../../../src/rotation/concurrency';

const tick = () => new Promise((r) => setImmediate(r));

describe('Limiter', () => {
  it('refuses a limit below one', () => {
    expect(() => new Limiter(0)).toThrow('limit must be a positive integer, got 0');
    expect(() => new Limiter(1.5)).toThrow(RangeError);
  });

  it('runs at most `limit` at once, the rest in arrival order, and returns each result', async () => {
    const l = new Limiter(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const job = (i: number) =>
      l.run(async () => {
        started.push(i);
        active++;
        peak = Math.max(peak, active);
        await tick();
        await tick();
        active--;
        return i * 10;
      });
    const results = await Promise.all([0, 1, 2, 3, 4, 5, 6].map(job));
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(peak).toBe(2);
    expect(l.inFlight).toBe(0);
  });

  it('a failing call frees its slot and its error reaches the caller', async () => {
    const l = new Limiter(1);
    const failed = l.run(async () => {
      throw new Error('boom');
    });
    const next = l.run(async () => 'after');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('after');
    expect(l.inFlight).toBe(0);
  });
});
