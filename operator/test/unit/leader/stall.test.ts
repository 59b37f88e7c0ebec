import { stallOf } from '../../../src/leader/stall';

describe('stallOf (when the leader gives up its lease because its work is stuck)', () => {
  const stallMs = 30_000;
  const now = 1_000_000;
  it.each([
    ['no batch in hand', 0, now - 3_600_000, undefined],
    ['a batch, requests ending', 120_000, now - 100, undefined],
    ['a young batch, nothing ended for long (the first calls are under way)', 10_000, now - 3_600_000, undefined],
    ['a long batch still making progress (10,000 workloads)', 600_000, now - 29_999, undefined],
    ['a batch with nothing ending for 30 s', 45_000, now - 30_000, 'work stalled: the batch in hand made no progress for 30 s'],
    ['no request ever ended and the batch is old', 31_000, 0, 'work stalled: the batch in hand made no progress for 31 s'],
  ])('%s → %s', (_what, busyMs, lastProgressAt, expected) => {
    expect(stallOf({ now, busyMs: busyMs as number, lastProgressAt: lastProgressAt as number, stallMs })).toBe(expected);
  });
});
