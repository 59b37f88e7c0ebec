/**
 * An HTTP proxy in front of moto's Secrets Manager that can hold the calls that read
 * chosen secrets (DescribeSecret by SecretId, ListSecrets whose name filter covers one,
 * or that lists every secret) and release them together: how a test makes two code paths
 * of the operator (an SQS event and a drift pass) reach the same secret at the same
 * instant, rather than hoping a timer lines up. A held call is answered from the state
 * at its release.
 */
import { startForwardingProxy } from '../../support/forward';

export interface DescribeGate {
  /** Use as AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  readonly url: string;
  /** The SecretId of every DescribeSecret, in order of arrival. */
  readonly describes: { secretId: string; at: number }[];
  /** The name filter of every ListSecrets (empty: every secret), in order of arrival. */
  readonly lists: { names: string[]; at: number }[];
  /**
   * From now on, holds every call that reads one of `ids`; releases them all at once when
   * `ready(held)` says so, or `timeoutMs` after this call, and then stops holding.
   * Resolves to the calls held (a DescribeSecret as its SecretId, a ListSecrets as
   * `listing(names)`) and whether `ready` was met.
   */
  hold(ids: readonly string[], ready: (held: readonly string[]) => boolean, timeoutMs: number): Promise<{ held: string[]; met: boolean }>;
  close(): Promise<void>;
}

/** How a held ListSecrets appears in `held`. */
export const listing = (names: readonly string[]): string => `ListSecrets(${names.join(',') || '*'})`;
export const isListing = (held: string): boolean => held.startsWith('ListSecrets(');
/** Whether a ListSecrets with this name filter returns the secret `id` (a name or ARN): AWS's prefix match. */
export function listingCovers(names: readonly string[], id: string): boolean {
  const name = id.includes(':secret:') ? id.slice(id.indexOf(':secret:') + ':secret:'.length) : id;
  return names.length === 0 || names.some((n) => name.startsWith(n));
}

export async function startDescribeGate(upstream: string): Promise<DescribeGate> {
  const describes: { secretId: string; at: number }[] = [];
  const lists: { names: string[]; at: number }[] = [];
  let gate: { ids: Set<string>; held: { id: string; go: () => void }[]; consider: () => void } | undefined;

  const proxy = await startForwardingProxy((call, forward) => {
    const isDescribe = call.target.endsWith('.DescribeSecret');
    if (!isDescribe && !call.target.endsWith('.ListSecrets')) return forward(upstream);
    const input = call.input as { SecretId?: unknown; Filters?: { Key?: unknown; Values?: unknown }[] };
    let id: string;
    let reads: (wanted: string) => boolean;
    if (isDescribe) {
      const secretId = String(input.SecretId ?? '');
      describes.push({ secretId, at: Date.now() });
      id = secretId;
      reads = (wanted) => wanted === secretId;
    } else {
      const names = (Array.isArray(input.Filters) ? input.Filters : []).filter((f) => f.Key === 'name').flatMap((f) => (Array.isArray(f.Values) ? f.Values.map(String) : []));
      lists.push({ names, at: Date.now() });
      id = listing(names);
      reads = (wanted) => listingCovers(names, wanted);
    }
    if (!gate || ![...gate.ids].some(reads)) return forward(upstream);
    const g = gate;
    // A held call is forwarded at its release, so it is answered from the state then.
    return new Promise<void>((go) => {
      g.held.push({ id, go });
      g.consider();
    }).then(() => forward(upstream));
  });
  return {
    url: proxy.url,
    describes,
    lists,
    hold(ids, ready, timeoutMs) {
      return new Promise((resolve) => {
        const g = {
          ids: new Set(ids),
          held: [] as { id: string; go: () => void }[],
          consider: () => {
            if (ready(g.held.map((h) => h.id))) release(true);
          },
        };
        const timer = setTimeout(() => release(false), timeoutMs);
        const release = (met: boolean) => {
          clearTimeout(timer);
          if (gate !== g) return;
          gate = undefined;
          for (const h of g.held) h.go();
          resolve({ held: g.held.map((h) => h.id), met });
        };
        gate = g;
      });
    },
    close: () => proxy.close(),
  };
}
