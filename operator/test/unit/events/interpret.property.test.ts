import fc from 'fast-check';
import { interpretMessage, MAX_BODY_BYTES } from '../../../src/events/interpret';
import { parseSecretId, secretRefsMatch } from '../../../src/secrets/secretId';
import { fixture } from '../../support/fixtures';
import { anyBody, anyJson, assertWellFormed, eventAroundAnyDetail, messageOf, mutatedEvent } from './arbitraries';

const interpretsWellFormed = (body: string) => assertWellFormed(interpretMessage(body));

describe('interpretMessage never throws and always returns one well-formed outcome', () => {
  it('for any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), interpretsWellFormed), { numRuns: 300 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), interpretsWellFormed), { numRuns: 100 });
  });

  it('for any JSON value', () => {
    fc.assert(fc.property(anyJson, (v) => interpretsWellFormed(JSON.stringify(v) ?? 'null')), { numRuns: 300 });
  });

  it('for a Secrets Manager event whose fields are absent, plausible or any JSON value', () => {
    fc.assert(fc.property(eventAroundAnyDetail, interpretsWellFormed), { numRuns: 1000 });
  });

  it('for a real event with fields replaced by any JSON value, added or deleted', () => {
    fc.assert(fc.property(mutatedEvent(), interpretsWellFormed), { numRuns: 1000 });
  });
});

/** Generous: every message the interpreter writes is a sentence, with untrusted values cut short. */
const MAX_MESSAGE = 1024;

describe('interpretMessage renders untrusted values without trusting them', () => {
  it('its messages stay short whatever the body', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        expect(messageOf(interpretMessage(body)).length).toBeLessThanOrEqual(MAX_MESSAGE);
      }),
      { numRuns: 300 },
    );
  });

  const accessDenied = () => JSON.parse(fixture('cloudtrail-put-secret-value-access-denied.json'));
  const putNoStages = () => JSON.parse(fixture('cloudtrail-put-secret-value-no-stages.json'));

  it.each([
    ['an object with a non-function toString', { toString: 1 }],
    ['an object with non-function toString and valueOf', { toString: 'x', valueOf: null }],
    ['an array holding such an object', [{ toString: [] }]],
    ['an object with a __proto__ key', JSON.parse('{"__proto__":{"toString":1}}')],
    ['a number', 403],
  ])('a failed call whose errorCode is %s is still the failed call', (_, errorCode) => {
    const body = accessDenied();
    body.detail.errorCode = errorCode;
    const r = interpretMessage(JSON.stringify(body));
    assertWellFormed(r);
    expect(r).toMatchObject({ type: 'not-a-change', notAChange: { reason: 'CallFailed' } });
  });

  it('a failed call keeps its error code in the message', () => {
    const r = interpretMessage(fixture('cloudtrail-put-secret-value-access-denied.json'));
    expect(r).toMatchObject({ notAChange: { message: 'PutSecretValue failed with AccessDenied' } });
  });

  // JSON.parse reads nesting this deep; JSON.stringify (and any recursive renderer) overflows the stack.
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const withRaw = (event: object, path: string, raw: string) => JSON.stringify(event).replace(`"${path}":`, `"${path}":${raw},"${path}-was":`);

  it.each(['versionStages', 'errorCode', 'secretId'])('requestParameters or detail field %s nested 100,000 deep', (field) => {
    const event = putNoStages();
    if (field === 'errorCode') event.detail.errorCode = 'placeholder';
    else event.detail.requestParameters[field] = 'placeholder';
    const body = withRaw(event, field, deep(100_000));
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    assertWellFormed(interpretMessage(body));
  });

  it('a huge versionStages array makes a short message', () => {
    const event = putNoStages();
    event.detail.requestParameters.versionStages = Array.from({ length: 20_000 }, () => 'AWSPENDING');
    const r = interpretMessage(JSON.stringify(event));
    expect(r).toMatchObject({ type: 'not-a-change', notAChange: { reason: 'NotAwsCurrent' } });
    expect(messageOf(r).length).toBeLessThanOrEqual(MAX_MESSAGE);
  });

  it('a long foreign source, event name or error code makes a short message', () => {
    const foreign = JSON.parse(fixture('foreign-source-ec2.json'));
    foreign.source = 'x'.repeat(200_000);
    const named = accessDenied();
    named.detail.eventName = 'y'.repeat(200_000);
    const coded = accessDenied();
    coded.detail.errorCode = 'z'.repeat(200_000);
    for (const body of [foreign, named, coded]) expect(messageOf(interpretMessage(JSON.stringify(body))).length).toBeLessThanOrEqual(MAX_MESSAGE);
  });
});

describe('resources[0]: full or partial ARN, whatever the name looks like', () => {
  const ARN_PREFIX = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';
  const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
  const six = fc.string({ unit: alnum, minLength: 6, maxLength: 6 });
  // Names that end like a random suffix (`db-secret`, `a/b-AbC123`) are the hard case.
  const name = fc.tuple(fc.string({ unit: fc.constantFrom(...'abc/_+=.@-'), minLength: 1, maxLength: 12 }), fc.oneof(six, fc.string({ unit: alnum, minLength: 1, maxLength: 8 }))).map(([a, b]) => `${a}-${b}`);
  const event = (resource: string, n: string | undefined) =>
    JSON.stringify({ id: 'e-1', source: 'aws.secretsmanager', 'detail-type': 'Secret Label Updated', region: 'us-east-1', account: '123456789012', resources: [resource], detail: { labelUpdated: 'AWSCURRENT', versionId: 'v', ...(n ? { name: n } : {}) } });
  const secretOf = (body: string) => {
    const i = interpretMessage(body);
    if (i.type !== 'change') throw new Error(`not a change: ${JSON.stringify(i)}`);
    return i.change.secret;
  };

  it('with detail.name: the partial ARN reads as that name only, the full ARN as that name with its full ARN', () => {
    fc.assert(
      fc.property(name, six, (n, suffix) => {
        expect(secretOf(event(`${ARN_PREFIX}${n}`, n)).readings).toEqual([{ name: n }]);
        expect(secretOf(event(`${ARN_PREFIX}${n}-${suffix}`, n)).readings).toEqual([{ name: n, fullArn: `${ARN_PREFIX}${n}-${suffix}` }]);
      }),
      { numRuns: 300 },
    );
  });

  it('without detail.name: a mapping naming the secret by name still matches a partial ARN', () => {
    fc.assert(
      fc.property(name, (n) => expect(secretRefsMatch(secretOf(event(`${ARN_PREFIX}${n}`, undefined)), parseSecretId(n))).toBe(true)),
      { numRuns: 300 },
    );
  });
});
