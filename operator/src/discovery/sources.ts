/**
 * Lists what discovery reads, for the rotation and for the discovery pass: ExternalSecrets
 * with the SecretStores and ClusterSecretStores they go through, and SecretProviderClasses,
 * in the watched namespaces (or the cluster). One listing is shared for a moment
 * (`maxAgeMs`) by every change that asks, so a burst costs a few lists, and a change always
 * sees what was there when it arrived, give or take that moment. A kind whose CRD is not
 * installed lists as none (said once in the log); any other failure is thrown: the change
 * is retried rather than taken as naming nothing. Never a Kubernetes Secret.
 */
import type * as k8s from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../core/log';
import { ESO_GROUP, ESO_PLURAL, ESO_VERSIONS, SPC_API, readExternalSecret, readProviderClass, readSecretStore, storeKey, type DiscoveredSource, type StoreInfo } from './model';

export interface SourcesOptions {
  /** Reads only; with deadlines and the shared limiter (main.ts). */
  readonly api: Pick<k8s.CustomObjectsApi, 'listClusterCustomObject' | 'listNamespacedCustomObject'>;
  /** Empty: the whole cluster. */
  readonly namespaces: readonly string[];
  readonly externalSecrets: boolean;
  readonly providerClasses: boolean;
  readonly log: Logger;
  readonly maxAgeMs: number;
  readonly now?: () => number;
}

interface Listed {
  readonly items: unknown[];
  /** The version that answered; undefined when none is served. */
  readonly version?: string;
}

export class DiscoveredSources {
  private last?: { at: number; sources: Promise<DiscoveredSource[]> };
  private readonly absent = new Set<string>();

  constructor(private readonly opts: SourcesOptions) {}

  /** Every source found, shared with the other callers of the last `maxAgeMs`. */
  snapshot(): Promise<DiscoveredSource[]> {
    const now = (this.opts.now ?? Date.now)();
    if (this.last && now - this.last.at < this.opts.maxAgeMs) return this.last.sources;
    const sources = this.list();
    this.last = { at: now, sources };
    // A failed listing is not shared beyond the callers already waiting on it.
    sources.catch(() => {
      if (this.last?.sources === sources) this.last = undefined;
    });
    return sources;
  }

  private async list(): Promise<DiscoveredSource[]> {
    const [es, spc] = await Promise.all([this.opts.externalSecrets ? this.externalSecrets() : [], this.opts.providerClasses ? this.providerClasses() : []]);
    return [...es, ...spc];
  }

  private async externalSecrets(): Promise<DiscoveredSource[]> {
    const [externalSecrets, secretStores, clusterStores] = await Promise.all([
      this.listAny('ExternalSecrets', ESO_GROUP, ESO_VERSIONS, ESO_PLURAL, true),
      this.listAny('SecretStores', ESO_GROUP, ESO_VERSIONS, 'secretstores', true),
      this.listAny('ClusterSecretStores', ESO_GROUP, ESO_VERSIONS, 'clustersecretstores', false),
    ]);
    const stores = new Map<string, StoreInfo>();
    for (const s of secretStores.items) stores.set(storeKey('SecretStore', nameOf(s), namespaceOf(s)), readSecretStore(s));
    for (const s of clusterStores.items) stores.set(storeKey('ClusterSecretStore', nameOf(s), undefined), readSecretStore(s));
    const apiVersion = `${ESO_GROUP}/${externalSecrets.version ?? ESO_VERSIONS[0]}`;
    return externalSecrets.items.map((es) => readExternalSecret(es, apiVersion, (kind, name, namespace) => stores.get(storeKey(kind, name, namespace))));
  }

  private async providerClasses(): Promise<DiscoveredSource[]> {
    const listed = await this.listAny('SecretProviderClasses', SPC_API.group, [SPC_API.version], SPC_API.plural, true);
    return listed.items.flatMap((o) => readProviderClass(o) ?? []);
  }

  /** Lists `plural` at the first of `versions` served, in each watched namespace (or the cluster). */
  private async listAny(what: string, group: string, versions: readonly string[], plural: string, namespaced: boolean): Promise<Listed> {
    for (const version of versions) {
      try {
        const items = await this.listAt(group, version, plural, namespaced);
        if (this.absent.delete(what)) this.opts.log.info(`${what} are served again; discovery reads them`, { api: `${group}/${version}` });
        return { items, version };
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw new Error(`listing ${what} (${group}/${version}) failed: ${errorMessage(err)}`);
      }
    }
    if (!this.absent.has(what)) {
      this.absent.add(what);
      this.opts.log.warn(`${what} are not served (their CRD is not installed): discovery finds none`, { api: `${group}/${versions.join('|')}` });
    }
    return { items: [] };
  }

  private async listAt(group: string, version: string, plural: string, namespaced: boolean): Promise<unknown[]> {
    const itemsOf = (res: { body: object }) => (res.body as { items?: unknown[] }).items ?? [];
    const { api, namespaces } = this.opts;
    if (!namespaced || namespaces.length === 0) return itemsOf(await api.listClusterCustomObject(group, version, plural));
    return (await Promise.all(namespaces.map(async (ns) => itemsOf(await api.listNamespacedCustomObject(group, version, ns, plural))))).flat();
  }
}

const metaOf = (o: unknown) => ((o as { metadata?: { name?: string; namespace?: string } }).metadata ?? {});
const nameOf = (o: unknown) => metaOf(o).name ?? '';
const namespaceOf = (o: unknown) => metaOf(o).namespace;
