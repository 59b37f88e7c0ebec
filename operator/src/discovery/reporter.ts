/**
 * Says what discovery found, where `kubectl` shows it: once per object generation, a
 * `Discovered` Event on each ExternalSecret / SecretProviderClass that names an AWS
 * Secrets Manager secret (which secret, how its consumers are found), and an
 * `UnsupportedReference` Warning for what it cannot follow (`dataFrom.find`, a missing
 * store, refreshInterval 0); the discovered_sources gauge counts them by source. Run by
 * the leader (Events are writes) at start and every 15 s (main.ts), one pass at a time:
 * with thousands of sources a pass can outlast the interval, and a second pass beside it
 * would record again every Event the first has not finished writing.
 */
import { errorMessage, type Logger } from '../core/log';
import type { Metrics } from '../core/metrics';
import type { EventPort } from '../mappings/ports';
import { describeSource, type DiscoveredSource, type DiscoverySource } from './model';
import type { DiscoveredSources } from './sources';

export class DiscoveryReporter {
  /** source key → `uid:generation` already reported. */
  private readonly reported = new Map<string, string>();
  /** The pass under way: a pass asked for meanwhile joins it. */
  private running?: Promise<void>;

  constructor(private readonly opts: { sources: DiscoveredSources; events: EventPort; metrics: Pick<Metrics, 'discoveredSources'>; log: Logger; kinds: readonly DiscoverySource[] }) {}

  pass(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    const { sources, metrics, log } = this.opts;
    let found: DiscoveredSource[];
    try {
      found = await sources.snapshot();
    } catch (err) {
      log.warn('discovery pass failed; retried at the next one', { error: errorMessage(err) });
      return;
    }
    for (const kind of this.opts.kinds) metrics.discoveredSources.set({ source: kind }, found.filter((s) => s.origin.source === kind && s.secrets.length > 0).length);
    const present = new Set(found.map((s) => s.key));
    for (const key of [...this.reported.keys()]) if (!present.has(key)) this.reported.delete(key);
    await Promise.all(found.map((s) => this.report(s)));
  }

  private async report(s: DiscoveredSource): Promise<void> {
    const stamp = `${s.origin.object.uid ?? ''}:${s.generation}`;
    if (this.reported.get(s.key) === stamp) return;
    const problems = [...s.unsupported, ...(s.origin.refresh && !s.origin.refresh.ok ? [s.origin.refresh.reason] : [])];
    if (s.secrets.length === 0 && problems.length === 0) {
      this.reported.set(s.key, stamp);
      return; // another provider's object: nothing to say
    }
    try {
      if (s.secrets.length > 0) await this.opts.events.record(s.origin.object, 'Normal', 'Discovered', describeSource(s));
      if (problems.length > 0) await this.opts.events.record(s.origin.object, 'Warning', 'UnsupportedReference', problems.join('; '));
      this.reported.set(s.key, stamp);
      this.opts.log.info('discovered', { mapping: s.key, secret: s.secrets.map((n) => n.ref.raw).join(','), unsupported: problems.length });
    } catch (err) {
      this.opts.log.warn('recording the Discovered Event failed; retried at the next pass', { mapping: s.key, error: errorMessage(err) });
    }
  }
}
