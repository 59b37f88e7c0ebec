/**
 * ListSecrets for drift: the plan covers every mapped name in the fewest calls, a
 * listing settles a ref exactly as DescribeSecret would (or leaves it to DescribeSecret),
 * and a failing or denied ListSecrets falls back to DescribeSecret.
 */
import fc from 'fast-check';
import { createLogger } from '../../../src/core/log';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretDescriber, type SecretDescription, type SecretLister } from '../../../src/secrets/describer';
import { NAME_FILTER_VALUES_MAX, PAGE_SIZE_MAX } from '../../../src/secrets/limits';
import { LIST_DENIED_RETRY_MS, SecretListing, coveringPrefixes, planListing, settleFromListing, type ListingRequest } from '../../../src/secrets/listing';
import { indexNames, parseSecretId } from '../../../src/secrets/secretId';

const OWN = '123456789012';
const OTHER = '210987654321';
const arnOf = (account: string, name: string, suffix: string) => `arn:aws:secretsmanager:us-east-1:${account}:secret:${name}-${suffix}`;
const partialArnOf = (account: string, name: string) => `arn:aws:secretsmanager:us-east-1:${account}:secret:${name}`;

/** Secrets scheduled for deletion need no flag here: DescribeSecret describes them and ListSecrets (IncludePlannedDeletion) lists them. */
interface Stored extends SecretDescription {
  readonly account: string;
}

/** Secrets Manager as far as drift sees it: DescribeSecret resolution and ListSecrets filters/pages (own account only). */
class FakeSecretsManager implements SecretLister {
  readonly calls: { names?: readonly string[] }[] = [];
  constructor(
    readonly secrets: readonly Stored[],
    private readonly pageSize = PAGE_SIZE_MAX,
  ) {}

  /** A full ARN first, then the name (a bare name, or the name part of a partial ARN). */
  describe(id: string): SecretDescription | undefined {
    const ref = parseSecretId(id);
    const account = ref.account ?? OWN;
    const hit = this.secrets.find((s) => s.arn === id) ?? this.secrets.find((s) => s.account === account && s.name === (ref.account ? ref.readings[ref.readings.length - 1].name : id));
    return hit && strip(hit);
  }

  async listPage(names: readonly string[] | undefined, nextToken: string | undefined): Promise<{ secrets: SecretDescription[]; nextToken?: string }> {
    this.calls.push(names ? { names } : {});
    if (names) {
      expect(names.length).toBeGreaterThan(0);
      expect(names.length).toBeLessThanOrEqual(NAME_FILTER_VALUES_MAX);
      for (const n of names) expect(n.length).toBeLessThanOrEqual(512);
    }
    const all = this.secrets.filter((s) => s.account === OWN && (!names || names.some((p) => s.name.startsWith(p))));
    const from = Number(nextToken ?? 0);
    const next = from + this.pageSize;
    return { secrets: all.slice(from, next).map(strip), ...(next < all.length ? { nextToken: String(next) } : {}) };
  }
}

const strip = (s: Stored): SecretDescription => ({ arn: s.arn, name: s.name, ...(s.currentVersion ? { currentVersion: s.currentVersion } : {}) });

// Few, overlapping names (prefixes of one another, a case twin, names that look like a suffixed name).
const NAMES = ['app', 'app-1', 'app-AbC123', 'application', 'App', 'db/main', 'db', 'x'];
const SUFFIXES = ['AbC123', 'QwErTy', 'zzzzzz'];
const storedArb = fc
  .record({ account: fc.constantFrom(OWN, OWN, OTHER), name: fc.constantFrom(...NAMES), suffix: fc.constantFrom(...SUFFIXES), version: fc.option(fc.constantFrom('v1', 'v2'), { nil: undefined }) })
  .map((r): Stored => ({ account: r.account, name: r.name, arn: arnOf(r.account, r.name, r.suffix), ...(r.version ? { currentVersion: r.version } : {}) }));
// Secret names are unique per account.
const storeArb = fc.uniqueArray(storedArb, { selector: (s) => `${s.account}/${s.name}`, maxLength: 10 });
const refArb = (store: readonly Stored[]) =>
  fc.oneof(
    fc.constantFrom(...NAMES),
    fc.record({ account: fc.constantFrom(OWN, OTHER), name: fc.constantFrom(...NAMES) }).map((r) => partialArnOf(r.account, r.name)),
    fc.record({ account: fc.constantFrom(OWN, OTHER), name: fc.constantFrom(...NAMES), suffix: fc.constantFrom(...SUFFIXES) }).map((r) => arnOf(r.account, r.name, r.suffix)),
    ...(store.length > 0 ? [fc.constantFrom(...store.map((s) => s.arn))] : []),
  );
const worldArb = storeArb.chain((store) => fc.record({ store: fc.constant(store), raws: fc.uniqueArray(refArb(store), { maxLength: 12 }) }));

const covered = (name: string, listings: readonly ListingRequest[]) => listings.some((l) => l === 'all' || l.names.some((p) => name.startsWith(p)));

describe('coveringPrefixes', () => {
  it('keeps the fewest names whose prefixes still cover every name', () =>
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ab/-]{1,4}$/), { maxLength: 12 }), (names) => {
        const kept = coveringPrefixes(names);
        for (const n of names) expect(kept.some((p) => n.startsWith(p))).toBe(true);
        for (const p of kept) expect(names).toContain(p);
        // Minimal: no kept name is covered by another.
        for (const p of kept) expect(kept.filter((q) => p.startsWith(q))).toEqual([p]);
      }),
    ));
  it('app covers app-1 and application; App (case) and db are apart', () => expect(coveringPrefixes(['app-1', 'db', 'App', 'application', 'app'])).toEqual(['App', 'app', 'db']));
});

describe('planListing', () => {
  it('account not yet listed: covers every name of our account with at most 10 values a filter, describes ARNs of another account, and picks the cheaper lower bound', () =>
    fc.assert(
      fc.property(worldArb, ({ raws }) => {
        const refs = raws.map((r) => parseSecretId(r));
        const plan = planListing(refs, { account: OWN, partition: 'aws' });
        const ours = refs.filter((r) => !r.account || r.account === OWN);
        for (const r of ours) for (const n of indexNames(r)) expect(covered(n, plan.listings)).toBe(true);
        expect([...plan.describe].sort()).toEqual([...new Set(refs.filter((r) => r.account === OTHER).map((r) => r.raw))].sort());
        if (ours.length === 0) return expect(plan.listings).toEqual([]);
        const filtered = Math.ceil(coveringPrefixes(ours.flatMap(indexNames)).length / NAME_FILTER_VALUES_MAX);
        const whole = Math.max(1, Math.ceil(new Set(ours.flatMap(indexNames)).size / PAGE_SIZE_MAX));
        expect(plan.listings.length).toBe(Math.min(filtered, whole));
        expect(plan.listings.includes('all')).toBe(whole < filtered);
        for (const l of plan.listings) if (l !== 'all') expect(l.names.length).toBeLessThanOrEqual(NAME_FILTER_VALUES_MAX);
      }),
      { numRuns: 1_000 },
    ));

  /** The ListSecrets calls a plan's listings make against `aws`, and the names they return. */
  async function run(aws: FakeSecretsManager, listings: readonly ListingRequest[]): Promise<{ calls: number; names: Set<string> }> {
    const before = aws.calls.length;
    const names = new Set<string>();
    for (const l of listings) {
      let token: string | undefined;
      do {
        const page = await aws.listPage(l === 'all' ? undefined : l.names, token);
        for (const d of page.secrets) names.add(d.name);
        token = page.nextToken;
      } while (token);
    }
    return { calls: aws.calls.length - before, names };
  }
  const store = (names: readonly string[]): Stored[] => names.map((n) => ({ account: OWN, name: n, arn: arnOf(OWN, n, 'AbC123'), currentVersion: 'v1' }));
  // Accounts of a few hundred secrets in families that share prefixes, and some of them mapped.
  const fleetArb = fc
    .record({ families: fc.subarray(['team-a/api-', 'team-a/apiary-', 'team-b/db-', 'x-', 'team-b/'], { minLength: 1 }), per: fc.integer({ min: 1, max: 180 }), share: fc.constantFrom(0.02, 0.3, 1), seed: fc.nat() })
    .map(({ families, per, share, seed }) => {
      const account = families.flatMap((f) => Array.from({ length: per }, (_, i) => `${f}${i}`));
      let x = seed || 1;
      const mapped = account.filter(() => ((x = (x * 48271) % 2147483647) / 2147483647) < share);
      return { account, mapped: mapped.length > 0 ? mapped : [account[0]] };
    });

  it('account known: returns every mapped name, in no more calls than the whole account or one filter value per mapped name', async () =>
    fc.assert(
      fc.asyncProperty(fleetArb, async ({ account, mapped }) => {
        const aws = new FakeSecretsManager(store(account));
        const plan = planListing(mapped.map((n) => parseSecretId(n)), { account: OWN }, account);
        const got = await run(aws, plan.listings);
        for (const n of mapped) expect(got.names.has(n)).toBe(true);
        const whole = await run(aws, ['all']);
        const exact = coveringPrefixes(mapped);
        const oneByOne = await run(aws, Array.from({ length: Math.ceil(exact.length / 10) }, (_, i) => ({ names: exact.slice(i * 10, i * 10 + 10) })));
        expect(got.calls).toBeLessThanOrEqual(Math.min(whole.calls, oneByOne.calls));
      }),
      { numRuns: 100 },
    ));

  const many = (n: number, prefix = 'team/svc-') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  it('1,000 mapped names in an account not yet listed: the whole account (10 pages), not 100 filtered calls', () => expect(planListing(many(1000).map((n) => parseSecretId(n)), { account: OWN })).toEqual({ listings: ['all'], describe: [] }));
  it('up to 10 names: one filtered call, whatever the account holds', () => expect(planListing(many(10).map((n) => parseSecretId(n)), { account: OWN })).toEqual({ listings: [{ names: many(10) }], describe: [] }));
  it('1,000 mapped names among 1,100 others, once the account is known: their shared prefix (10 pages), not the 21 pages of the account', async () => {
    const mapped = many(1000, 'bench/idle-');
    const account = [...many(1100, 'bench/scale-'), ...mapped];
    const plan = planListing(mapped.map((n) => parseSecretId(n)), { account: OWN }, account);
    expect(plan.listings).toEqual([{ names: ['bench/idle-0'] }]); // all 1,000 are bench/idle-0000…0999
    expect((await run(new FakeSecretsManager(store(account)), plan.listings)).calls).toBe(10);
  });
  it('30 mapped names in an account of 5,000 secrets: 1 call, not 50 pages', async () => {
    const mapped = many(30);
    const account = [...many(5000, 'other/'), ...mapped];
    const plan = planListing(mapped.map((n) => parseSecretId(n)), { account: OWN }, account);
    expect((await run(new FakeSecretsManager(store(account)), plan.listings)).calls).toBe(1);
  });
});

describe('settleFromListing', () => {
  it('a listed ref gets exactly what DescribeSecret would return; prefix extras and other accounts settle nothing', async () =>
    fc.assert(
      fc.asyncProperty(worldArb, fc.integer({ min: 1, max: 3 }), async ({ store, raws }, pageSize) => {
        const aws = new FakeSecretsManager(store, pageSize);
        const refs = raws.map((r) => parseSecretId(r));
        const settled = await new SecretListing(aws, { account: OWN }, createLogger('silent')).settle(refs);
        for (const [raw, d] of settled) {
          expect(raws).toContain(raw);
          expect(d).toEqual(aws.describe(raw));
        }
        // Every secret DescribeSecret finds in our account, listed and unambiguous, is settled by the listing.
        for (const raw of raws) {
          const d = aws.describe(raw);
          const s = d && store.find((x) => x.arn === d.arn);
          const ambiguous = store.filter((x) => x.account === OWN && indexNames(parseSecretId(raw)).includes(x.name)).length > 1;
          if (s && s.account === OWN && !ambiguous) expect(settled.get(raw)).toEqual(d);
          if (s?.account === OTHER) expect(settled.has(raw)).toBe(false);
        }
      }),
      { numRuns: 2_000 },
    ));

  it("an ARN that is both app's full ARN and app-AbC123's partial ARN, both listed, is left to DescribeSecret", () => {
    const fullOfApp = arnOf(OWN, 'app', 'AbC123');
    const listed = [
      { arn: arnOf(OWN, 'app-AbC123', 'QwErTy'), name: 'app-AbC123', currentVersion: 'v1' },
      { arn: fullOfApp, name: 'app', currentVersion: 'v2' },
    ];
    expect(settleFromListing([parseSecretId(fullOfApp)], listed).size).toBe(0);
    expect(settleFromListing([parseSecretId(fullOfApp)], listed.slice(1)).get(fullOfApp)).toEqual(listed[1]);
  });

  it('ignores secrets a prefix filter returns beyond the mapped names, and a secret listed twice', () => {
    const listed = ['app', 'app-1', 'application'].map((n) => ({ arn: arnOf(OWN, n, 'AbC123'), name: n, currentVersion: `v-${n}` }));
    expect([...settleFromListing([parseSecretId('app')], listed)]).toEqual([['app', listed[0]]]);
    expect([...settleFromListing([parseSecretId('app')], [listed[0], { ...listed[0] }])]).toEqual([['app', listed[0]]]);
  });
});

describe('SecretListing', () => {
  const secrets: Stored[] = Array.from({ length: 250 }, (_, i) => ({ account: OWN, name: `s${String(i).padStart(3, '0')}`, arn: arnOf(OWN, `s${String(i).padStart(3, '0')}`, 'AbC123'), currentVersion: 'v1' }));
  const refs = secrets.map((s) => parseSecretId(s.name));

  it('learns the account from a whole listing and keeps to the cheaper plan', async () => {
    const aws = new FakeSecretsManager(secrets);
    const listing = new SecretListing(aws, { account: OWN }, createLogger('silent'));
    expect((await listing.settle(refs)).size).toBe(250);
    expect(aws.calls).toEqual([{}, {}, {}]);
    aws.calls.length = 0;
    // 25 of them: 3 filtered calls, as cheap as the 3 pages of the whole account now known.
    expect((await listing.settle(refs.slice(0, 25))).size).toBe(25);
    expect(aws.calls.every((c) => c.names)).toBe(true);
  });

  function failing(err: Error): SecretLister & { calls: number } {
    const l = { calls: 0, listPage: async () => (l.calls++, Promise.reject(err)) };
    return l;
  }
  const denied = () => Object.assign(new Error('User is not authorized to perform: secretsmanager:ListSecrets'), { name: 'AccessDeniedException' });

  it('a denied ListSecrets is logged once, settles nothing (DescribeSecret for all), and is retried only after LIST_DENIED_RETRY_MS', async () => {
    let now = 0;
    const lister = failing(denied());
    const log = createLogger('silent');
    const warn = jest.spyOn(log, 'warn');
    const listing = new SecretListing(lister, { account: OWN }, log, () => now);
    expect((await listing.settle(refs)).size).toBe(0);
    now += LIST_DENIED_RETRY_MS - 1;
    expect((await listing.settle(refs)).size).toBe(0);
    expect(lister.calls).toBe(1);
    now += 1;
    expect((await listing.settle(refs)).size).toBe(0);
    expect(lister.calls).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('secretsmanager:ListSecrets is denied');
  });

  it('any other ListSecrets error falls back for that pass only', async () => {
    const lister = failing(new Error('socket hang up'));
    const log = createLogger('silent');
    const warn = jest.spyOn(log, 'warn');
    const listing = new SecretListing(lister, { account: OWN }, log);
    await listing.settle(refs);
    await listing.settle(refs);
    expect(lister.calls).toBe(2);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('an aborted pass stops at its next page and settles nothing', async () => {
    const c = new AbortController();
    const aws = new FakeSecretsManager(secrets);
    const lister: SecretLister = { listPage: async (...a) => (c.abort(), aws.listPage(...(a.slice(0, 2) as [undefined, undefined]))) };
    expect((await new SecretListing(lister, { account: OWN }, createLogger('silent')).settle(refs, c.signal)).size).toBe(0);
    expect(aws.calls).toHaveLength(1);
  });
});

describe('AwsSecretDescriber.listPage', () => {
  it('asks for full pages with the name filter, secrets scheduled for deletion included, under the pass signal; reads AWSCURRENT, every labelled version and LastChangedDate', async () => {
    const sent: { input: unknown; abortSignal?: AbortSignal }[] = [];
    const client = {
      send: async (cmd: { input: unknown }, opts?: { abortSignal?: AbortSignal }) => (
        sent.push({ input: cmd.input, ...(opts?.abortSignal ? { abortSignal: opts.abortSignal } : {}) }),
        { SecretList: [{ ARN: arnOf(OWN, 'app', 'AbC123'), Name: 'app', SecretVersionsToStages: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] }, LastChangedDate: new Date('2026-12-07T12:00:00Z') }, { Name: 'no-arn' }], NextToken: 't2' }
      ),
    } as unknown as SecretsManagerClient;
    const signal = new AbortController().signal;
    const page = await new AwsSecretDescriber(client).listPage(['app'], 't1', signal);
    expect(page).toEqual({
      secrets: [{ arn: arnOf(OWN, 'app', 'AbC123'), name: 'app', currentVersion: 'v2', versions: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] }, lastChanged: '2026-12-07T12:00:00.000Z' }],
      nextToken: 't2',
    });
    expect(sent).toEqual([{ input: { MaxResults: 100, IncludePlannedDeletion: true, Filters: [{ Key: 'name', Values: ['app'] }], NextToken: 't1' }, abortSignal: signal }]);
  });
});

describe('AwsSecretDescriber.describe', () => {
  it('reads AWSCURRENT, every labelled version and LastChangedDate: what orders the answer against a recorded version', async () => {
    const client = {
      send: async () => ({ ARN: arnOf(OWN, 'app', 'AbC123'), Name: 'app', VersionIdsToStages: { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'], v4: ['AWSPENDING'] }, LastChangedDate: new Date('2026-12-07T12:00:00Z') }),
    } as unknown as SecretsManagerClient;
    expect(await new AwsSecretDescriber(client).describe('app')).toEqual({
      arn: arnOf(OWN, 'app', 'AbC123'),
      name: 'app',
      currentVersion: 'v3',
      versions: { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'], v4: ['AWSPENDING'] },
      lastChanged: '2026-12-07T12:00:00.000Z',
    });
  });
});
