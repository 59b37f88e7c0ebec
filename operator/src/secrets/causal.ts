/**
 * DescribeSecret answers shared across the rotation's batches, by causality. A message
 * SQS took in at `sentAt` (its SentTimestamp) reports a change made before that moment,
 * so an answer asked for after it knows the change as well as one asked now would
 * (Secrets Manager's own brief staleness after a write aside: settling compares each
 * answer with the event, secrets/versionOrder.ts). In a burst, where each secret's ten
 * versions arrive in ten batches, the secret is described once or twice, not ten times.
 *
 * Two clocks meet here: SentTimestamp is AWS's, the time an answer was asked is ours.
 * `skewMs` is how far ours may run behind AWS's; a message is only answered by an ask
 * made at least that long after it was sent, or after its batch was received (our own
 * clock on both sides). Were the clocks further apart than that, an answer from before a
 * change could settle its event on the previous version: the change would then wait for
 * drift (DRIFT_CHECK_INTERVAL_SECONDS), which compares with ListSecrets, never be lost.
 */
import type { SecretDescription } from './describer';

export class CausalDescriptions {
  /** Per secret, the newest ask: when it was made (our clock) and its answer. Never a failed one. */
  private readonly asked = new Map<string, { at: number; answer: Promise<SecretDescription> }>();

  constructor(
    private readonly describe: (secretId: string) => Promise<SecretDescription>,
    readonly skewMs: number,
    /** Asks older than this are forgotten (a message sent before them is asked about afresh). */
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `secretId`'s description as asked at or after `after` (ms since the epoch, our clock),
   * asked now when no such ask is remembered. Concurrent asks share one call.
   */
  since(secretId: string, after: number): Promise<SecretDescription> {
    const t = this.now();
    this.forgetOlderThan(t - this.maxAgeMs);
    const hit = this.asked.get(secretId);
    if (hit && hit.at >= after) return hit.answer;
    const answer = this.describe(secretId);
    // Re-inserted, so the map stays in order of asking.
    this.asked.delete(secretId);
    this.asked.set(secretId, { at: t, answer });
    answer.catch(() => {
      if (this.asked.get(secretId)?.answer === answer) this.asked.delete(secretId);
    });
    return answer;
  }

  /**
   * The earliest ask that answers for a message received in a batch that began at
   * `batchStart` (our clock) and sent at `sentAt` (AWS's clock, when SQS says it).
   */
  earliestFor(batchStart: number, sentAt: number | undefined): number {
    return sentAt === undefined ? batchStart : Math.min(batchStart, sentAt + this.skewMs);
  }

  get size(): number {
    return this.asked.size;
  }

  private forgetOlderThan(limit: number): void {
    for (const [k, e] of this.asked) {
      if (e.at >= limit) break;
      this.asked.delete(k);
    }
  }
}
