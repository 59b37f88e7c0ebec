/** Capped exponential backoff: `baseMs` after the first failure, doubling up to `capMs`. Pure. */
export function backoffMs(failures: number, baseMs = 500, capMs = 30_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
}
