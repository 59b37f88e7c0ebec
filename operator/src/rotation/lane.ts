import { untilSettledOrAborted } from '../core/abort';

/**
 * One serial path for every rotation: SQS batches and drift recovery take turns, so a
 * change handled by one has been written (and is seen when workloads are listed) before
 * the other plans the same secret. A rotation never patches a workload twice for one
 * version however its change arrived.
 *
 * Work given a signal gives up its turn when the signal aborts (its term ended): work
 * of an ended term can no longer write (fence.ts), so the next term does not wait on it.
 */
export class RotationLane {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Work is running on the lane, or waiting for its turn. */
  get busy(): boolean {
    return this.queued > 0;
  }

  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.queued++;
    const result = this.tail.then(() => {
      signal?.throwIfAborted();
      return fn();
    });
    const turn = (signal ? untilSettledOrAborted(result, signal) : result).catch(() => undefined);
    this.tail = turn;
    void turn.then(() => this.queued--);
    return result;
  }
}

/**
 * Periodic work that gives way: skipped while `busy` says other work has the lane, but run
 * anyway once `maxDeferMs` have passed since it last ran (a steady stream of batches never
 * starves it). The rollout loop uses it: a burst's batches go first, a pass is at most
 * this much later.
 */
export class GiveWay {
  private lastRan: number;

  constructor(
    private readonly maxDeferMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastRan = now();
  }

  async unless(busy: boolean, fn: () => Promise<void>): Promise<void> {
    if (busy && this.now() - this.lastRan < this.maxDeferMs) return;
    this.lastRan = this.now();
    await fn();
  }
}
