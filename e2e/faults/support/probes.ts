/**
 * Measuring instruments: peak memory of operator processes, and a recording proxy
 * in front of moto's Secrets Manager that proves which API calls the operator made.
 */
import fs from 'node:fs';
import { startForwardingProxy } from '../../support/forward';
import type { OperatorProcess } from '../../support/operator';

/** VmHWM (peak resident set, KiB) and VmRSS of a live process, from /proc/<pid>/status. */
export function memoryOf(pid: number): { hwmKiB: number; rssKiB: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { hwmKiB: field('VmHWM'), rssKiB: field('VmRSS') };
  } catch {
    return undefined; // gone
  }
}

/**
 * Samples the peak RSS (VmHWM) of operator processes while they live: VmHWM is the
 * kernel's own high-water mark, so sampling only has to happen before the process ends.
 */
export class RssSampler {
  private peak = 0;
  private readonly pids = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 500) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  track(op: OperatorProcess): void {
    if (op.child.pid) this.pids.add(op.child.pid);
    this.sample();
  }

  sample(): void {
    for (const pid of this.pids) {
      const m = memoryOf(pid);
      if (!m) this.pids.delete(pid);
      else if (m.hwmKiB > this.peak) this.peak = m.hwmKiB;
    }
  }

  /** Samples a last time and stops; the highest VmHWM seen, KiB. */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.peak;
  }

  get peakKiB(): number {
    return this.peak;
  }
}

export interface RecordingProxy {
  /** e.g. http://127.0.0.1:40123 — use as AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  readonly url: string;
  /** X-Amz-Target of every request, in order (e.g. `secretsmanager.DescribeSecret`). */
  readonly targets: string[];
  close(): Promise<void>;
}

/** An HTTP proxy to `upstream` that records each request's X-Amz-Target (the AWS JSON protocol's operation). */
export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const targets: string[] = [];
  const proxy = await startForwardingProxy((call, forward) => {
    targets.push(call.target || `${call.method} ${call.url}`);
    return forward(upstream);
  });
  return { url: proxy.url, targets, close: () => proxy.close() };
}
