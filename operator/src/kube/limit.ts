/**
 * Bounding the load on the API server: one Limiter is shared by every client the
 * rotation path uses (workload lists and patches, status writes, Events), applied at
 * the leaf (the request itself), so however the work is split and whoever issues it,
 * at most MAX_CONCURRENT_API_REQUESTS requests are in flight. Leaf only: a caller holding
 * a slot while waiting for another slot could deadlock.
 */

/** A counting semaphore: at most `limit` calls of `run` in flight, the rest wait in arrival order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** When a request last ended (ms since the epoch; 0: never): the stall watchdog's sign of progress. */
  lastSettledAt = 0;

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
      this.lastSettledAt = Date.now();
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` never over-counts.
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * The request methods of a client-node API class (the others are configuration). `get`
 * and `connect` too: CustomObjectsApi reads an object with `getNamespacedCustomObject`
 * (the ESO status polls), and a request left out here would escape the bound.
 */
export const REQUEST_METHOD = /^(get|connect|list|read|create|patch|replace|delete)[A-Z]/;
/** The request methods that change something. */
export const MUTATING_METHOD = /^(create|patch|replace|delete)[A-Z]/;

type Call = (...args: unknown[]) => Promise<unknown>;

/** `api` with each method whose name matches `methods` run through `around(call)`. */
export function aroundMethods<T extends object>(api: T, methods: RegExp, around: (call: () => Promise<unknown>) => Promise<unknown>): T {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || typeof value !== 'function' || !methods.test(prop)) return value;
      return (...args: unknown[]) => around(() => (value as Call).apply(target, args));
    },
  });
}

/** `api` with every request method run under `limiter`. */
export function withLimit<T extends object>(api: T, limiter: Limiter): T {
  return aroundMethods(api, REQUEST_METHOD, (call) => limiter.run(call));
}
