/** Bounded concurrency for fixtures that create hundreds of objects. */

/**
 * Runs `fn` over `items`, at most `limit` at a time (a new one starts as soon as one
 * finishes); `progress`, if given, is called after each item with how many are done.
 * Rejects with the first failure; items already started still run to their end.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<unknown>,
  progress?: (done: number, total: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
      done++;
      progress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}
