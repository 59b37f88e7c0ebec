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

  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const result = this.tail.then(() => {
      signal?.throwIfAborted();
      return fn();
    });
    this.tail = (signal ? untilSettledOrAborted(result, signal) : result).catch(() => undefined);
    return result;
  }
}
