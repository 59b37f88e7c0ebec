/**
 * Writes mapping status as merge patches, one write at a time per mapping, each built
 * on the previous one's result. Every write is checked by the fence right before it is
 * sent (only the leader's current term writes) and bounded by the shared limiter.
 */
import type { Fence } from '../leader/fence';
import type { Limiter } from '../kube/limit';
import type { MappingCache } from './cache';
import type { SecretsRotationMapping, SecretsRotationMappingStatus, SecretsRotationMappingStatusPatch } from './model';

/** Sends one status merge patch; the new resourceVersion, or undefined when it was not written. */
export type SendStatusPatch = (obj: SecretsRotationMapping, patch: SecretsRotationMappingStatusPatch) => Promise<{ resourceVersion: string } | null | undefined>;

export class StatusWriter {
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly opts: {
      readonly cache: MappingCache;
      readonly send: SendStatusPatch;
      readonly limiter?: Limiter;
      readonly fence?: Fence;
    },
  ) {}

  /** `build` gets the status as last seen or written and returns what to change (undefined: nothing). */
  patchStatus(key: string, build: (current: SecretsRotationMappingStatus) => SecretsRotationMappingStatusPatch | undefined): Promise<boolean> {
    const { cache, send, limiter, fence } = this.opts;
    const prior = this.writes.get(key) ?? Promise.resolve();
    const next = prior.then(async () => {
      const obj = cache.object(key);
      if (!obj) return false;
      const patch = build(obj.status ?? {});
      if (!patch) return true;
      const write = () => {
        fence?.check();
        return send(obj, patch);
      };
      const res = await (limiter ? limiter.run(write) : write());
      if (!res) return false;
      cache.wrote(key, patch, res.resourceVersion);
      return true;
    });
    const settled = next.catch(() => false);
    this.writes.set(key, settled);
    void settled.then(() => {
      if (this.writes.get(key) === settled) this.writes.delete(key);
    });
    return settled;
  }
}
