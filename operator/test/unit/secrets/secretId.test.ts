import { canonicalSecretKey, indexNames, inOwnRegion, InvalidSecretId, isValidSecretId, parseSecretId, resolvedSecretRef, secretRefsMatch } from '../../../src/secrets/secretId';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const arn = (name: string, region = REGION, account = ACCOUNT) => `arn:aws:secretsmanager:${region}:${account}:secret:${name}`;

/** What an event carrying a full ARN produced by AWS looks like. */
const fromEvent = (fullArn: string) => parseSecretId(fullArn, 'full');
const mapping = (id: string) => parseSecretId(id);
const match = (mappingId: string, eventRef: ReturnType<typeof parseSecretId>) => secretRefsMatch(mapping(mappingId), eventRef);

describe('a mapping matches events for the same secret in any form', () => {
  const full = arn('app-AbC123');
  const eventForms = {
    'full ARN (AWS-produced)': fromEvent(full),
    'full ARN (as requested)': parseSecretId(full),
    'partial ARN': parseSecretId(arn('app')),
    'name with event context': parseSecretId('app', 'unknown', { region: REGION, account: ACCOUNT }),
    'bare name': parseSecretId('app'),
  };
  const mappingForms = { name: 'app', 'partial ARN': arn('app'), 'full ARN': full };
  for (const [mName, mId] of Object.entries(mappingForms)) {
    for (const [eName, eRef] of Object.entries(eventForms)) {
      it(`mapping by ${mName} ↔ event with ${eName}`, () => expect(match(mId, eRef)).toBe(true));
    }
  }
});

describe('no false matches', () => {
  it('a secret "app" does not match events for "app-prod"', () => {
    expect(match('app', fromEvent(arn('app-prod-XyZ789')))).toBe(false);
    expect(match('app', parseSecretId('app-prod'))).toBe(false);
    expect(match(arn('app'), parseSecretId(arn('app-prod')))).toBe(false);
  });

  it('a name that looks like a suffix ("app-abcdef") is its own secret', () => {
    // Event for secret "app" whose full ARN happens to be app-QwErTy.
    expect(match('app-abcdef', fromEvent(arn('app-QwErTy')))).toBe(false);
    // Event for secret "app-abcdef" (its full ARN adds a suffix).
    expect(match('app-abcdef', fromEvent(arn('app-abcdef-QwErTy')))).toBe(true);
    expect(match('app', fromEvent(arn('app-abcdef-QwErTy')))).toBe(false);
  });

  it('an ambiguous mapping ARN matches only the secret it can denote', () => {
    // "…:secret:app-abcdef" is either the full ARN of "app" or the partial ARN of "app-abcdef".
    expect(match(arn('app-abcdef'), fromEvent(arn('app-abcdef')))).toBe(true); // it was the full ARN of app
    expect(match(arn('app-abcdef'), fromEvent(arn('app-abcdef-XyZ789')))).toBe(true); // partial ARN of app-abcdef
    expect(match(arn('app-abcdef'), fromEvent(arn('app-QwErTy')))).toBe(false); // another version of "app"? no: another secret
  });

  it('names containing "/" compare whole', () => {
    expect(match('prod/db/password', fromEvent(arn('prod/db/password-AbC123')))).toBe(true);
    expect(match('prod/db', fromEvent(arn('prod/db/password-AbC123')))).toBe(false);
    expect(match('db/password', fromEvent(arn('prod/db/password-AbC123')))).toBe(false);
  });

  it('region and account are respected when both sides carry them', () => {
    expect(match(arn('app', 'eu-west-1'), fromEvent(arn('app-AbC123')))).toBe(false);
    expect(match(arn('app', REGION, '210987654321'), fromEvent(arn('app-AbC123')))).toBe(false);
    expect(match('app', parseSecretId('app', 'unknown', { region: 'eu-west-1', account: ACCOUNT }))).toBe(true);
    expect(match(arn('app'), parseSecretId('app', 'unknown', { region: 'eu-west-1', account: ACCOUNT }))).toBe(false);
  });

  it('the partition is respected', () => {
    expect(match('arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:app', fromEvent(arn('app-AbC123', 'cn-north-1')))).toBe(false);
  });
});

describe('parsing', () => {
  it('rejects what is neither a name nor an ARN', () => {
    for (const bad of ['', 'has space', 'semi;colon', 'arn:aws:s3:::bucket', `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:`, 'x'.repeat(513)]) {
      expect(isValidSecretId(bad)).toBe(false);
      expect(() => parseSecretId(bad)).toThrow(InvalidSecretId);
    }
  });

  it('accepts every character Secrets Manager allows in names', () => expect(isValidSecretId('a/b_c+d=e.f@g-h')).toBe(true));

  it('keeps one reading for names and suffix-less ARNs, two for ambiguous ARNs', () => {
    expect(parseSecretId('app-abcdef').readings).toHaveLength(1);
    expect(parseSecretId(arn('app-prod')).readings).toHaveLength(1);
    expect(parseSecretId(arn('app-abcdef')).readings).toHaveLength(2);
    expect(parseSecretId(arn('app-abcdef'), 'full').readings).toEqual([{ name: 'app', fullArn: arn('app-abcdef') }]);
  });

  it('indexes an ambiguous ARN under both names', () => expect(indexNames(parseSecretId(arn('app-abcdef'))).sort()).toEqual(['app', 'app-abcdef']));

  it('a resolved reference is exact', () => {
    const r = resolvedSecretRef(arn('app-abcdef-XyZ789'), 'app-abcdef');
    expect(r.readings).toEqual([{ name: 'app-abcdef', fullArn: arn('app-abcdef-XyZ789') }]);
    expect(secretRefsMatch(mapping('app'), r)).toBe(false);
  });

  it('the canonical key is the partial ARN whatever the form', () => {
    const expected = arn('app');
    expect(canonicalSecretKey(fromEvent(arn('app-AbC123')))).toBe(expected);
    expect(canonicalSecretKey(parseSecretId('app', 'unknown', { region: REGION, account: ACCOUNT }))).toBe(expected);
    expect(canonicalSecretKey(parseSecretId(arn('app')))).toBe(expected);
    expect(canonicalSecretKey(parseSecretId('app'))).toBe('app');
  });
});

describe('inOwnRegion', () => {
  it('the first region named decides; none named means our own', () => {
    expect(inOwnRegion('us-east-1')).toBe(true);
    expect(inOwnRegion('us-east-1', undefined, undefined)).toBe(true);
    expect(inOwnRegion('us-east-1', 'us-east-1', 'eu-west-1')).toBe(true);
    expect(inOwnRegion('us-east-1', 'eu-west-1', 'us-east-1')).toBe(false);
    expect(inOwnRegion('us-east-1', undefined, 'eu-west-1')).toBe(false);
  });
});
