import fs from 'node:fs';
import fc from 'fast-check';
import { load } from 'js-yaml';
import { CRD_FILE } from '../../../../scripts/crd-time-zones';
import { compileWindow, compileWindows, isOpen, parseDuration, windowVerdict, type RestartWindow } from '../../../src/rollout/windows';

const at = (iso: string) => new Date(iso);
const verdict = (windows: RestartWindow[], now: string) => windowVerdict(compileWindows(windows), at(now));
const allow = (schedule: string, duration: string, timeZone: string): RestartWindow => ({ kind: 'allow', schedule, duration, timeZone });
const deny = (schedule: string, duration: string, timeZone: string): RestartWindow => ({ kind: 'deny', schedule, duration, timeZone });

describe('restart windows', () => {
  it('no windows: always open', () => {
    fc.assert(fc.property(fc.date({ min: at('2000-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z'), noInvalidDate: true }), (now) => {
      expect(windowVerdict([], now)).toEqual({ open: true });
    }));
  });

  it('an allow window is open from its firing for its duration, and says when it next opens', () => {
    const nightly = [allow('0 22 * * MON-FRI', '2h', 'UTC')];
    expect(verdict(nightly, '2026-12-07T22:00:00Z')).toEqual({ open: true }); // Monday 22:00, the firing itself
    expect(verdict(nightly, '2026-12-07T23:59:59Z')).toEqual({ open: true });
    expect(verdict(nightly, '2026-12-08T00:00:00Z')).toEqual({ open: false, nextOpen: at('2026-12-08T22:00:00Z') });
    expect(verdict(nightly, '2026-12-11T23:30:00Z')).toEqual({ open: true }); // Friday's window reaches into Saturday
    expect(verdict(nightly, '2026-12-12T10:00:00Z')).toEqual({ open: false, nextOpen: at('2026-12-14T22:00:00Z') });
  });

  it('a deny window in force overrides an allow window; restarts resume where it ends', () => {
    const w = [allow('0 0 * * *', '24h', 'UTC'), deny('0 9 * * MON-FRI', '8h', 'Europe/Berlin')];
    expect(verdict(w, '2026-12-07T07:59:00Z')).toEqual({ open: true }); // 08:59 in Berlin
    expect(verdict(w, '2026-12-07T08:00:00Z')).toEqual({ open: false, nextOpen: at('2026-12-07T16:00:00Z') });
    expect(verdict(w, '2026-12-12T12:00:00Z')).toEqual({ open: true }); // Saturday
  });

  it('a deny window with no allow window is closed only while in force', () => {
    const w = [deny('30 12 * * *', '45m', 'Asia/Tokyo')];
    expect(verdict(w, '2026-12-07T03:29:00Z')).toEqual({ open: true });
    expect(verdict(w, '2026-12-07T03:30:00Z')).toEqual({ open: false, nextOpen: at('2026-12-07T04:15:00Z') });
  });

  it('back-to-back deny windows are passed over until one leaves a gap', () => {
    const w = [deny('0 */2 * * *', '2h', 'UTC'), deny('0 0 * * *', '1h', 'UTC'), allow('0 0 1 1 *', '1h', 'UTC')];
    expect(verdict(w, '2026-12-07T10:00:00Z')).toEqual({ open: false, nextOpen: null }); // always denied
  });

  it('a day of month and a day of week both set match either day, as cron does', () => {
    const w = [allow('0 0 1 * MON', '1h', 'UTC')];
    expect(verdict(w, '2026-01-01T00:30:00Z')).toEqual({ open: true }); // Thursday the 1st
    expect(verdict(w, '2026-01-05T00:30:00Z')).toEqual({ open: true }); // Monday the 5th
    expect(verdict(w, '2026-01-06T00:30:00Z')).toEqual({ open: false, nextOpen: at('2026-01-12T00:00:00Z') });
  });

  describe('across daylight-saving changes', () => {
    it('Europe/Berlin, spring forward (29 Mar 2026, 02:00 CET → 03:00 CEST): a 3h window lasts 3 real hours; the next one opens at 01:00 CEST', () => {
      const w = [allow('0 1 * * *', '3h', 'Europe/Berlin')];
      expect(verdict(w, '2026-03-29T00:00:00Z')).toEqual({ open: true }); // 01:00 CET
      expect(verdict(w, '2026-03-29T02:59:00Z')).toEqual({ open: true }); // 04:59 CEST
      expect(verdict(w, '2026-03-29T03:00:00Z')).toEqual({ open: false, nextOpen: at('2026-03-29T23:00:00Z') }); // 01:00 CEST, UTC+2
    });

    it('Europe/Berlin, spring forward: a schedule at a local time that does not exist (02:00) fires at the end of the gap (03:00 CEST)', () => {
      const w = [allow('0 2 * * *', '1h', 'Europe/Berlin')];
      expect(verdict(w, '2026-03-28T12:00:00Z')).toEqual({ open: false, nextOpen: at('2026-03-29T01:00:00Z') });
    });

    it('Europe/Berlin, fall back (25 Oct 2026, 03:00 CEST → 02:00 CET): a deny at 02:00 holds once, not for both 02:00s', () => {
      const w = [deny('0 2 * * *', '30m', 'Europe/Berlin')];
      expect(verdict(w, '2026-10-25T00:10:00Z')).toEqual({ open: false, nextOpen: at('2026-10-25T00:30:00Z') }); // the first 02:10 (CEST)
      expect(verdict(w, '2026-10-25T01:10:00Z')).toEqual({ open: true }); // the second 02:10 (CET)
      expect(verdict(w, '2026-10-26T01:10:00Z')).toEqual({ open: false, nextOpen: at('2026-10-26T01:30:00Z') }); // 02:10 CET, UTC+1
    });

    it('America/New_York, spring forward (8 Mar 2026, 02:00 EST → 03:00 EDT): 02:30 does not exist, the window opens at 03:00 EDT', () => {
      const w = [allow('30 2 * * *', '1h', 'America/New_York')];
      expect(verdict(w, '2026-03-08T06:00:00Z')).toEqual({ open: false, nextOpen: at('2026-03-08T07:00:00Z') });
      expect(verdict(w, '2026-03-08T07:59:00Z')).toEqual({ open: true });
      expect(verdict(w, '2026-03-08T08:00:00Z')).toEqual({ open: false, nextOpen: at('2026-03-09T06:30:00Z') }); // 02:30 EDT
    });

    it('America/New_York, fall back (1 Nov 2026, 02:00 EDT → 01:00 EST): 01:30 occurs twice, the window opens once', () => {
      const w = [allow('30 1 * * *', '1h', 'America/New_York')];
      expect(verdict(w, '2026-11-01T05:30:00Z')).toEqual({ open: true }); // 01:30 EDT
      expect(verdict(w, '2026-11-01T06:45:00Z')).toEqual({ open: false, nextOpen: at('2026-11-02T06:30:00Z') }); // the second 01:45 (EST)
    });
  });

  describe('properties', () => {
    const zones = fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe');
    const schedule = fc.tuple(
      fc.constantFrom('0', '30', '*/15', '0,45'),
      fc.constantFrom('*', '2', '1-3', '22', '*/6'),
      fc.constantFrom('*', '1', '15', '31'),
      fc.constantFrom('*', '3', '10,11', 'JAN-JUN'),
      fc.constantFrom('*', '0', 'MON-FRI', '6,7'),
    ).map((f) => f.join(' '));
    const window = fc.record({
      kind: fc.constantFrom('allow' as const, 'deny' as const),
      schedule,
      duration: fc.constantFrom('1m', '30m', '1h', '1h30m', '6h', '25h'),
      timeZone: zones,
    });
    const now = fc.date({ min: at('2024-01-01T00:00:00Z'), max: at('2030-12-31T00:00:00Z'), noInvalidDate: true });

    it('when closed, nextOpen is later and open, and every moment before it is closed', () => {
      fc.assert(
        fc.property(fc.array(window, { minLength: 1, maxLength: 4 }), now, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }), (ws, t, fractions) => {
          const compiled = compileWindows(ws);
          const v = windowVerdict(compiled, t);
          expect(v.open).toBe(isOpen(compiled, t));
          if (v.open || v.nextOpen === null) return;
          expect(v.nextOpen.getTime()).toBeGreaterThan(t.getTime());
          expect(isOpen(compiled, v.nextOpen)).toBe(true);
          for (const f of fractions) {
            const between = new Date(t.getTime() + Math.floor(f * (v.nextOpen.getTime() - t.getTime() - 1)));
            expect(isOpen(compiled, between)).toBe(false);
          }
        }),
        { numRuns: 150 },
      );
    });

    it('a deny window overrides the same allow window everywhere', () => {
      fc.assert(fc.property(window, now, (w, t) => {
        expect(isOpen(compileWindows([{ ...w, kind: 'allow' }, { ...w, kind: 'deny' }]), t)).toBe(false);
      }), { numRuns: 100 });
    });
  });
});

describe('window settings', () => {
  it('parses Go-style durations and refuses the rest', () => {
    expect([parseDuration('1h30m'), parseDuration('45s'), parseDuration('2h0m5s')]).toEqual([5_400_000, 45_000, 7_205_000]);
    expect(['', '0h', '90', '1d', '1.5h', '-1h', 'h'].map(parseDuration)).toEqual(Array(7).fill(undefined));
  });

  it('says what is wrong with a window', () => {
    const ok = allow('0 22 * * *', '1h', 'UTC');
    expect(compileWindow({ ...ok, timeZone: 'Mars/Olympus_Mons' })).toEqual({ problem: 'timeZone must be an IANA time zone name, got "Mars/Olympus_Mons"' });
    expect(compileWindow({ ...ok, schedule: '0 0 22 * * *' })).toEqual({ problem: 'schedule must be a cron schedule of 5 fields, got "0 0 22 * * *"' });
    expect(compileWindow({ ...ok, schedule: '5-3 * * * *' })).toEqual({ problem: expect.stringContaining('schedule "5-3 * * * *" is not a cron schedule') });
    expect(compileWindow({ ...ok, duration: '0s' })).toEqual({ problem: 'duration must be a duration such as 1h, 30m or 1h30m, got "0s"' });
    expect(() => compileWindows([ok, { ...ok, kind: 'sometimes' as 'allow' }])).toThrow('window 1: kind must be allow or deny, got "sometimes"');
  });
});

describe("the CRD's schedule rule", () => {
  const doc = load(fs.readFileSync(CRD_FILE, 'utf8')) as any;
  const rule: string = doc.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.rollout.properties.windows.items.properties.schedule['x-kubernetes-validations'][0].rule;
  // The CEL rule is self.matches('<RE2>'); this regex uses nothing RE2 and JavaScript read differently.
  const crdPattern = new RegExp(/^self\.matches\('(.*)'\)$/.exec(rule)![1]);
  const token = fc.oneof(
    fc.integer({ min: 0, max: 70 }).map(String),
    fc.constantFrom('*', 'MON', 'FRI', 'SUN', 'JAN', 'DEC', 'L', '?', 'X'),
  );
  const item = fc.tuple(token, fc.option(token), fc.option(fc.integer({ min: 0, max: 100 }))).map(([a, b, step]) => `${a}${b === null ? '' : `-${b}`}${step === null ? '' : `/${step}`}`);
  const field = fc.array(item, { minLength: 1, maxLength: 3 }).map((items) => items.join(','));
  const cron = fc.array(field, { minLength: 4, maxLength: 6 }).map((fields) => fields.join(' '));
  /** A range whose start is after its end (5-3): the regex cannot see it; the CRD's second rule refuses it (e2e/admission.e2e.test.ts). */
  const NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  const num = (s: string) => (NAMES.includes(s) ? (NAMES.indexOf(s) % 7 === NAMES.indexOf(s) ? NAMES.indexOf(s) : NAMES.indexOf(s) - 6) : Number(s));
  const reversed = (s: string) => [...s.matchAll(/([0-9A-Z]+)-([0-9A-Z]+)/g)].some(([, a, b]) => num(a) > num(b));

  it('its regex admits only schedules the operator can evaluate, reversed ranges aside (another rule refuses those)', () => {
    fc.assert(fc.property(cron, (s) => {
      if (!crdPattern.test(s) || reversed(s)) return;
      expect(compileWindow(allow(s, '1h', 'UTC'))).toEqual(expect.objectContaining({ kind: 'allow' }));
    }), { numRuns: 3000 });
  });

  it('admits the schedules people write', () => {
    for (const s of ['0 22 * * MON-FRI', '*/15 * * * *', '0 0 1 1 *', '30 2 * * 0', '0 9-17 * * 1-5', '0 0 * JAN,JUL *', '0 0 * * 7']) expect({ s, ok: crdPattern.test(s) }).toEqual({ s, ok: true });
  });
});
