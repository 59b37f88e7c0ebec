/**
 * Descriptions shared for a short while, for the status reconciler's baselines: a first
 * start reconciles every mapping, and ten mappings of one secret would otherwise make
 * ten DescribeSecret calls. A baseline up to `maxAgeMs` old is safe: it can only be
 * older than the truth, never newer, and an older baseline is caught up by the change's
 * own event or by drift recovery (a restart that is due anyway, never a lost one).
 * Settling a change's version (the rotator) keeps calling DescribeSecret afresh.
 */
import { Recent } from '../core/recent';
import type { SecretDescriber, SecretDescription } from './describer';

export class RecentDescriptions implements SecretDescriber {
  private readonly recent: Recent<SecretDescription>;

  constructor(
    private readonly describer: SecretDescriber,
    maxAgeMs: number,
    now?: () => number,
  ) {
    this.recent = new Recent(maxAgeMs, now);
  }

  describe(secretId: string): Promise<SecretDescription> {
    return this.recent.get(secretId, () => this.describer.describe(secretId));
  }
}
