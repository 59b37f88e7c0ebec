/**
 * Lookup: which mappings name a change's secret. Once per change: the index answers at
 * once (so the workloads can be listed while the change settles), discovery's sources
 * when they are listed. After the change settles, the index narrows what was found to
 * what the settled secret names (MappingIndex.narrow): no second lookup.
 */
import type { SecretChange } from '../events/interpret';
import { errorMessage, type Logger } from '../core/log';
import type { MappingIndex } from '../mappings/mappingIndex';
import type { Mapping } from '../mappings/model';
import type { DiscoveryPort } from '../mappings/ports';
import type { Metrics } from '../core/metrics';

export interface LookupOptions {
  readonly index: MappingIndex;
  readonly discovery?: DiscoveryPort;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface Named {
  /** The index's mappings. */
  readonly mapped: readonly Mapping[];
  /**
   * Those, then the sources discovery found (mappings first: a workload both reach is
   * reported under its mapping). Undefined when discovery could not list them: the change
   * is retried rather than taken as naming nothing.
   */
  readonly all: Promise<readonly Mapping[] | undefined>;
}

export function lookUp(c: { readonly changeId: string; readonly change: SecretChange }, opts: LookupOptions): Named {
  const { index, discovery, metrics, log } = opts;
  const t0 = process.hrtime.bigint();
  const mapped = index.lookup(c.change.secret);
  metrics.matchSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
  if (!discovery) return { mapped, all: Promise.resolve(mapped) };
  const all = discovery.lookup(c.change.secret).then(
    (discovered) => [...mapped, ...discovered],
    (err: unknown) => {
      log.error('listing discovered ExternalSecrets / SecretProviderClasses failed; message left for redelivery', { messageId: c.changeId, eventId: c.change.eventId, secret: c.change.secret.raw, error: errorMessage(err) });
      return undefined;
    },
  );
  return { mapped, all };
}

/** Counts and logs a change nothing names: acknowledged, nothing to do. */
export function noneNamed(c: { readonly changeId: string; readonly change: SecretChange; readonly secretKey?: string; readonly version?: string }, opts: LookupOptions): void {
  opts.metrics.messagesIgnored.inc({ reason: 'NoMapping' });
  opts.log.info(opts.discovery ? 'no mapping, ExternalSecret or SecretProviderClass names this secret; acknowledged' : 'no mapping names this secret; acknowledged', {
    messageId: c.changeId,
    eventId: c.change.eventId,
    secret: c.secretKey ?? c.change.secret.raw,
    version: c.version,
  });
}
