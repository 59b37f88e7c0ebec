/**
 * Secret identity: a mapping and an event may name the same secret as a name,
 * a partial ARN (no random suffix) or a full ARN (name + "-" + 6 random characters).
 *
 * An ARN is ambiguous when we cannot know whether it is full: `...:secret:app-abcdef`
 * is either the full ARN of `app` or the partial ARN of `app-abcdef`. We keep every
 * reading of an identifier and two identifiers match when some pair of readings agrees.
 * A reading that claims a full ARN only agrees with another full-ARN reading of the
 * same ARN, so `app` with full ARN `app-QwErTy` never matches a mapping for `app-abcdef`.
 */

const ARN = /^arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$/;
const RANDOM_SUFFIX = /^(.+)-[A-Za-z0-9]{6}$/;
const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

export interface SecretReading {
  /** The secret's name under this reading. */
  readonly name: string;
  /** Set when this reading takes the identifier as a full ARN. */
  readonly fullArn?: string;
}

export interface SecretRef {
  /** The identifier as it was written. */
  readonly raw: string;
  readonly partition?: string;
  readonly region?: string;
  readonly account?: string;
  /** One reading when unambiguous, two for an ARN that may or may not be full. */
  readonly readings: readonly SecretReading[];
}

/** Whether an ARN carries the random suffix: known to (`full`), known not to (`partial`), or either. */
export type Fullness = 'full' | 'partial' | 'unknown';

export class InvalidSecretId extends Error {
  constructor(readonly value: string) {
    super(`not a Secrets Manager secret name or ARN: ${JSON.stringify(value.slice(0, 100))}`);
    this.name = 'InvalidSecretId';
  }
}

export function isValidSecretId(id: string): boolean {
  const arn = ARN.exec(id);
  return arn ? NAME.test(arn[4]) : NAME.test(id);
}

/**
 * Parses a secret name or ARN. `fullness: 'full'` is for ARNs that AWS itself
 * produced (response elements, DescribeSecret), which always carry the suffix;
 * `'partial'` for an ARN known to end in the name itself (events/interpret.ts).
 * `context` supplies region/account for a bare name (the event's envelope).
 */
export function parseSecretId(
  id: string,
  fullness: Fullness = 'unknown',
  context: { region?: string; account?: string; partition?: string } = {},
): SecretRef {
  const arn = ARN.exec(id);
  if (!arn) {
    if (!NAME.test(id)) throw new InvalidSecretId(id);
    return { raw: id, ...definedOnly(context), readings: [{ name: id }] };
  }
  const [, partition, region, account, name] = arn;
  if (!NAME.test(name)) throw new InvalidSecretId(id);
  const stripped = RANDOM_SUFFIX.exec(name)?.[1];
  const asFull: SecretReading | undefined = stripped ? { name: stripped, fullArn: id } : undefined;
  const asPartial: SecretReading = { name };
  const readings = fullness === 'full' ? [asFull ?? asPartial] : fullness === 'unknown' && asFull ? [asFull, asPartial] : [asPartial];
  return { raw: id, partition, region, account, readings };
}

/** Builds the reference AWS itself resolved (DescribeSecret's ARN and Name). */
export function resolvedSecretRef(fullArn: string, name: string): SecretRef {
  const parsed = parseSecretId(fullArn, 'full');
  return { ...parsed, readings: [{ name, fullArn }] };
}

function readingsAgree(a: SecretReading, b: SecretReading): boolean {
  if (a.name !== b.name) return false;
  return a.fullArn === undefined || b.fullArn === undefined || a.fullArn === b.fullArn;
}

function sameWhenBothKnown(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

export function secretRefsMatch(a: SecretRef, b: SecretRef): boolean {
  return (
    sameWhenBothKnown(a.partition, b.partition) &&
    sameWhenBothKnown(a.region, b.region) &&
    sameWhenBothKnown(a.account, b.account) &&
    a.readings.some((x) => b.readings.some((y) => readingsAgree(x, y)))
  );
}

/**
 * Where a secret named without an account or region (a bare name) lives: the accounts
 * and regions listed, or else the queue's own. An empty list means "not known": any.
 */
export interface SecretScope {
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
}

export function secretScope(home: { account?: string; region?: string }, allowedAccountIds: readonly string[] = [], allowedRegions: readonly string[] = []): SecretScope {
  return {
    accounts: allowedAccountIds.length > 0 ? allowedAccountIds : home.account ? [home.account] : [],
    regions: allowedRegions.length > 0 ? allowedRegions : home.region ? [home.region] : [],
  };
}

/**
 * Whether a changed secret may be the one a mapping names, as far as account and
 * region go: what the mapping spells out must agree (secretRefsMatch), and what it
 * leaves out is the scope's. A secret of another account is named by its ARN.
 */
export function withinScope(mapping: SecretRef, changed: SecretRef, scope: SecretScope): boolean {
  const ok = (own: string | undefined, seen: string | undefined, list: readonly string[]) => own !== undefined || seen === undefined || list.length === 0 || list.includes(seen);
  return ok(mapping.account, changed.account, scope.accounts) && ok(mapping.region, changed.region, scope.regions);
}

/** Names under which a reference must be indexed so every matching reference finds it. */
export function indexNames(ref: SecretRef): string[] {
  return [...new Set(ref.readings.map((r) => r.name))];
}

/**
 * Whether a secret lives in the operator's own region, the only one it asks Secrets
 * Manager about: the first region named (the secret's ARN's, then its event's) decides,
 * and a secret named by bare name with no region known is taken to be in `ownRegion`.
 */
export function inOwnRegion(ownRegion: string, ...named: readonly (string | undefined)[]): boolean {
  return (named.find((r) => r !== undefined) ?? ownRegion) === ownRegion;
}

/**
 * One stable spelling per secret: the partial ARN when region and account are known,
 * the name otherwise. Used as the key of the version annotation and in logs.
 */
export function canonicalSecretKey(ref: SecretRef): string {
  const name = ref.readings[0].name;
  if (ref.region && ref.account) {
    return `arn:${ref.partition ?? 'aws'}:secretsmanager:${ref.region}:${ref.account}:secret:${name}`;
  }
  return name;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
