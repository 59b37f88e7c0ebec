/** Waiting on conditions with deadlines: the only synchronisation e2e tests use. */

export class TimeoutError extends Error {}

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
      last = err;
    }
    if (Date.now() > deadline) {
      throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message ?? String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Asserts that `probe` stays falsy for `ms`: the way to prove that nothing happens. */
export async function staysFalse(what: string, probe: () => Promise<boolean> | boolean, ms: number, intervalMs = 250): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) throw new Error(`unexpected: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
