/**
 * Settling many secrets' AWSCURRENT versions with ListSecrets pages instead of one
 * DescribeSecret each (drift recovery). The plan and the matching are pure; the
 * SecretListing class is the shell that calls AWS and remembers, across passes,
 * what it learned (the account's size, a denied ListSecrets).
 */
import { errorMessage, type Logger } from '../log';
import type { SecretDescription, SecretLister } from './describer';
import { indexNames, resolvedSecretRef, secretRefsMatch, type SecretRef } from './secretId';

/** ListSecrets API reference: a Filter holds at most 10 Values; a page at most 100 secrets. */
export const NAME_FILTER_VALUES_MAX = 10;
export const PAGE_SIZE_MAX = 100;
/** After an AccessDenied, how long drift keeps to DescribeSecret before trying ListSecrets again. */
export const LIST_DENIED_RETRY_MS = 60 * 60 * 1000;

/** One listing: secrets whose name starts with one of `names` (AWS: prefix match, case-sensitive), or every secret. */
export type ListingRequest = { readonly names: readonly string[] } | 'all';

export interface ListingPlan {
  /** The ListSecrets listings to page through (none when nothing is listable). */
  readonly listings: readonly ListingRequest[];
  /** Raw ids a listing of our own account cannot return: DescribeSecret settles them. */
  readonly describe: readonly string[];
}

/**
 * Which listings settle `refs` in the fewest calls. Refs naming another account (or
 * partition) by ARN are described instead. Name filters cost at least one call per 10
 * names (after dropping names another name is a prefix of); the whole account costs one
 * call per 100 secrets it holds, which is known only after it has been listed once
 * (`accountSecrets`); until then the mapped names are the lower bound. The cheaper lower
 * bound wins; on a tie name filters, whose cost does not grow with the account.
 */
export function planListing(refs: readonly SecretRef[], own: { readonly account?: string; readonly partition?: string }, accountSecrets?: number): ListingPlan {
  const ours = (r: SecretRef) => (!r.account || !own.account || r.account === own.account) && (!r.partition || !own.partition || r.partition === own.partition);
  const listable = refs.filter(ours);
  const describe = [...new Set(refs.filter((r) => !ours(r)).map((r) => r.raw))];
  const prefixes = coveringPrefixes(listable.flatMap(indexNames));
  if (prefixes.length === 0) return { listings: [], describe };
  const filteredCalls = Math.ceil(prefixes.length / NAME_FILTER_VALUES_MAX);
  const wholeCalls = Math.max(1, Math.ceil(Math.max(accountSecrets ?? 0, new Set(listable.flatMap(indexNames)).size) / PAGE_SIZE_MAX));
  if (wholeCalls < filteredCalls) return { listings: ['all'], describe };
  const listings: ListingRequest[] = [];
  for (let i = 0; i < prefixes.length; i += NAME_FILTER_VALUES_MAX) listings.push({ names: prefixes.slice(i, i + NAME_FILTER_VALUES_MAX) });
  return { listings, describe };
}

/** The fewest names whose prefix filters return every name given (`app` covers `app-1`). Sorted. */
export function coveringPrefixes(names: readonly string[]): string[] {
  const kept: string[] = [];
  // Sorted, a name's prefixes come before it and everything between them shares the prefix.
  for (const n of [...new Set(names)].sort()) if (kept.length === 0 || !n.startsWith(kept[kept.length - 1])) kept.push(n);
  return kept;
}

/**
 * Which listed secret each ref names: by exact identity (a prefix filter returns other
 * secrets too: they match nothing). A ref matched by none (not listed: deleted, another
 * account) or by more than one (an ARN that reads both as `app`'s full ARN and as the
 * partial ARN of `app-abcdef`, both existing) is left out: DescribeSecret decides it as it
 * does for an event. `listed` must hold every secret of the account DescribeSecret could
 * return for these refs (scheduled for deletion included), or a ref with one matching
 * reading listed could be taken for the other secret.
 */
export function settleFromListing(refs: readonly SecretRef[], listed: readonly SecretDescription[]): Map<string, SecretDescription> {
  const byName = new Map<string, SecretDescription[]>();
  for (const d of listed) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
  const settled = new Map<string, SecretDescription>();
  for (const ref of refs) {
    const candidates = [...new Set(indexNames(ref).flatMap((n) => byName.get(n) ?? []))];
    const matches = candidates.filter((d) => secretRefsMatch(ref, resolvedSecretRef(d.arn, d.name)));
    if (matches.length === 1) settled.set(ref.raw, matches[0]);
  }
  return settled;
}

export function isAccessDenied(err: unknown): boolean {
  return (err as { name?: unknown } | undefined)?.name === 'AccessDeniedException';
}

/**
 * The shell: runs a plan's listings page by page (each page a call with its own deadline
 * in the client, and the pass's signal), and falls back to nothing listed (so every ref
 * is described) when ListSecrets fails. A denied ListSecrets is logged once and not
 * tried again for LIST_DENIED_RETRY_MS.
 */
export class SecretListing {
  private accountSecrets?: number;
  private deniedAt?: number;

  constructor(
    private readonly lister: SecretLister,
    private readonly own: { readonly account?: string; readonly partition?: string },
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The refs' descriptions that ListSecrets settled (raw id → description); the caller describes the rest. */
  async settle(refs: readonly SecretRef[], signal?: AbortSignal): Promise<Map<string, SecretDescription>> {
    if (this.deniedAt !== undefined && this.now() - this.deniedAt < LIST_DENIED_RETRY_MS) return new Map();
    const plan = planListing(refs, this.own, this.accountSecrets);
    const listed: SecretDescription[] = [];
    try {
      for (const l of plan.listings) {
        const names = l === 'all' ? undefined : l.names;
        let token: string | undefined;
        let count = 0;
        do {
          if (signal?.aborted) return new Map();
          const page = await this.lister.listPage(names, token, signal);
          listed.push(...page.secrets);
          count += page.secrets.length;
          token = page.nextToken;
        } while (token);
        if (l === 'all') this.accountSecrets = count;
      }
    } catch (err) {
      if (signal?.aborted) return new Map();
      if (!isAccessDenied(err)) {
        this.log.warn('drift check: ListSecrets failed; this pass describes each secret', { error: errorMessage(err) });
        return new Map();
      }
      if (this.deniedAt === undefined) {
        this.log.warn('drift check: secretsmanager:ListSecrets is denied; drift describes each secret (DescribeSecret) until it is granted', { error: errorMessage(err), retryInMinutes: LIST_DENIED_RETRY_MS / 60_000 });
      }
      this.deniedAt = this.now();
      return new Map();
    }
    if (this.deniedAt !== undefined) this.log.info('drift check: ListSecrets is allowed again');
    this.deniedAt = undefined;
    return settleFromListing(refs.filter((r) => !plan.describe.includes(r.raw)), listed);
  }
}
