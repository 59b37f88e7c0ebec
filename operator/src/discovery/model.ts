/**
 * Discovery: which AWS secret an ExternalSecret or a SecretProviderClass names, and how
 * a workload consumes it. Pure. The shell (sources.ts) lists the objects; everything
 * that reads them is here, so every field and every secret-id form is unit-tested.
 *
 * A discovered source becomes a Mapping with an `origin` (mappings/model.ts): the
 * rotation plans it like any mapping, selecting the workloads of its namespace whose pod
 * template names its Secret or SecretProviderClass (`consumes`) instead of a selector.
 */
import { createHash } from 'node:crypto';
import { load as loadYaml } from 'js-yaml';
import { arr, isRecord, num, rec, str } from '../core/json';
import { GROUP } from '../core/names';
import type { Mapping } from '../mappings/model';
import { isValidSecretId, parseSecretId, secretRefsMatch, withinScope, type SecretRef, type SecretScope } from '../secrets/secretId';
import type { PodTemplateReferences } from '../workloads/references';
import type { WorkloadKind } from '../workloads/workload';
import type { ObjectRef, Origin, Refreshability } from '../core/origin';

export { ROTATION_SOURCES, type DiscoverySource, type ObjectRef, type Origin, type Refreshability, type RotationSource } from '../core/origin';

export const ESO_GROUP = 'external-secrets.io';
/** Served versions, preferred first: v1 since ESO 0.16, v1beta1 before (and beside it there). */
export const ESO_VERSIONS = ['v1', 'v1beta1'] as const;
export const ESO_PLURAL = 'externalsecrets';
export const SPC_API = { group: 'secrets-store.csi.x-k8s.io', version: 'v1', plural: 'secretproviderclasses', kind: 'SecretProviderClass' } as const;
/** The resource (plural) of a discovered source's object, for a request that names it. */
export function pluralOf(object: Pick<ObjectRef, 'kind'>): string {
  return object.kind === SPC_API.kind ? SPC_API.plural : ESO_PLURAL;
}
/** ESO's documented convention: a change of this annotation's value makes it sync at once. */
export const FORCE_SYNC_ANNOTATION = 'force-sync';

export interface NamedSecret {
  readonly ref: SecretRef;
  /** The field that names it, for Events and logs: `spec.data[0].remoteRef.key`. */
  readonly field: string;
}

export interface DiscoveredSource {
  /** `externalsecret:<namespace>/<name>` or `csi:<namespace>/<name>`: never a mapping's key. */
  readonly key: string;
  readonly generation: number;
  readonly origin: Origin;
  readonly secrets: readonly NamedSecret[];
  /** References the operator cannot follow, each a sentence (shown in a Warning Event). */
  readonly unsupported: readonly string[];
  /** Its annotations under the operator's group (its rollout's record, a person's requests), as listed; absent: none. */
  readonly annotations?: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------- SecretStores

export type StoreKind = 'SecretStore' | 'ClusterSecretStore';

export interface StoreInfo {
  /** The provider is AWS Secrets Manager (not Parameter Store, not another cloud). */
  readonly awsSecretsManager: boolean;
  readonly region?: string;
}

export function storeKey(kind: StoreKind, name: string, namespace: string | undefined): string {
  return kind === 'ClusterSecretStore' ? `ClusterSecretStore/${name}` : `SecretStore/${namespace ?? ''}/${name}`;
}

export function readSecretStore(obj: unknown): StoreInfo {
  const aws = rec(rec(rec(obj).spec).provider).aws;
  if (!isRecord(aws)) return { awsSecretsManager: false };
  // ESO's AWS provider defaults to Secrets Manager when no service is named.
  const service = str(aws.service) ?? 'SecretsManager';
  const region = str(aws.region);
  return { awsSecretsManager: service === 'SecretsManager', ...(region ? { region } : {}) };
}

// ---------------------------------------------------------------- ExternalSecrets

/**
 * The AWS secrets an ExternalSecret names: `spec.data[].remoteRef.key` and
 * `spec.dataFrom[].extract.key`, each through its own store (`sourceRef.storeRef`) or the
 * ExternalSecret's (`spec.secretStoreRef`, kind SecretStore by default), kept only where
 * that store's provider is AWS Secrets Manager; a bare name or partial ARN takes the
 * store's region. `dataFrom[].find` (by name or tags) is not followed: it is reported.
 */
export function readExternalSecret(obj: unknown, apiVersion: string, stores: (kind: StoreKind, name: string, namespace: string) => StoreInfo | undefined): DiscoveredSource {
  const meta = rec(rec(obj).metadata);
  const spec = rec(rec(obj).spec);
  const namespace = str(meta.namespace) ?? '';
  const name = str(meta.name) ?? '';
  const { secrets, unsupported, name: nameSecret } = collector();
  const defaultStore = storeRefOf(spec.secretStoreRef);
  const follow = (key: unknown, field: string, sourceRef: unknown) => {
    if (isRecord(sourceRef) && isRecord(sourceRef.generatorRef)) return; // a generator, not a store
    const storeRef = (isRecord(sourceRef) ? storeRefOf(sourceRef.storeRef) : undefined) ?? defaultStore;
    if (!storeRef) {
      unsupported.push(`${field}: no secretStoreRef`);
      return;
    }
    const store = stores(storeRef.kind, storeRef.name, namespace);
    if (!store) {
      unsupported.push(`${field}: ${storeRef.kind} ${storeRef.name} not found`);
      return;
    }
    if (!store.awsSecretsManager) return; // another provider's secret: not ours
    nameSecret(str(key), field, store.region);
  };
  arr(spec.data).forEach((d, i) => follow(rec(rec(d).remoteRef).key, `spec.data[${i}].remoteRef.key`, rec(d).sourceRef));
  arr(spec.dataFrom).forEach((d, i) => {
    const r = rec(d);
    if (isRecord(r.extract)) follow(r.extract.key, `spec.dataFrom[${i}].extract.key`, r.sourceRef);
    if (isRecord(r.find)) unsupported.push(`spec.dataFrom[${i}].find (secrets chosen by name or tags) is not supported: name the secret in spec.data or spec.dataFrom[].extract, or write a SecretsRotationMapping`);
  });
  const target = str(rec(spec.target).name) ?? name;
  return {
    key: `externalsecret:${namespace}/${name}`,
    generation: num(meta.generation) ?? 0,
    origin: {
      source: 'externalsecret',
      object: { apiVersion, kind: 'ExternalSecret', namespace, name, ...(str(meta.uid) ? { uid: str(meta.uid) } : {}) },
      consumedAs: { secret: target },
      refresh: esoRefreshability(spec),
    },
    secrets: dedupe(secrets),
    unsupported,
    annotations: ownAnnotations(meta),
  };
}

function storeRefOf(v: unknown): { kind: StoreKind; name: string } | undefined {
  const r = rec(v);
  const name = str(r.name);
  if (!name) return undefined;
  return { kind: r.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore', name };
}

/**
 * Whether ESO syncs an ExternalSecret when its force-sync annotation changes. It does
 * unless it was told to sync once (`refreshPolicy: CreatedOnce`) or never again
 * (`refreshInterval` 0 or less with the default `Periodic` policy: ESO v0.16's
 * shouldRefreshPeriodic skips every refresh when the interval is <= 0).
 * `refreshPolicy: OnChange` syncs on any change of the object, the annotation included.
 */
export function esoRefreshability(spec: unknown): Refreshability {
  const s = rec(spec);
  const policy = str(s.refreshPolicy);
  if (policy === 'CreatedOnce') return { ok: false, reason: 'refreshPolicy is CreatedOnce: ESO syncs it only when it is created' };
  if (policy === 'OnChange') return { ok: true };
  // ESO's default refreshInterval is 1h.
  const interval = s.refreshInterval === undefined ? '1h' : str(s.refreshInterval);
  if (interval !== undefined && isNonPositiveDuration(interval)) {
    return { ok: false, reason: `refreshInterval is ${interval.trim()} (0 or less): ESO ignores force-sync (set refreshPolicy: OnChange, or a refreshInterval above 0)` };
  }
  return { ok: true };
}

/** A Go duration that is 0 or negative ("0", "0s", "-1s", "-1h30m"); an unreadable one is neither. */
export function isNonPositiveDuration(d: string): boolean {
  const t = d.trim();
  if (t === '0' || t === '-0' || t === '+0') return true;
  const m = /^([-+]?)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(t);
  return m !== null && (m[1] === '-' || !/[1-9]/.test(t));
}

/**
 * ESO's name for the object a sync read, as it writes it to `status.syncedResourceVersion`
 * when the sync ends (v0.16.2, util.GetResourceVersion): `<generation>-` and the SHA3-224
 * of Go's `%+v` rendering of its annotations and labels (maps print with sorted keys).
 * `meta` is the object's metadata.
 */
export function esoResourceVersion(meta: unknown): string {
  const m = rec(meta);
  const goMap = (v: unknown) =>
    `map[${Object.entries(rec(v))
      .filter((e): e is [string, string] => typeof e[1] === 'string')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${k}:${x}`)
      .join(' ')}]`;
  return `${num(m.generation) ?? 0}-${createHash('sha3-224').update(`{annotations:${goMap(m.annotations)} labels:${goMap(m.labels)}}`).digest('hex')}`;
}

export type SyncState = { readonly state: 'synced' } | { readonly state: 'pending' } | { readonly state: 'failed'; readonly reason: string };

/**
 * Whether ESO has synced an ExternalSecret since we asked. A sync ends by writing to
 * `status.syncedResourceVersion` the esoResourceVersion of the object as the sync read it
 * when it began; the force-sync value is in that hash. So a sync counts only if it read
 * the object as our patch left it (`asked`: our force-sync value) or as it is now (changed
 * after our patch, e.g. a later request's force-sync). Any other value is a sync that began
 * before our request, such as an earlier request's that lands late, and may carry an older
 * secret version. (`status.refreshTime` has a resolution of one second and ESO's clock: it
 * cannot tell.) A Ready condition turned False since the request is a failed sync.
 */
export function esoSyncState(asked: string, current: unknown, requestedAtMs: number): SyncState {
  const status = rec(rec(current).status);
  const ready = arr(status.conditions).map(rec).find((c) => c.type === 'Ready');
  const synced = str(status.syncedResourceVersion);
  if (synced !== undefined && (synced === asked || synced === esoResourceVersion(rec(current).metadata)) && ready?.status === 'True') return { state: 'synced' };
  if (ready?.status === 'False') {
    const at = Date.parse(str(ready.lastTransitionTime) ?? '');
    // lastTransitionTime has a resolution of one second.
    if (!Number.isNaN(at) && at >= Math.floor(requestedAtMs / 1000) * 1000) {
      return { state: 'failed', reason: `${str(ready.reason) ?? 'NotReady'}: ${str(ready.message) ?? ''}`.trim() };
    }
  }
  return { state: 'pending' };
}

// ---------------------------------------------------------------- SecretProviderClasses

/**
 * The AWS secrets a SecretProviderClass names: provider `aws`, each entry of the YAML
 * list in `parameters.objects` whose `objectType` is `secretsmanager` (or that names a
 * Secrets Manager ARN without a type), by `objectName`; a bare name takes
 * `parameters.region`. Undefined for another provider's class.
 */
export function readProviderClass(obj: unknown): DiscoveredSource | undefined {
  const meta = rec(rec(obj).metadata);
  const spec = rec(rec(obj).spec);
  if (spec.provider !== 'aws') return undefined;
  const namespace = str(meta.namespace) ?? '';
  const name = str(meta.name) ?? '';
  const params = rec(spec.parameters);
  const region = str(params.region);
  const { secrets, unsupported, name: nameSecret } = collector();
  let objects: unknown = [];
  try {
    objects = typeof params.objects === 'string' ? loadYaml(params.objects) : [];
  } catch (err) {
    unsupported.push(`spec.parameters.objects is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (objects !== undefined && objects !== null && !Array.isArray(objects)) unsupported.push('spec.parameters.objects is not a YAML list');
  arr(objects).forEach((o, i) => {
    const entry = rec(o);
    const objectName = str(entry.objectName);
    const type = str(entry.objectType);
    const isSecretsManagerArn = objectName !== undefined && /^arn:aws[a-z-]*:secretsmanager:/.test(objectName);
    if (type !== undefined ? type !== 'secretsmanager' : !isSecretsManagerArn) return; // SSM parameters: not ours
    nameSecret(objectName, `spec.parameters.objects[${i}].objectName`, region);
  });
  return {
    key: `csi:${namespace}/${name}`,
    generation: num(meta.generation) ?? 0,
    origin: {
      source: 'csi',
      object: { apiVersion: `${SPC_API.group}/${SPC_API.version}`, kind: SPC_API.kind, namespace, name, ...(str(meta.uid) ? { uid: str(meta.uid) } : {}) },
      consumedAs: { providerClass: name },
    },
    secrets: dedupe(secrets),
    unsupported,
    annotations: ownAnnotations(meta),
  };
}

// ---------------------------------------------------------------- matching

/**
 * The discovered sources that name `secret`, each as a mapping of its namespace's
 * workloads of `kinds` (the rotation keeps those that `consumes` it). Key order.
 */
export function matchSources(sources: readonly DiscoveredSource[], secret: SecretRef, scope: SecretScope, kinds: readonly WorkloadKind[]): Mapping[] {
  const out: Mapping[] = [];
  for (const s of [...sources].sort((a, b) => a.key.localeCompare(b.key))) {
    const named = s.secrets.find((n) => secretRefsMatch(n.ref, secret) && withinScope(n.ref, secret, scope));
    if (!named) continue;
    out.push(asMapping(s, named.ref, kinds));
  }
  return out;
}

/** Every secret each source names, each as a mapping (drift recovery: rotation/drift.ts). */
export function sourcesAsMappings(sources: readonly DiscoveredSource[], kinds: readonly WorkloadKind[]): Mapping[] {
  return sources.flatMap((s) => s.secrets.map((n) => asMapping(s, n.ref, kinds)));
}

function asMapping(s: DiscoveredSource, secret: SecretRef, kinds: readonly WorkloadKind[]): Mapping {
  return {
    key: s.key,
    namespace: s.origin.object.namespace,
    name: s.origin.object.name,
    uid: s.origin.object.uid ?? '',
    generation: s.generation,
    secret,
    selector: {},
    workloadKinds: kinds,
    origin: s.origin,
  };
}

/** Whether a workload's pod template names what the source's secret reaches pods as. */
export function consumes(references: PodTemplateReferences | undefined, origin: Origin): boolean {
  if (!references) return false;
  return 'secret' in origin.consumedAs ? references.secrets.includes(origin.consumedAs.secret) : references.providerClasses.includes(origin.consumedAs.providerClass);
}

/** One line for the Discovered Event: what the source names, and how its consumers are found. */
export function describeSource(s: DiscoveredSource): string {
  const names = s.secrets.map((n) => `${n.ref.raw}${n.ref.region ? ` (${n.ref.region})` : ''} from ${n.field}`).join('; ');
  const how = 'secret' in s.origin.consumedAs ? `workloads using Secret ${s.origin.consumedAs.secret}` : `workloads mounting SecretProviderClass ${s.origin.consumedAs.providerClass}`;
  const refresh = s.origin.refresh && !s.origin.refresh.ok ? ` Changes will NOT roll anything: ${s.origin.refresh.reason}.` : '';
  return `rotates ${how} when AWS secret ${names} changes.${refresh}`;
}

// ---------------------------------------------------------------- helpers

/**
 * What a reader finds: `name(id, field, region)` keeps a valid secret id (a bare name or
 * partial ARN in `region`), or reports the field as naming none.
 */
function collector(): { secrets: NamedSecret[]; unsupported: string[]; name: (id: string | undefined, field: string, region: string | undefined) => void } {
  const secrets: NamedSecret[] = [];
  const unsupported: string[] = [];
  const name = (id: string | undefined, field: string, region: string | undefined) => {
    if (!id || !isValidSecretId(id)) unsupported.push(`${field}: ${JSON.stringify((id ?? '').slice(0, 100))} is not a Secrets Manager secret name or ARN`);
    else secrets.push({ ref: parseSecretId(id, 'unknown', region ? { region } : {}), field });
  };
  return { secrets, unsupported, name };
}

/** The annotations the operator writes or reads on a source; everyone else's are not kept. */
function ownAnnotations(meta: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(rec(meta.annotations)).filter((e): e is [string, string] => e[0].startsWith(`${GROUP}/`) && typeof e[1] === 'string'));
}

function dedupe(secrets: NamedSecret[]): NamedSecret[] {
  const seen = new Set<string>();
  return secrets.filter((s) => {
    const k = `${s.ref.raw}|${s.ref.region ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
