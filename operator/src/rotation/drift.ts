/**
 * Drift recovery: CloudTrail-delivered events are best effort and a queue can be
 * purged, so on an interval each mapped secret's AWSCURRENT version (DescribeSecret)
 * is compared with what its mappings last applied. A difference becomes an ordinary
 * change, planned and executed like one from SQS (already-current workloads skip).
 */
import { errorMessage, type Logger } from '../log';
import type { MappingIndex } from '../mappings/index';
import type { Mapping } from '../mappings/model';
import type { Metrics } from '../metrics';
import type { SecretDescriber } from '../secrets/describer';
import { canonicalSecretKey, resolvedSecretRef } from '../secrets/secretId';
import type { ResolvedChange } from './plan';

export interface DriftOptions {
  readonly index: MappingIndex;
  readonly describer: SecretDescriber;
  readonly rotate: (changes: readonly ResolvedChange[]) => Promise<Map<string, boolean>>;
  readonly recordBaseline: (mapping: Mapping, version: string) => Promise<boolean>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly region: string;
  readonly now?: () => Date;
}

/** Which mappings are behind `current` and which still need a baseline. Pure. */
export function driftOf(mappings: readonly Mapping[], current: string): { behind: Mapping[]; unrecorded: Mapping[] } {
  return {
    behind: mappings.filter((m) => m.appliedVersion !== undefined && m.appliedVersion !== current),
    unrecorded: mappings.filter((m) => m.appliedVersion === undefined),
  };
}

export async function checkDrift(o: DriftOptions): Promise<void> {
  const bySecret = new Map<string, Mapping[]>();
  for (const m of o.index.all()) {
    if ((m.secret.region ?? o.region) !== o.region) continue;
    const list = bySecret.get(m.secret.raw) ?? [];
    list.push(m);
    bySecret.set(m.secret.raw, list);
  }
  for (const [secretId, candidates] of bySecret) {
    let d;
    try {
      d = await o.describer.describe(secretId);
    } catch (err) {
      o.log.warn('drift check: DescribeSecret failed', { secret: secretId, error: errorMessage(err) });
      continue;
    }
    if (!d.currentVersion) continue;
    const secret = resolvedSecretRef(d.arn, d.name);
    // Re-check against the exact identity AWS returned (ambiguous ARNs).
    const mappings = candidates.filter((m) => o.index.lookup(secret).some((x) => x.key === m.key));
    const { behind, unrecorded } = driftOf(mappings, d.currentVersion);
    for (const m of unrecorded) await o.recordBaseline(m, d.currentVersion);
    if (behind.length === 0) continue;
    o.metrics.driftDetected.inc();
    const eventId = `drift:${d.name}:${d.currentVersion}`;
    o.log.warn('drift detected: secret is on a newer version than applied', { eventId, secret: d.arn, version: d.currentVersion, mapping: behind.map((m) => m.key).join(',') });
    await o.rotate([
      {
        messageId: eventId,
        change: { kind: 'DriftDetected', eventId, eventTime: (o.now?.() ?? new Date()).toISOString(), secret, versionId: d.currentVersion },
        secretKey: canonicalSecretKey(secret),
        version: d.currentVersion,
      },
    ]);
  }
}
