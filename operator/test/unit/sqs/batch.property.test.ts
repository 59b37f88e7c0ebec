/**
 * A batch is many messages with one fate each: whatever its neighbours hold, a good
 * message is handled exactly as it would be without them. Uses only the constructors
 * of Intake and Rotator and Intake.handleBatch, with fakes for every port.
 */
import fc from 'fast-check';
import { interpretMessage } from '../../../src/events/interpret';
import { createLogger } from '../../../src/core/log';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import type { WorkloadKind, WorkloadState } from '../../../src/workloads/workload';
import { createMetrics } from '../../../src/core/metrics';
import { Rotator } from '../../../src/rotation/rotator';
import { Intake } from '../../../src/sqs/intake';
import { type Disposition, type InboundMessage } from '../../../src/sqs/message';
import { parseSecretId, secretRefsMatch } from '../../../src/secrets/secretId';
import { mapping, workload } from '../../support/builders';
import { fixture, manifest } from '../../support/fixtures';
import { anyBody } from '../events/arbitraries';

const SECRET_NAME = 'eks-controller-test-secret';
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${SECRET_NAME}-AbC123`;
const SECRET = parseSecretId(SECRET_ARN, 'full');
const MAPPINGS = [mapping('web', { secretId: SECRET_NAME }), mapping('api', { secretId: SECRET_ARN })];

/** Every fixture that is a real event (a change or not). */
const GOOD = manifest.filter((c) => c.outcome !== 'parse-error').map((c) => c.file);
const BODY = new Map(GOOD.map((f) => [f, fixture(f)]));

const mappedIndex = new MappingIndex();
for (const m of MAPPINGS) mappedIndex.upsert(m);

/** What DescribeSecret would make of an id: AWS takes a name, a partial or a full ARN. */
const describesTheMappedSecret = (id: string) => secretRefsMatch(parseSecretId(id), SECRET);

/**
 * Garbage must not be a valid change of the mapped secret, as the event reads or as
 * DescribeSecret resolves it: such a message is entitled to change what the good ones
 * do (a newer version coalesces with theirs). A body that makes interpretMessage throw
 * is garbage too.
 */
function namesTheMappedSecret(body: string): boolean {
  try {
    const i = interpretMessage(body);
    return i.type === 'change' && (mappedIndex.lookup(i.change.secret).length > 0 || describesTheMappedSecret(i.change.secret.raw));
  } catch {
    return false;
  }
}

function setup() {
  const index = new MappingIndex();
  for (const m of MAPPINGS) index.upsert(m);
  const workloads = new Map<string, WorkloadState & { app: string }>();
  for (const app of ['web', 'api']) for (const w of [workload(`${app}-1`), workload(`${app}-2`, { kind: 'StatefulSet' })]) workloads.set(`${w.kind}/${w.name}`, { ...w, app });
  const restarts: string[] = [];
  const statuses: string[] = [];
  const events: string[] = [];
  const rotator = new Rotator({
    index,
    workloads: {
      list: async (kind: WorkloadKind, _namespace: string, selector: string) => [...workloads.values()].filter((w) => w.kind === kind && selector === `app=${w.app}`),
      restart: async (w: WorkloadState, versions: Readonly<Record<string, string>>) => {
        restarts.push(JSON.stringify([w.kind, w.name, versions]));
        const key = `${w.kind}/${w.name}`;
        workloads.set(key, { ...workloads.get(key)!, appliedVersions: { ...w.appliedVersions, ...versions } });
        return { patched: true as const, rollout: w.rollout };
      },
    },
    // As Secrets Manager would answer: the fixture secret is known, any other is not.
    describer: {
      describe: async (id) => {
        if (!describesTheMappedSecret(id)) throw Object.assign(new Error(`Secrets Manager can't find the specified secret.`), { name: 'ResourceNotFoundException' });
        return { arn: SECRET_ARN, name: SECRET_NAME, currentVersion: 'v-current' };
      },
    },
    status: { recordRotation: async (m, record, ok, reason, message, applied) => void statuses.push(JSON.stringify([m.key, record, ok, reason, message, applied])) },
    events: { record: async (m, type, reason, message) => void events.push(JSON.stringify([`${m.namespace}/${m.name}`, type, reason, message])) },
    metrics: createMetrics(false),
    log: createLogger('silent'),
    region: 'us-east-1',
    dryRun: false,
    now: () => new Date('2025-03-12T03:00:00Z'),
  });
  const intake = new Intake({ rotate: (c, s) => rotator.handle(c, s), allow: { accountIds: [], regions: [] }, metrics: createMetrics(false), log: createLogger('silent') });
  return { intake, restarts, statuses, events };
}

async function handle(messages: InboundMessage[]) {
  const t = setup();
  const dispositions = await t.intake.handleBatch(messages);
  return { dispositions, restarts: [...t.restarts].sort(), statuses: [...t.statuses].sort(), events: [...t.events].sort() };
}

type Entry = { readonly good: true; readonly file: string } | { readonly good: false; readonly body: string };

const good: fc.Arbitrary<Entry> = fc.constantFrom(...GOOD).map((file) => ({ good: true as const, file }));
const junk: fc.Arbitrary<Entry> = anyBody.filter((body) => !namesTheMappedSecret(body)).map((body) => ({ good: false as const, body }));

/** At least one good message and one piece of garbage, in any order. */
const batch: fc.Arbitrary<Entry[]> = fc
  .tuple(fc.array(good, { minLength: 1, maxLength: 6 }), fc.array(junk, { minLength: 1, maxLength: 8 }))
  .chain(([g, j]) => fc.shuffledSubarray([...g, ...j], { minLength: g.length + j.length }));

describe('Intake.handleBatch with garbage among good messages', () => {
  it('gives every message a disposition and handles the good ones exactly as it would without the garbage', async () => {
    await fc.assert(
      fc.asyncProperty(batch, async (entries) => {
        const messages = entries.map((e, i) => ({ id: `${e.good ? 'good' : 'junk'}-${i}`, body: e.good ? BODY.get(e.file)! : e.body }));
        const goods = messages.filter((m) => m.id.startsWith('good-'));

        const mixed = await handle(messages);
        const alone = await handle(goods);

        expect([...mixed.dispositions.keys()].sort()).toEqual(messages.map((m) => m.id).sort());
        for (const m of goods) {
          expect(alone.dispositions.get(m.id)).toBe<Disposition>('delete');
          expect(mixed.dispositions.get(m.id)).toBe<Disposition>('delete');
        }
        for (const m of messages.filter((m) => m.id.startsWith('junk-'))) expect(['delete', 'dead-letter']).toContain(mixed.dispositions.get(m.id));
        expect(mixed.restarts).toEqual(alone.restarts);
        expect(mixed.statuses).toEqual(alone.statuses);
        expect(mixed.events).toEqual(alone.events);
      }),
      { numRuns: 150 },
    );
  });

  it('a failed call with a crafted errorCode is acknowledged on its own and its neighbour still restarts', async () => {
    const crafted = JSON.parse(fixture('cloudtrail-put-secret-value-access-denied.json'));
    crafted.detail.errorCode = { toString: 1 };
    const { dispositions, restarts } = await handle([
      { id: 'good', body: fixture('native-label-updated-awscurrent.json') },
      { id: 'crafted', body: JSON.stringify(crafted) },
    ]);
    expect(Object.fromEntries(dispositions)).toEqual({ good: 'delete', crafted: 'delete' });
    expect(restarts).toHaveLength(4);
  });
});
