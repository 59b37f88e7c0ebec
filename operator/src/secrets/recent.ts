/**
 * Descriptions shared for a short while, for the status reconciler's baselines: a first
 * start reconciles every mapping, and ten mappings of one secret would otherwise make
 * ten DescribeSecret calls. A baseline up to `maxAgeMs` old is safe: it can only be
 * older than the truth, never newer, and an older baseline is caught up by the change's
 * own event or by drift recovery (a restart that is due anyway, never a lost one).
 * Settling a change's version (the rotator) keeps calling DescribeSecret afresh.
 */
import type { SecretDescriber, SecretDescription } from './describer';

export class RecentDescriptions implements SecretDescriber {
  private readonly recent = new Map<string, { at: number; description: Promise<SecretDescription> }>();

  constructor(
    private readonly describer: SecretDescriber,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  describe(secretId: string): Promise<SecretDescription> {
    const t = this.now();
    this.forgetOlderThan(t - this.maxAgeMs);
    const hit = this.recent.get(secretId);
    if (hit) return hit.description;
    const description = this.describer.describe(secretId);
    this.recent.set(secretId, { at: t, description });
    // A failure is not shared beyond the calls already waiting on it.
    description.catch(() => {
      if (this.recent.get(secretId)?.description === description) this.recent.delete(secretId);
    });
    return description;
  }

  /** Entries are kept in insertion order, which is their age order. */
  private forgetOlderThan(t: number): void {
    for (const [id, entry] of this.recent) {
      if (entry.at >= t) return;
      this.recent.delete(id);
    }
  }
}
