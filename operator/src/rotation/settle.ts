/** Resolve: which version a change is for. Pure; the shell reads DescribeSecret (batch.ts). */
import type { SecretChange } from '../events/interpret';
import { canonicalSecretKey, resolvedSecretRef } from '../secrets/secretId';
import { readIsNewer, type VersionRead } from '../secrets/versionOrder';
import type { ResolvedChange } from './plan';

/**
 * Settles an admitted change: with Secrets Manager's answer, its exact identity (so
 * ambiguous ids match precisely) and the AWSCURRENT version, unless the answer is older
 * than the event (DescribeSecret is briefly stale after a write: secrets/versionOrder.ts);
 * without one, the event's own version. Undefined when neither names a version
 * (RotationSucceeded without an answer): a made-up version would restart again when the
 * same version's other event arrives.
 */
export function settleChange(
  admitted: { readonly changeId: string; readonly change: SecretChange; readonly sentAt?: number },
  described: ({ readonly arn: string; readonly name: string } & VersionRead) | undefined,
): ResolvedChange | undefined {
  const secret = described ? resolvedSecretRef(described.arn, described.name) : admitted.change.secret;
  const { versionId, eventTime } = admitted.change;
  const answered = described?.currentVersion && (!versionId || readIsNewer(described, { version: versionId, ...(eventTime ? { since: eventTime } : {}) }, 'newer')) ? described.currentVersion : undefined;
  const version = answered ?? versionId;
  if (!version) return undefined;
  return { changeId: admitted.changeId, change: { ...admitted.change, secret }, secretKey: canonicalSecretKey(secret), version, ...(admitted.sentAt !== undefined ? { sentAt: admitted.sentAt } : {}) };
}
