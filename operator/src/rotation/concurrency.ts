/**
 * A counting semaphore: at most `limit` calls of `run` in flight, the rest wait in
 * arrival order. One shared Limiter bounds every request a component makes, however
 * its work is split (lists, patches, status writes, Events).
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` never over-counts.
      if (next) next();
      else this.active--;
    }
  }
}
