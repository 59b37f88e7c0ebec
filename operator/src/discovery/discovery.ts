/**
 * Discovery as the rotation sees it (mappings/ports.ts DiscoveryPort): the sources naming
 * a changed secret, and, for an ExternalSecret, ESO's sync before its consumers roll.
 */
import type { Mapping } from '../mappings/model';
import type { DiscoveryPort } from '../mappings/ports';
import type { SecretRef, SecretScope } from '../secrets/secretId';
import type { WorkloadKind } from '../workloads/workload';
import type { EsoRefresher } from './esoRefresh';
import { matchSources } from './model';
import type { DiscoveredSources } from './sources';

export class Discovery implements DiscoveryPort {
  constructor(private readonly opts: { sources: DiscoveredSources; refresher: EsoRefresher; scope: SecretScope; kinds: readonly WorkloadKind[] }) {}

  async lookup(secret: SecretRef): Promise<readonly Mapping[]> {
    return matchSources(await this.opts.sources.snapshot(), secret, this.opts.scope, this.opts.kinds);
  }

  async prepare(mapping: Mapping, signal?: AbortSignal): Promise<void> {
    // A SecretProviderClass needs nothing: a new pod mounts the current value.
    if (mapping.origin?.source === 'externalsecret') await this.opts.refresher.refresh(mapping, signal);
  }
}
