/**
 * Pure: what the paced fan-out (F) reads from watch events. Which workloads are rolling
 * (stamped with the new version, not yet healthy by their kind's own rule, as the
 * operator's rollout loop counts them), the peak, when all were healthy; and the peaks
 * per second of events and of a growing counter.
 */
import { KINDS, type WorkloadObject } from '../../operator/src/workloads/kinds';
import { parseAppliedVersions } from '../../operator/src/workloads/workload';

interface Seen {
  readonly carries: boolean;
  readonly healthy: boolean;
}

/** Tallies Deployments (by key) rolling towards `version`, over `expected` of them. */
export class RollingTally {
  private readonly state = new Map<string, Seen>();
  private rollingNow = 0;
  private carrying = 0;
  private healthyOnVersion = 0;
  peakRolling = 0;
  /** When the last workload was first seen carrying the version. */
  lastStampedAt?: number;
  /** When every expected workload first carried the version and was healthy. */
  allHealthyAt?: number;

  constructor(
    readonly version: string,
    readonly expected: number,
  ) {}

  /** A Deployment as a watch delivers it (its pod template records the versions it was restarted for), seen at `at`. */
  observe(key: string, obj: WorkloadObject, at: number): void {
    const carries = Object.values(parseAppliedVersions(obj.spec?.template?.metadata?.annotations)).includes(this.version);
    const next: Seen = { carries, healthy: KINDS.Deployment.health(obj) === 'healthy' };
    const before = this.state.get(key);
    if (before) this.count(before, -1);
    this.count(next, +1);
    this.state.set(key, next);
    if (carries && !before?.carries) this.lastStampedAt = at;
    this.peakRolling = Math.max(this.peakRolling, this.rollingNow);
    if (this.allHealthyAt === undefined && this.healthyOnVersion >= this.expected) this.allHealthyAt = at;
  }

  get rolling(): number {
    return this.rollingNow;
  }

  get stamped(): number {
    return this.carrying;
  }

  private count(s: Seen, by: 1 | -1): void {
    if (!s.carries) return;
    this.carrying += by;
    if (s.healthy) this.healthyOnVersion += by;
    else this.rollingNow += by;
  }
}

/** The most of `times` (ms) in one second, the seconds counted from `from`. */
export function peakPerSecond(times: readonly number[], from: number): number {
  const perSecond = new Map<number, number>();
  for (const t of times) {
    const s = Math.floor((t - from) / 1000);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }
  return Math.max(0, ...perSecond.values());
}

/** One reading of a growing counter at `at` (ms). */
export interface CounterSample {
  readonly at: number;
  readonly total: number;
}

/** The fastest growth of a counter between two consecutive samples, per second; NaN with fewer than two. */
export function peakRate(samples: readonly CounterSample[]): number {
  let peak = NaN;
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].at - samples[i - 1].at) / 1000;
    if (dt <= 0) continue;
    const rate = (samples[i].total - samples[i - 1].total) / dt;
    peak = Number.isNaN(peak) ? rate : Math.max(peak, rate);
  }
  return peak;
}
