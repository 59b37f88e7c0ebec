import fc from 'fast-check';
import { readIsNewer } from '../../../src/secrets/versionOrder';

describe('readIsNewer: whether a read of a secret shows a newer AWSCURRENT than the recorded version', () => {
  const recorded = { version: 'v3', since: '2026-12-07T12:00:00Z' };

  it('the same version is not newer; a read without AWSCURRENT is not newer', () => {
    expect(readIsNewer({ currentVersion: 'v3' }, recorded)).toBe(false);
    expect(readIsNewer({ versions: { v3: ['AWSPENDING'] } }, recorded)).toBe(false);
  });

  it('the recorded version labelled AWSPREVIOUS: AWSCURRENT moved off it, so the read is newer (a rollback included)', () => {
    expect(readIsNewer({ currentVersion: 'v4', versions: { v4: ['AWSCURRENT'], v3: ['AWSPREVIOUS'] }, lastChanged: '2026-12-07T11:00:00Z' }, recorded)).toBe(true);
    expect(readIsNewer({ currentVersion: 'v1', versions: { v1: ['AWSCURRENT'], v3: ['AWSPREVIOUS'] } }, recorded)).toBe(true);
  });

  it('the recorded version labelled AWSPENDING: the read predates its promotion, whatever its time', () => {
    expect(readIsNewer({ currentVersion: 'v2', versions: { v2: ['AWSCURRENT'], v3: ['AWSPENDING'] }, lastChanged: '2026-12-07T13:00:00Z' }, recorded)).toBe(false);
  });

  it('a read that does not know the recorded version: its LastChangedDate decides, a whole second after the event at least', () => {
    const read = (lastChanged: string) => ({ currentVersion: 'v5', versions: { v5: ['AWSCURRENT'], v4: ['AWSPREVIOUS'] }, lastChanged });
    expect(readIsNewer(read('2026-12-07T12:05:00Z'), recorded)).toBe(true);
    expect(readIsNewer(read('2026-12-07T12:00:01Z'), recorded)).toBe(true);
    // The event's time has whole seconds: a read changed within its second may predate the write.
    expect(readIsNewer(read('2026-12-07T12:00:00.900Z'), recorded)).toBe(false);
    expect(readIsNewer(read('2026-12-07T11:58:00Z'), recorded)).toBe(false);
  });

  it('no time on either side and nothing in the labels: the read, Secrets Manager being the only authority left', () => {
    expect(readIsNewer({ currentVersion: 'v5', versions: { v5: ['AWSCURRENT'] } }, { version: 'v3' })).toBe(true);
    expect(readIsNewer({ currentVersion: 'v5' }, recorded)).toBe(true);
  });

  it('never backwards: a read last changed before the recorded version became current, and not labelling it AWSPREVIOUS, is never newer', () => {
    const version = fc.constantFrom('v1', 'v2', 'v3', 'v4');
    const labels = fc.subarray(['AWSCURRENT', 'AWSPENDING', 'custom']);
    fc.assert(
      fc.property(version, fc.dictionary(version, labels), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 }), (current, versions, sinceMs, earlierBy) => {
        const since = new Date(Date.UTC(2026, 0, 1) + sinceMs).toISOString();
        const lastChanged = new Date(Date.UTC(2026, 0, 1) + sinceMs - earlierBy).toISOString();
        expect(readIsNewer({ currentVersion: current, versions, lastChanged }, { version: 'v3', since })).toBe(false);
      }),
    );
  });
});
