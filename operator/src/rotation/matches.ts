/**
 * List: each change's mappings with their workloads (a Match), read through the batch's
 * reads (batch.ts). Which workloads a change may not roll yet, and which mappings so end
 * incomplete, is decided here.
 */
import { errorMessage, type Logger } from '../core/log';
import type { Mapping } from '../mappings/model';
import { workloadId, type WorkloadState } from '../workloads/workload';
import { NotPrepared, type BatchReads } from './batch';
import { moves, type Match, type ResolvedChange } from './plan';
import type { Incomplete } from './summary';

/** A mapping some of whose workloads a batch did not consider, and why. */
export type IncompleteMapping = Incomplete & { readonly mapping: Mapping; readonly change: ResolvedChange };

export interface Listed {
  readonly matches: Match[];
  /** Change ids some of whose mappings' workloads were not all listed (or were held back): not done. */
  readonly unlisted: string[];
  readonly incomplete: IncompleteMapping[];
}

/**
 * Lists every mapping's workloads once per batch; a failed listing leaves its changes
 * undone. The consumers of a source that could not be prepared are held back from every
 * change of the batch (every workload of its namespace when its consumers could not be
 * listed), and those changes are left undone too (retried together). A mapping that
 * lost workloads either way is `incomplete`: reported as such, never as rotated.
 */
export async function listMatches(
  found: readonly { change: ResolvedChange; mappings: readonly Mapping[] }[],
  reads: BatchReads,
  log: Logger,
  signal?: AbortSignal,
): Promise<Listed> {
  // planRestarts leaves alone a mapping that already records the change's version (a
  // burst's later messages for a secret, a redelivery) or one a drift change does not
  // replace: its workloads need no listing.
  const atVersion = (m: Mapping, c: ResolvedChange) => !moves(m, c);
  reads.expect(found.flatMap(({ change, mappings }) => mappings.filter((m) => !atVersion(m, change))));
  for (const { change, mappings } of found) for (const m of mappings) if (!atVersion(m, change)) void reads.listing(m, signal);
  await Promise.allSettled(found.flatMap(({ change, mappings }) => mappings.filter((m) => !atVersion(m, change)).map((m) => reads.listing(m, signal))));
  const listed: Match[] = [];
  const unlisted: string[] = [];
  const incomplete: IncompleteMapping[] = [];
  const held = new Set<string>();
  const heldNamespaces = new Set<string>();
  for (const { change, mappings } of found) {
    for (const mapping of mappings) {
      if (atVersion(mapping, change)) {
        listed.push({ change, mapping, workloads: [] });
        continue;
      }
      try {
        listed.push({ change, mapping, workloads: await reads.listing(mapping, signal) });
      } catch (err) {
        unlisted.push(change.changeId);
        const fields = { messageId: change.changeId, eventId: change.change.eventId, secret: change.secretKey, mapping: mapping.key, error: errorMessage(err) };
        if (err instanceof NotPrepared) {
          // The source itself is reported by discovery (an ExternalSecretNotSynced Event).
          if (err.consumers) {
            for (const w of err.consumers) held.add(workloadId(w));
            log.warn('not rolling the consumers of a source that is not up to date; message left for redelivery', { ...fields, workloads: err.consumers.map(workloadId).join(',') });
          } else {
            heldNamespaces.add(err.namespace);
            log.warn('not rolling any workload of the namespace: a source in it is not up to date and its consumers could not be listed; message left for redelivery', { ...fields, namespace: err.namespace });
          }
        } else {
          incomplete.push({ mapping, change, reason: 'ListFailed', detail: `listing its workloads failed: ${errorMessage(err)}` });
          log.error('listing workloads failed; message left for redelivery', fields);
        }
      }
    }
  }
  if (held.size === 0 && heldNamespaces.size === 0) return { matches: listed, unlisted, incomplete };
  const isHeld = (w: WorkloadState) => held.has(workloadId(w)) || heldNamespaces.has(w.namespace);
  const matches = listed.map((m) => {
    const away = m.workloads.filter(isHeld);
    if (away.length === 0) return m;
    unlisted.push(m.change.changeId);
    const why = heldNamespaces.has(m.mapping.namespace) ? 'an ExternalSecret of the namespace is not synced and who reads it could not be listed' : 'ESO has not synced the Secret they read';
    incomplete.push({ mapping: m.mapping, change: m.change, reason: 'WaitingForExternalSecret', detail: `${away.map((w) => `${w.kind}/${w.name}`).join(', ')} held back: ${why}` });
    return { ...m, workloads: m.workloads.filter((w) => !isHeld(w)) };
  });
  return { matches, unlisted, incomplete };
}
