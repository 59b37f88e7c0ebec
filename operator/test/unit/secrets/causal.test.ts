import { CausalDescriptions } from '../../../src/secrets/causal';
import type { SecretDescription } from '../../../src/secrets/describer';

function setup(skewMs = 250, maxAgeMs = 60_000) {
  const t = { clock: 1_000_000, asked: [] as string[], fail: false };
  const d = new CausalDescriptions(
    async (id): Promise<SecretDescription> => {
      t.asked.push(id);
      if (t.fail) throw new Error('throttled');
      return { arn: `arn:${id}`, name: id, currentVersion: `v@${t.clock}` };
    },
    skewMs,
    maxAgeMs,
    () => t.clock,
  );
  return { t, d };
}

describe('CausalDescriptions', () => {
  it('answers an ask for "at or after T" from an ask made at or after T, and asks again otherwise', async () => {
    const { t, d } = setup();
    await d.since('a', t.clock);
    t.clock += 1_000;
    expect((await d.since('a', t.clock - 1_000)).currentVersion).toBe('v@1000000');
    expect((await d.since('a', t.clock - 999)).currentVersion).toBe('v@1001000');
    expect(t.asked).toEqual(['a', 'a']);
  });

  it('keeps secrets apart, and shares one call between concurrent asks', async () => {
    const { t, d } = setup();
    await Promise.all([d.since('a', t.clock), d.since('a', t.clock), d.since('b', t.clock)]);
    expect(t.asked).toEqual(['a', 'b']);
  });

  it('never remembers a failed ask', async () => {
    const { t, d } = setup();
    t.fail = true;
    await expect(d.since('a', t.clock)).rejects.toThrow('throttled');
    t.fail = false;
    await d.since('a', t.clock);
    expect(t.asked).toEqual(['a', 'a']);
    expect(d.size).toBe(1);
  });

  it('forgets asks older than its maximum age', async () => {
    const { t, d } = setup(250, 10_000);
    await d.since('a', t.clock);
    t.clock += 10_001;
    await d.since('b', t.clock);
    expect(d.size).toBe(1);
    await d.since('a', 0);
    expect(t.asked).toEqual(['a', 'b', 'a']);
  });

  it("a message's earliest answering ask: its SentTimestamp plus the clock allowance, or its batch's start, whichever is first", () => {
    const { d } = setup(250);
    expect(d.earliestFor(10_000, 5_000)).toBe(5_250);
    expect(d.earliestFor(10_000, 9_900)).toBe(10_000);
    expect(d.earliestFor(10_000, undefined)).toBe(10_000);
  });
});
