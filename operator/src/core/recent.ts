/**
 * Answers shared for a short while: concurrent and recent asks for the same key share
 * one call. A failure is shared only by the asks already waiting on it. Entries older
 * than `maxAgeMs` are dropped as new asks come, so it holds what was asked within
 * `maxAgeMs`, no more.
 */
export class Recent<V> {
  private readonly entries = new Map<string, { at: number; value: Promise<V> }>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const t = this.now();
    // Insertion order is age order: an entry is only ever set when it is absent.
    for (const [k, e] of this.entries) {
      if (e.at >= t - this.maxAgeMs) break;
      this.entries.delete(k);
    }
    const hit = this.entries.get(key);
    if (hit) return hit.value;
    const value = load();
    this.entries.set(key, { at: t, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}
