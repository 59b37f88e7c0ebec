/**
 * Secret → mappings. Pure and level-triggered: `upsert` of an object already held
 * (a replayed ADDED after a watch reconnect) changes nothing, and `replaceAll` from
 * a full relist repairs deletes the watch missed. Lookups cost one hash probe per
 * reading of the event's secret id, whatever the number of mappings.
 */
import { indexNames, secretRefsMatch, withinScope, type SecretRef, type SecretScope } from '../secrets/secretId';
import type { Mapping } from './model';

export class MappingIndex {
  private readonly byKey = new Map<string, Mapping>();
  private readonly byName = new Map<string, Set<string>>();

  /** `scope`: where a secret named by bare name lives (default: anywhere). */
  constructor(private readonly scope: SecretScope = { accounts: [], regions: [] }) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Mapping | undefined {
    return this.byKey.get(key);
  }

  all(): Mapping[] {
    return [...this.byKey.values()];
  }

  /** Returns true when the index changed. */
  upsert(mapping: Mapping): boolean {
    const old = this.byKey.get(mapping.key);
    if (old && sameMapping(old, mapping)) return false;
    if (old) this.unlink(old);
    this.byKey.set(mapping.key, mapping);
    for (const name of indexNames(mapping.secret)) {
      let keys = this.byName.get(name);
      if (!keys) this.byName.set(name, (keys = new Set()));
      keys.add(mapping.key);
    }
    return true;
  }

  /** Returns true when the key was present. */
  remove(key: string): boolean {
    const old = this.byKey.get(key);
    if (!old) return false;
    this.unlink(old);
    this.byKey.delete(key);
    return true;
  }

  /** Makes the index hold exactly `mappings`; returns the keys that were dropped. */
  replaceAll(mappings: readonly Mapping[]): string[] {
    const keep = new Set(mappings.map((m) => m.key));
    const dropped = [...this.byKey.keys()].filter((k) => !keep.has(k));
    for (const k of dropped) this.remove(k);
    for (const m of mappings) this.upsert(m);
    return dropped;
  }

  /** Mappings whose secret is `secret`, in key order (deterministic plans). */
  lookup(secret: SecretRef): Mapping[] {
    const keys = new Set<string>();
    for (const name of indexNames(secret)) for (const k of this.byName.get(name) ?? []) keys.add(k);
    return [...keys]
      .sort()
      .map((k) => this.byKey.get(k)!)
      .filter((m) => secretRefsMatch(m.secret, secret) && withinScope(m.secret, secret, this.scope));
  }

  /**
   * Of `found` (what lookup() gave for a secret as an event named it), those `secret` still
   * names, now that it is known exactly (DescribeSecret's ARN): an ambiguous id then matches
   * precisely, without a second lookup.
   */
  narrow<M extends Pick<Mapping, 'secret'>>(found: readonly M[], secret: SecretRef): M[] {
    return found.filter((m) => secretRefsMatch(m.secret, secret) && withinScope(m.secret, secret, this.scope));
  }

  private unlink(mapping: Mapping): void {
    for (const name of indexNames(mapping.secret)) {
      const keys = this.byName.get(name);
      keys?.delete(mapping.key);
      if (keys?.size === 0) this.byName.delete(name);
    }
  }
}

function sameMapping(a: Mapping, b: Mapping): boolean {
  return a.uid === b.uid && a.generation === b.generation && JSON.stringify(a) === JSON.stringify(b);
}
