import { restartLatency } from '../../../src/rotation/latency';
import type { ResolvedChange } from '../../../src/rotation/plan';
import { resolved } from '../../support/builders';

const at = (id: string, eventTime: string | undefined, sentAt?: number): ResolvedChange => {
  const r = resolved(id, 'v1', eventTime);
  return { ...r, change: { ...r.change, eventTime }, ...(sentAt !== undefined ? { sentAt } : {}) };
};
const causes = (...ids: string[]) => ({ causes: ids.map((changeId) => ({ mappingKey: 'ns/web', changeId, eventId: `ev-${changeId}`, secretKey: 'k', version: 'v1' })) });
const NOW = Date.parse('2026-01-01T00:01:00Z');

describe('restartLatency', () => {
  it('counts from the earliest causing event and the earliest causing message', () => {
    const changes = [at('a', '2026-01-01T00:00:30Z', NOW - 20_000), at('b', '2026-01-01T00:00:00Z', NOW - 10_000)];
    expect(restartLatency(causes('a', 'b'), changes, NOW)).toEqual({ fromEvent: 60, fromQueue: 20 });
  });

  it('only the changes the action names count', () => {
    const changes = [at('a', '2026-01-01T00:00:30Z'), at('other', '2026-01-01T00:00:00Z', NOW - 50_000)];
    expect(restartLatency(causes('a'), changes, NOW)).toEqual({ fromEvent: 30 });
  });

  it("a drift catch is no event: its time is when the secret last changed (maybe long ago), kept out of the event histogram", () => {
    const drift = at('d', '2026-01-01T00:00:00Z');
    expect(restartLatency(causes('d'), [{ ...drift, change: { ...drift.change, kind: 'DriftDetected' } }], NOW)).toEqual({});
  });

  it('says nothing when no time is known', () => {
    expect(restartLatency(causes('a'), [at('a', undefined)], NOW)).toEqual({});
    expect(restartLatency(causes('a'), [at('a', 'not a time')], NOW)).toEqual({});
  });

  it('an event stamped after now (clocks differ) counts as zero seconds, never negative', () => {
    expect(restartLatency(causes('a'), [at('a', '2026-01-01T00:02:00Z', NOW + 1_000)], NOW)).toEqual({ fromEvent: 0, fromQueue: 0 });
  });
});
