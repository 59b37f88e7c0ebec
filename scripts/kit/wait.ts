/**
 * Waiting on conditions with deadlines: the only synchronisation the stack, the demo,
 * e2e, the faults and the bench use. One home, so a timeout reads the same everywhere.
 */

export class TimeoutError extends Error {}

/** Throw from a waitFor probe to stop waiting at once (the wrapped reason is rethrown). */
export class AbortPoll extends Error {
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `probe` until it returns a value other than undefined/false and returns that
 * value, or throws a TimeoutError naming `what` (and the last attempt's error, if the
 * last attempt threw) after `timeoutMs`. A probe that throws is retried, unless it
 * throws AbortPoll.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 60_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
      last = undefined;
    } catch (err) {
      if (err instanceof AbortPoll) throw err.reason instanceof Error ? err.reason : err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`;
      throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await delay(intervalMs);
  }
}

/** Asserts that `probe` stays falsy for `ms`: the way to prove that nothing happens. */
export async function staysFalse(what: string, probe: () => Promise<boolean> | boolean, ms: number, intervalMs = 250): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) throw new Error(`unexpected: ${what}`);
    await delay(intervalMs);
  }
}
