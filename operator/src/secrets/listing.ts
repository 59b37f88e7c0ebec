/**
 * Settling many secrets' AWSCURRENT versions with ListSecrets pages instead of one
 * DescribeSecret each (drift recovery). The plan and the matching are pure; the
 * SecretListing class is the shell that calls AWS and remembers, across passes,
 * what it learned (the names in the account, a denied ListSecrets).
 */
import { errorMessage, type Logger } from '../core/log';
import type { SecretDescription, SecretLister } from './describer';
import { NAME_FILTER_VALUES_MAX, PAGE_SIZE_MAX } from './limits';
import { indexNames, resolvedSecretRef, secretRefsMatch, type SecretRef } from './secretId';

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
 * partition) by ARN are described instead. The whole account costs one call per 100
 * secrets. Until the account has been listed whole once, its secrets are unknown: the
 * mapped names are filtered one by one (at least one call per 10 names) when that is no
 * more than the whole account's lower bound, the mapped names themselves. Once the names
 * of the account are known (`accountNames`, the last whole listing's), the filters may
 * also be shorter prefixes shared by many mapped names (`team/` for `team/a`, `team/b`),
 * chosen by what each would return in that listing (prefixPlan); the cheapest of the
 * filters and the whole account wins, filters on a tie, since their cost grows with the
 * mapped secrets rather than with the account.
 */
export function planListing(refs: readonly SecretRef[], own: { readonly account?: string; readonly partition?: string }, accountNames?: readonly string[]): ListingPlan {
  const ours = (r: SecretRef) => (!r.account || !own.account || r.account === own.account) && (!r.partition || !own.partition || r.partition === own.partition);
  const names = [...new Set(refs.filter(ours).flatMap(indexNames))];
  const describe = [...new Set(refs.filter((r) => !ours(r)).map((r) => r.raw))];
  if (names.length === 0) return { listings: [], describe };
  const account = accountNames ? [...new Set(accountNames)].sort() : undefined;
  // Unknown account: a call per 10 names. Known: the pages each batch returns from it.
  const cost = (batches: readonly string[][]) => (account ? batches.reduce((n, b) => n + pages(b.reduce((k, p) => k + Math.max(matching(account, p), 1), 0)), 0) : batches.length);
  const candidates = [coveringPrefixes(names), ...(account ? [prefixPlan(names, account)] : [])].map((prefixes) => {
    const batches: string[][] = [];
    for (let i = 0; i < prefixes.length; i += NAME_FILTER_VALUES_MAX) batches.push(prefixes.slice(i, i + NAME_FILTER_VALUES_MAX));
    return { batches, calls: cost(batches) };
  });
  const filtered = candidates.reduce((a, b) => (b.calls < a.calls ? b : a));
  if (pages(Math.max(account?.length ?? 0, names.length)) < filtered.calls) return { listings: ['all'], describe };
  return { listings: filtered.batches.map((b) => ({ names: b })), describe };
}

const pages = (secrets: number) => Math.max(1, Math.ceil(secrets / PAGE_SIZE_MAX));

/** How many of `sorted` start with `prefix` (binary search: they are contiguous). */
function matching(sorted: readonly string[], prefix: string): number {
  const first = (pred: (s: string) => boolean) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pred(sorted[mid])) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const from = first((s) => s >= prefix);
  return first((s) => s >= prefix && !s.startsWith(prefix)) - from;
}

/**
 * Prefixes covering every mapped name at the least estimated cost in the account `account`
 * (sorted): a filter value costs a tenth of a call, a secret it returns a hundredth. Over
 * the trie of the mapped names, each node either is a filter value itself or leaves its
 * children to be covered on their own; a mapped name must be covered by itself or a prefix.
 * A mapped name missing from `account` (created since) counts as one secret.
 */
export function prefixPlan(names: readonly string[], account: readonly string[]): string[] {
  interface Node {
    readonly prefix: string;
    readonly children: Map<string, Node>;
    mapped: number;
    terminal: boolean;
  }
  const node = (prefix: string): Node => ({ prefix, children: new Map(), mapped: 0, terminal: false });
  const root = node('');
  for (const n of new Set(names)) {
    let at = root;
    for (const ch of n) {
      at.mapped++;
      let next = at.children.get(ch);
      if (!next) at.children.set(ch, (next = node(at.prefix + ch)));
      at = next;
    }
    at.mapped++;
    at.terminal = true;
  }
  const best = (n: Node): { cost: number; prefixes: string[] } => {
    const self = { cost: 0.1 + Math.max(matching(account, n.prefix), n.mapped) / 100, prefixes: [n.prefix] };
    if (n.terminal) return self;
    const split = { cost: 0, prefixes: [] as string[] };
    for (const c of n.children.values()) {
      const b = best(c);
      split.cost += b.cost;
      split.prefixes.push(...b.prefixes);
      if (split.cost > self.cost) return self;
    }
    // On a tie the longer prefixes: they return fewer of the secrets created since.
    return split;
  };
  return [...root.children.values()].flatMap((c) => best(c).prefixes).sort();
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
  // By name, then by ARN: a secret listed twice is one candidate.
  const byName = new Map<string, Map<string, SecretDescription>>();
  for (const d of listed) {
    const same = byName.get(d.name) ?? new Map<string, SecretDescription>();
    byName.set(d.name, same.set(d.arn, d));
  }
  const settled = new Map<string, SecretDescription>();
  for (const ref of refs) {
    const candidates = indexNames(ref).flatMap((n) => [...(byName.get(n)?.values() ?? [])]);
    const matches = candidates.filter((d) => secretRefsMatch(ref, resolvedSecretRef(d.arn, d.name)));
    if (matches.length === 1) settled.set(ref.raw, matches[0]);
  }
  return settled;
}

function isAccessDenied(err: unknown): boolean {
  return (err as { name?: unknown } | undefined)?.name === 'AccessDeniedException';
}

/**
 * The shell: runs a plan's listings page by page (each page a call with its own deadline
 * in the client, and the pass's signal), and falls back to nothing listed (so every ref
 * is described) when ListSecrets fails. A denied ListSecrets is logged once and not
 * tried again for LIST_DENIED_RETRY_MS.
 */
export class SecretListing {
  /** The names of the account's secrets at the last whole listing. */
  private accountNames?: string[];
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
    const plan = planListing(refs, this.own, this.accountNames);
    const listed: SecretDescription[] = [];
    try {
      for (const l of plan.listings) {
        const names = l === 'all' ? undefined : l.names;
        const from = listed.length;
        let token: string | undefined;
        do {
          if (signal?.aborted) return new Map();
          const page = await this.lister.listPage(names, token, signal);
          listed.push(...page.secrets);
          token = page.nextToken;
        } while (token);
        if (l === 'all') this.accountNames = listed.slice(from).map((d) => d.name);
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
