/**
 * Hostile SQS bodies for property tests of the interpreter and the batch handler:
 * arbitrary strings, JSON that favours the keys the interpreter reads and the ones the
 * runtime treats specially, and the real fixture events with fields replaced, added or
 * deleted at any path.
 */
import fc from 'fast-check';
import { isValidSecretId, canonicalSecretKey } from '../../../src/secrets/secretId';
import { MAX_EVENT_ID_CHARS, ParseError, type Interpretation } from '../../../src/events/interpret';
import { fixture, manifest } from '../../support/fixtures';

const FIXTURE_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:eks-controller-test-secret-AbC123';

/** Keys whose presence changes how the runtime renders or builds an object. */
const RUNTIME_KEYS = ['toString', 'valueOf', 'toJSON', '__proto__', 'constructor', 'hasOwnProperty', 'length', '0'];

/** Every field the interpreter reads, at its path in an event (or an SNS envelope). */
const READ_PATHS: readonly (readonly string[])[] = [
  ['Type'],
  ['Message'],
  ['id'],
  ['source'],
  ['detail-type'],
  ['time'],
  ['region'],
  ['account'],
  ['resources'],
  ['detail'],
  ['detail', 'labelUpdated'],
  ['detail', 'label'],
  ['detail', 'name'],
  ['detail', 'secretName'],
  ['detail', 'secretArn'],
  ['detail', 'arn'],
  ['detail', 'versionId'],
  ['detail', 'eventSource'],
  ['detail', 'eventName'],
  ['detail', 'eventTime'],
  ['detail', 'awsRegion'],
  ['detail', 'recipientAccountId'],
  ['detail', 'errorCode'],
  ['detail', 'requestParameters'],
  ['detail', 'requestParameters', 'secretId'],
  ['detail', 'requestParameters', 'versionStages'],
  ['detail', 'requestParameters', 'versionStage'],
  ['detail', 'requestParameters', 'moveToVersionId'],
  ['detail', 'requestParameters', 'clientRequestToken'],
  ['detail', 'responseElements'],
  ['detail', 'responseElements', 'arn'],
  ['detail', 'responseElements', 'aRN'],
  ['detail', 'responseElements', 'versionId'],
  ['detail', 'additionalEventData'],
  ['detail', 'additionalEventData', 'SecretId'],
  ['detail', 'additionalEventData', 'secretId'],
];

const KEYS = [...RUNTIME_KEYS, ...new Set(READ_PATHS.map((p) => p[p.length - 1]))];

const STRINGS = [
  '',
  ' ',
  'AWSCURRENT',
  'AWSPENDING',
  'aws.secretsmanager',
  'secretsmanager.amazonaws.com',
  'Notification',
  'Secret Label Updated',
  'AWS API Call via CloudTrail',
  'AWS Service Event via CloudTrail',
  'PutSecretValue',
  'UpdateSecret',
  'UpdateSecretVersionStage',
  'RotationSucceeded',
  'eks-controller-test-secret',
  FIXTURE_ARN,
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:',
  `arn:aws:secretsmanager:us-east-1:123456789012:secret:${'a'.repeat(600)}`,
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202e',
  '\ufeff',
  '\u{1F511}',
  'x'.repeat(5000),
  ...RUNTIME_KEYS,
];

export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  oddString,
);

/**
 * JSON values as JSON.parse would build them. `trap` is an object made of the keys the
 * runtime consults when it turns a value into a string ({"toString": 1} and the like).
 */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown>; trap: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, { arbitrary: leaf, weight: 3 }, { arbitrary: tie('trap'), weight: 2 }, { arbitrary: tie('array'), weight: 1 }, { arbitrary: tie('object'), weight: 1 }),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ unit: 'binary', maxLength: 8 })), tie('value'), { maxKeys: 4 }),
  trap: fc.record(Object.fromEntries(RUNTIME_KEYS.map((k) => [k, fc.oneof(leaf, tie('value'))])), { requiredKeys: [] }),
})).value;

export const anyJson: fc.Arbitrary<unknown> = fc.oneof(hostileJson, fc.jsonValue());

type Path = readonly (string | number)[];

export type Mutation = { readonly path: Path; readonly op: 'set'; readonly value: unknown } | { readonly path: Path; readonly op: 'delete' };

function pathsOf(v: unknown, at: Path = []): Path[] {
  if (v === null || typeof v !== 'object') return [at];
  const children: [string | number, unknown][] = Array.isArray(v) ? v.map((c, i) => [i, c]) : Object.entries(v);
  return [at, ...children.flatMap(([k, c]) => pathsOf(c, [...at, k]))];
}

/** Sets or deletes at `path`, creating missing parents; a path through a non-object is left alone. */
function mutate(root: unknown, m: Mutation): unknown {
  if (m.path.length === 0) return m.op === 'set' ? m.value : undefined;
  let node = root;
  for (const key of m.path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return root;
    const o = node as Record<string | number, unknown>;
    if (!Object.prototype.hasOwnProperty.call(o, key) || o[key] === null || typeof o[key] !== 'object') {
      // defineProperty, so a "__proto__" key is an own field as JSON.parse would make it.
      Object.defineProperty(o, key, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    node = o[key];
  }
  if (node === null || typeof node !== 'object') return root;
  const last = m.path[m.path.length - 1];
  if (m.op === 'delete') delete (node as Record<string | number, unknown>)[last];
  else Object.defineProperty(node, last, { value: m.value, enumerable: true, writable: true, configurable: true });
  return root;
}

/** The fixture files that are EventBridge events or SNS envelopes (not the garbage ones). */
export const eventFixtures: readonly string[] = manifest.filter((c) => c.outcome !== 'parse-error' || c.file === 'missing-secret-id.json' || c.file === 'missing-detail.json').map((c) => c.file);

const parsed = new Map(eventFixtures.map((f) => [f, JSON.parse(fixture(f)) as unknown]));

/**
 * A real event with one to three fields replaced by any JSON value, added or deleted.
 * Paths are either anywhere in the fixture or one of the fields the interpreter reads.
 * SNS envelopes are rebuilt around a mutated inner event half the time.
 */
export function mutatedEvent(files: readonly string[] = eventFixtures): fc.Arbitrary<string> {
  return fc.constantFrom(...files).chain((file) => {
    const original = parsed.get(file)!;
    const paths = pathsOf(original);
    const path = fc.oneof({ arbitrary: fc.constantFrom(...paths), weight: 1 }, { arbitrary: fc.constantFrom(...READ_PATHS), weight: 3 });
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      { arbitrary: fc.record({ path, op: fc.constant('set' as const), value: anyJson }), weight: 4 },
      { arbitrary: fc.record({ path, op: fc.constant('delete' as const) }), weight: 1 },
    );
    return fc.tuple(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([ms, wrapInSns]) => {
      const sns = original !== null && typeof original === 'object' && (original as Record<string, unknown>).Type === 'Notification';
      if (sns && wrapInSns) {
        const envelope = structuredClone(original) as Record<string, unknown>;
        const inner = ms.reduce(mutate, JSON.parse(envelope.Message as string) as unknown);
        return JSON.stringify({ ...envelope, Message: JSON.stringify(inner) ?? '' });
      }
      return JSON.stringify(ms.reduce(mutate, structuredClone(original))) ?? '';
    });
  });
}

/** A plausible value half the time, any JSON value otherwise. */
const plausible = (...values: unknown[]): fc.Arbitrary<unknown> => fc.oneof(fc.constantFrom(...values), hostileJson);

const secretIds = plausible('eks-controller-test-secret', FIXTURE_ARN, FIXTURE_ARN.replace(/-AbC123$/, ''));
const versions = plausible('5c2e9d71-8a3f-4b6e-a1d4-93f7c0e2b815', 'v2');
const maybe = { requiredKeys: [] as never[] };

/**
 * A Secrets Manager event whose every field is absent, plausible or any JSON value, so
 * that arbitrary values reach each branch of the interpreter, not only its first checks.
 */
export const eventAroundAnyDetail: fc.Arbitrary<string> = fc
  .record({
    id: plausible('e-1', 'i'.repeat(MAX_EVENT_ID_CHARS), 'i'.repeat(MAX_EVENT_ID_CHARS + 1), 'i'.repeat(200_000)),
    source: fc.constant('aws.secretsmanager'),
    'detail-type': plausible('Secret Label Updated', 'AWS API Call via CloudTrail', 'AWS Service Event via CloudTrail'),
    time: plausible('2025-03-11T09:14:27Z'),
    region: plausible('us-east-1'),
    account: plausible('123456789012'),
    resources: fc.oneof(fc.constant([FIXTURE_ARN]), anyJson),
    detail: fc.record(
      {
        labelUpdated: plausible('AWSCURRENT', 'blue'),
        label: plausible('AWSCURRENT'),
        name: secretIds,
        secretArn: secretIds,
        versionId: versions,
        eventSource: plausible('secretsmanager.amazonaws.com'),
        eventName: plausible('PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage', 'RotationSucceeded', 'RotateSecret'),
        eventTime: plausible('2025-03-11T09:14:27Z'),
        awsRegion: plausible('us-east-1'),
        recipientAccountId: plausible('123456789012'),
        errorCode: anyJson,
        requestParameters: fc.oneof(
          fc.record(
            {
              secretId: secretIds,
              versionStages: plausible(['AWSCURRENT'], ['AWSPENDING']),
              versionStage: plausible('AWSCURRENT'),
              moveToVersionId: versions,
              clientRequestToken: versions,
            },
            maybe,
          ),
          anyJson,
        ),
        responseElements: fc.oneof(fc.record({ arn: secretIds, aRN: secretIds, versionId: versions }, maybe), anyJson),
        additionalEventData: fc.oneof(fc.record({ SecretId: secretIds, secretId: secretIds }, maybe), anyJson),
      },
      maybe,
    ),
  }, { requiredKeys: ['source', 'detail'] })
  .map((e) => JSON.stringify(e));

/** Anything an SQS body could be. */
export const anyBody: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary' }),
  anyJson.map((v) => JSON.stringify(v) ?? ''),
  eventAroundAnyDetail,
  mutatedEvent(),
);

const PARSE_ERROR_CODES = new Set(['EmptyBody', 'TooLarge', 'NotJson', 'NotAnEvent', 'ForeignSource', 'MissingField', 'InvalidField', 'Unexpected']);

const absentOrNonEmpty = (v: unknown) => v === undefined || (typeof v === 'string' && v !== '');

/** Throws (failing the property) unless `i` is one of the three outcomes, well-formed. */
export function assertWellFormed(i: Interpretation): void {
  const fail = (why: string) => {
    throw new Error(`${why}: ${JSON.stringify(i)?.slice(0, 500)}`);
  };
  const eventId = i.type === 'change' ? i.change.eventId : i.type === 'not-a-change' ? i.notAChange.eventId : i.error.eventId;
  if (typeof eventId === 'string' && eventId.length > MAX_EVENT_ID_CHARS) fail(`an event id longer than ${MAX_EVENT_ID_CHARS} characters`);
  switch (i.type) {
    case 'change': {
      const c = i.change;
      if (typeof c.eventId !== 'string' || c.eventId === '') fail('a change without an event id');
      for (const f of [c.eventTime, c.region, c.account, c.versionId, c.secret.region, c.secret.account, c.secret.partition]) {
        if (!absentOrNonEmpty(f)) fail('an optional field that is neither absent nor a string');
      }
      if (typeof c.secret.raw !== 'string' || !isValidSecretId(c.secret.raw)) fail('a change whose secret id is not a name or ARN');
      if (c.secret.readings.length === 0) fail('a secret with no reading');
      for (const r of c.secret.readings) {
        if (!isValidSecretId(r.name)) fail('a reading whose name is not a secret name');
        if (r.fullArn !== undefined && r.fullArn !== c.secret.raw) fail('a full-ARN reading of another identifier');
      }
      if (typeof canonicalSecretKey(c.secret) !== 'string') fail('no canonical key');
      return;
    }
    case 'not-a-change': {
      const n = i.notAChange;
      if (typeof n.reason !== 'string' || !/^[A-Z][A-Za-z]+$/.test(n.reason)) fail('a reason that is not a CamelCase word');
      if (typeof n.message !== 'string') fail('a message that is not a string');
      if (!absentOrNonEmpty(n.secretId) || !absentOrNonEmpty(n.eventId)) fail('a secret or event id that is not a string');
      return;
    }
    case 'parse-error': {
      const e = i.error;
      if (!(e instanceof ParseError) || !PARSE_ERROR_CODES.has(e.code)) fail('a parse error without a known code');
      if (typeof e.message !== 'string') fail('a message that is not a string');
      if (!absentOrNonEmpty(e.eventId)) fail('an event id that is not a string');
      return;
    }
    default:
      fail('not one of the three outcomes');
  }
}

/** What the interpreter wrote for a person to read (it ends up in a log line). */
export function messageOf(i: Interpretation): string {
  return i.type === 'not-a-change' ? i.notAChange.message : i.type === 'parse-error' ? i.error.message : '';
}
