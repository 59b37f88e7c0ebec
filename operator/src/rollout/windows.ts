/**
 * Restart windows (docs/rollouts.md), pure: the clock is an argument. A window opens at
 * each time its cron schedule fires in its time zone and stays open for its duration, as
 * Argo CD's sync windows do. A deny window in force closes; otherwise, with any allow
 * window, only an allow window in force opens; with no windows, always open.
 *
 * The calendar (time zones, daylight saving, the cron grammar) is croner's; this file adds
 * only durations to instants. A day of month and a day of week both set match either day,
 * as in cron(8) (croner's domAndDow: false). A duration is elapsed time (a 2h window across a
 * daylight-saving change lasts 2 real hours, as Go's time.Duration does in Argo CD).
 */
import { Cron } from 'croner';
import type { RestartWindowSpec } from '../mappings/model';
import { supportedTimeZones } from './timeZones';

export type RestartWindow = RestartWindowSpec;

/** A window ready to evaluate: its schedule parsed once. */
export interface CompiledWindow {
  readonly kind: 'allow' | 'deny';
  readonly cron: Cron;
  readonly durationMs: number;
}

export type WindowVerdict =
  | { readonly open: true }
  /** nextOpen: the first moment restarts are allowed again, or null when none within LOOKAHEAD_MS. */
  | { readonly open: false; readonly nextOpen: Date | null };

/** How far ahead nextOpen looks: a year and a day, so a yearly window is found. */
export const LOOKAHEAD_MS = 367 * 24 * 3_600_000;
/** Bound on the steps of the search for nextOpen: each step passes a window's edge. */
const MAX_STEPS = 10_000;

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Go-style 1h30m (hours, minutes, seconds) in milliseconds; undefined when malformed or zero. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const ms = ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** The window, compiled, or a sentence saying what is wrong with it. */
export function compileWindow(w: RestartWindow): CompiledWindow | { readonly problem: string } {
  if (w.kind !== 'allow' && w.kind !== 'deny') return { problem: `kind must be allow or deny, got ${JSON.stringify(w.kind)}` };
  const durationMs = parseDuration(w.duration);
  if (durationMs === undefined) return { problem: `duration must be a duration such as 1h, 30m or 1h30m, got ${JSON.stringify(w.duration)}` };
  if (!supportedTimeZones().includes(w.timeZone)) return { problem: `timeZone must be an IANA time zone name, got ${JSON.stringify(w.timeZone)}` };
  if (w.schedule.trim().split(/\s+/).length !== 5) return { problem: `schedule must be a cron schedule of 5 fields, got ${JSON.stringify(w.schedule)}` };
  try {
    return { kind: w.kind, cron: new Cron(w.schedule, { timezone: w.timeZone, domAndDow: false }), durationMs };
  } catch (err) {
    return { problem: `schedule ${JSON.stringify(w.schedule)} is not a cron schedule: ${(err as Error).message}` };
  }
}

/** Every window compiled, or throws naming the first bad one (for settings checked at start-up). */
export function compileWindows(windows: readonly RestartWindow[]): CompiledWindow[] {
  return windows.map((w, i) => {
    const c = compileWindow(w);
    if ('problem' in c) throw new Error(`window ${i}: ${c.problem}`);
    return c;
  });
}

/** When the window's occurrence in force at `at` ends, or undefined when none is. */
function inForceUntil(w: CompiledWindow, at: number): number | undefined {
  // previousRuns is exclusive of its reference: a firing exactly at `at` counts.
  const [start] = w.cron.previousRuns(1, new Date(at + 1));
  if (!start) return undefined;
  const end = start.getTime() + w.durationMs;
  return at < end ? end : undefined;
}

/** Whether restarts are allowed at `at`. */
export function isOpen(windows: readonly CompiledWindow[], at: Date): boolean {
  const t = at.getTime();
  if (windows.some((w) => w.kind === 'deny' && inForceUntil(w, t) !== undefined)) return false;
  const allows = windows.filter((w) => w.kind === 'allow');
  return allows.length === 0 || allows.some((w) => inForceUntil(w, t) !== undefined);
}

/**
 * Open now, or when restarts are next allowed. The state changes only where a deny ends
 * or an allow starts, so the search steps from one such edge to the next.
 */
export function windowVerdict(windows: readonly CompiledWindow[], now: Date): WindowVerdict {
  if (isOpen(windows, now)) return { open: true };
  const horizon = now.getTime() + LOOKAHEAD_MS;
  let t = now.getTime();
  for (let step = 0; step < MAX_STEPS; step++) {
    const edges: number[] = [];
    for (const w of windows) {
      if (w.kind === 'deny') {
        const end = inForceUntil(w, t);
        if (end !== undefined) edges.push(end);
      } else {
        const next = w.cron.nextRun(new Date(t));
        if (next) edges.push(next.getTime());
      }
    }
    const later = edges.filter((e) => e > t);
    if (later.length === 0) return { open: false, nextOpen: null };
    t = Math.min(...later);
    if (t > horizon) return { open: false, nextOpen: null };
    if (isOpen(windows, new Date(t))) return { open: false, nextOpen: new Date(t) };
  }
  return { open: false, nextOpen: null };
}
