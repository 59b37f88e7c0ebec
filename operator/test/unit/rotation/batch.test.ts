import { createLogger } from '../../../src/core/log';
import type { Mapping } from '../../../src/mappings/model';
import { BatchReads, EARLY_LISTING_MAX_MAPPINGS, NotPrepared, type BatchReadsOptions } from '../../../src/rotation/batch';
import type { SecretDescription } from '../../../src/secrets/describer';
import { parseSecretId } from '../../../src/secrets/secretId';
import type { WorkloadKind, WorkloadState } from '../../../src/workloads/workload';
import { SHARED_LISTING_MIN_MAPPINGS } from '../../../src/mappings/selected';
import { mapping, secretChange, SECRET_ARN, workload } from '../../support/builders';

function setup(opts: Partial<BatchReadsOptions> & { describe?: (id: string) => Promise<SecretDescription>; list?: (kind: WorkloadKind, namespace: string, selector: string) => Promise<WorkloadState[]> } = {}) {
  const described: string[] = [];
  const listed: string[] = [];
  const reads = new BatchReads({
    region: 'us-east-1',
    log: createLogger('silent'),
    describer: {
      describe: async (id) => {
        described.push(id);
        return opts.describe ? opts.describe(id) : { arn: SECRET_ARN, name: 'app', currentVersion: 'v2' };
      },
    },
    workloads: {
      list: async (kind, namespace, selector) => {
        listed.push(`${kind}/${namespace}/${selector}`);
        return opts.list ? opts.list(kind, namespace, selector) : [];
      },
    },
    ...opts,
  });
  return { reads, described, listed };
}

/** A discovered ExternalSecret in `namespace` whose consumers read the Secret `secret`. */
function source(name: string, secret: string, namespace = 'ns'): Mapping {
  return {
    ...mapping(name, { namespace, kinds: ['Deployment'] }),
    origin: { source: 'externalsecret', object: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', namespace, name }, consumedAs: { secret } },
  };
}

const reading = (name: string, secrets: string[]) => ({ ...workload(name), references: { secrets, providerClasses: [] } });

describe('BatchReads.describe', () => {
  it('asks DescribeSecret once per secret per batch, however many changes name it', async () => {
    const t = setup();
    const answers = await Promise.all([t.reads.describe(secretChange('e1', 'v1')), t.reads.describe(secretChange('e2', 'v2'))]);
    expect(t.described).toEqual([SECRET_ARN]);
    expect(answers.map((a) => a?.currentVersion)).toEqual(['v2', 'v2']);
  });

  it('asks again in the next batch: a batch remembers nothing of the one before', async () => {
    const t = setup();
    await t.reads.describe(secretChange('e1', 'v1'));
    const next = new BatchReads({ region: 'us-east-1', log: createLogger('silent'), workloads: { list: async () => [] }, describer: { describe: async (id) => (t.described.push(id), { arn: SECRET_ARN, name: 'app' }) } });
    await next.describe(secretChange('e1', 'v1'));
    expect(t.described).toEqual([SECRET_ARN, SECRET_ARN]);
  });

  it('does not ask about a secret of another region, and answers undefined', async () => {
    const t = setup();
    const other = { ...secretChange('e1', 'v1', undefined, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbC123'), region: 'eu-west-1' };
    expect(other.secret).toEqual(parseSecretId('arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbC123', 'full'));
    expect(await t.reads.describe(other)).toBeUndefined();
    expect(t.described).toEqual([]);
  });

  it('answers undefined when DescribeSecret fails (the event is used as it is), and asks only once', async () => {
    const t = setup({ describe: async () => Promise.reject(new Error('throttled')) });
    expect(await t.reads.describe(secretChange('e1', 'v1'))).toBeUndefined();
    expect(await t.reads.describe(secretChange('e2', 'v1'))).toBeUndefined();
    expect(t.described).toEqual([SECRET_ARN]);
  });
});

describe('BatchReads.listEarly', () => {
  // Each in a namespace of its own: mappings sharing one are listed through its shared lists (BatchReads.listing).
  const many = (n: number) => Array.from({ length: n }, (_, i) => mapping(`m${i}`, { namespace: `ns${i}` }));

  it(`lists the workloads of up to ${EARLY_LISTING_MAX_MAPPINGS} named mappings at once`, () => {
    const t = setup();
    t.reads.listEarly(many(EARLY_LISTING_MAX_MAPPINGS));
    expect(t.listed).toHaveLength(EARLY_LISTING_MAX_MAPPINGS * 3);
  });

  it('counts a mapping named by several changes once', () => {
    const t = setup();
    const ms = many(EARLY_LISTING_MAX_MAPPINGS);
    t.reads.listEarly([...ms, ...ms]);
    expect(t.listed).toHaveLength(EARLY_LISTING_MAX_MAPPINGS * 3);
  });

  it(`lists nothing early for a batch naming more than ${EARLY_LISTING_MAX_MAPPINGS} mappings (a burst: most need no listing)`, () => {
    const t = setup();
    t.reads.listEarly(many(EARLY_LISTING_MAX_MAPPINGS + 1));
    expect(t.listed).toEqual([]);
  });
});

describe('BatchReads.listing', () => {
  it(`lists a namespace once per kind when ${SHARED_LISTING_MIN_MAPPINGS} or more of its mappings are listed, and applies each selector itself`, async () => {
    const labelled = (name: string, labels: Record<string, string>) => ({ ...workload(name), labels });
    const everyone = [labelled('w0', { app: 'm0' }), labelled('w1', { app: 'm1', tier: 'db' }), labelled('other', { app: 'other' })];
    const t = setup({ list: async (kind, _ns, selector) => (kind === 'Deployment' && selector === '' ? everyone : []) });
    const ms = Array.from({ length: SHARED_LISTING_MIN_MAPPINGS }, (_, i) => mapping(`m${i}`));
    t.reads.expect(ms);
    const listed = await Promise.all(ms.map((m) => t.reads.listing(m)));
    expect(t.listed).toEqual(['Deployment/ns/', 'StatefulSet/ns/', 'DaemonSet/ns/']);
    expect(listed.map((ws) => ws.map((w) => w.name))).toEqual([['w0'], ['w1'], [], [], []]);
  });

  it(`lists by selector when fewer than ${SHARED_LISTING_MIN_MAPPINGS} mappings of a namespace are listed`, async () => {
    const t = setup();
    const ms = Array.from({ length: SHARED_LISTING_MIN_MAPPINGS - 1 }, (_, i) => mapping(`m${i}`));
    t.reads.expect(ms);
    await Promise.all(ms.map((m) => t.reads.listing(m)));
    expect(t.listed).toHaveLength((SHARED_LISTING_MIN_MAPPINGS - 1) * 3);
    expect(t.listed.every((l) => /app=m\d$/.test(l))).toBe(true);
  });

  it("lists a mapping's workloads once per batch: the early listing is the one later steps get", async () => {
    const t = setup({ list: async (kind) => (kind === 'Deployment' ? [workload('web')] : []) });
    const m = mapping('web');
    t.reads.listEarly([m]);
    const [a, b] = await Promise.all([t.reads.listing(m), t.reads.listing(m)]);
    expect(t.listed).toEqual(['Deployment/ns/app=web', 'StatefulSet/ns/app=web', 'DaemonSet/ns/app=web']);
    expect(a).toEqual([workload('web')]);
    expect(b).toBe(a);
  });

  it('rejects for every asker when the listing fails, without an unhandled rejection for nobody', async () => {
    const t = setup({ list: async () => Promise.reject(new Error('connection refused')) });
    t.reads.listEarly([mapping('web')]);
    await expect(t.reads.listing(mapping('web'))).rejects.toThrow('connection refused');
  });

  it("lists every workload of a namespace once for all of its discovered sources, and keeps each source's consumers", async () => {
    const prepared: string[] = [];
    const t = setup({
      list: async () => [reading('a', ['db-creds']), reading('b', ['api-key']), reading('c', [])],
      discovery: { lookup: async () => [], prepare: async (m) => void prepared.push(m.key) },
    });
    const [db, api] = await Promise.all([t.reads.listing(source('db', 'db-creds')), t.reads.listing(source('api', 'api-key'))]);
    expect(t.listed).toEqual(['Deployment/ns/']);
    expect(db.map((w) => w.name)).toEqual(['a']);
    expect(api.map((w) => w.name)).toEqual(['b']);
    expect(prepared.sort()).toEqual(['ns/api', 'ns/db']);
  });

  it('holds back the consumers of a source that could not be prepared: NotPrepared names them', async () => {
    const t = setup({ list: async () => [reading('a', ['db-creds'])], discovery: { lookup: async () => [], prepare: async () => Promise.reject(new Error('ESO did not sync')) } });
    const err = await t.reads.listing(source('db', 'db-creds')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotPrepared);
    expect((err as NotPrepared).message).toBe('ESO did not sync');
    expect((err as NotPrepared).consumers?.map((w) => w.name)).toEqual(['a']);
  });

  it('names no consumers (anyone of the namespace may be one) when they could not be listed either', async () => {
    const t = setup({ list: async () => Promise.reject(new Error('503')), discovery: { lookup: async () => [], prepare: async () => Promise.reject(new Error('ESO did not sync')) } });
    const err = (await t.reads.listing(source('db', 'db-creds', 'team-a')).catch((e: unknown) => e)) as NotPrepared;
    expect(err).toBeInstanceOf(NotPrepared);
    expect(err.consumers).toBeUndefined();
    expect(err.namespace).toBe('team-a');
  });
});
