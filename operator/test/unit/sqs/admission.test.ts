import { interpretMessage } from '../../../src/events/interpret';
import { admit, allowed, DISPOSITION_OF, type AllowList } from '../../../src/sqs/admission';
import { parseSecretId } from '../../../src/secrets/secretId';
import { secretChange } from '../../support/builders';
import { fixture } from '../../support/fixtures';

const ANY: AllowList = { accountIds: [], regions: [] };
const admitFile = (file: string, allow = ANY) => admit(interpretMessage(fixture(file)), allow);

describe('admit', () => {
  it('a change is acted on', () => {
    expect(admitFile('native-label-updated-awscurrent.json')).toMatchObject({ verdict: 'change', change: { kind: 'SecretLabelUpdated' } });
  });

  it('a body we do not understand is malformed and goes to the dead-letter queue', () => {
    const a = admitFile('not-json.txt');
    expect(a).toMatchObject({ verdict: 'malformed', error: { code: 'NotJson' } });
    expect(DISPOSITION_OF.malformed).toBe('dead-letter');
  });

  it('an event that changes no secret is acknowledged', () => {
    expect(admitFile('cloudtrail-put-secret-value-awspending.json')).toMatchObject({ verdict: 'not-a-change' });
    expect(DISPOSITION_OF['not-a-change']).toBe('delete');
  });

  it('a change outside the allow-list is acknowledged and not acted on', () => {
    expect(admitFile('native-label-updated-awscurrent.json', { accountIds: ['210987654321'], regions: [] })).toMatchObject({ verdict: 'not-allowed' });
    expect(DISPOSITION_OF['not-allowed']).toBe('delete');
  });
});

describe('allowed', () => {
  const c = secretChange('e1', 'v1'); // envelope and ARN: us-east-1, 123456789012
  const bare = { ...c, account: undefined, region: undefined, secret: parseSecretId('app') };
  const split = { ...c, account: '210987654321' }; // the envelope names another account than the ARN

  it.each([
    ['no allow-list admits anything', c, ANY, true],
    ['no allow-list admits an event naming no account or region', bare, ANY, true],
    ['a listed account and region', c, { accountIds: ['123456789012'], regions: ['us-east-1'] }, true],
    ['an unlisted account', c, { accountIds: ['210987654321'], regions: [] }, false],
    ['an unlisted region', c, { accountIds: [], regions: ['eu-west-1'] }, false],
    ['an event naming no account, with an account allow-list', bare, { accountIds: ['123456789012'], regions: [] }, false],
    ['an event naming no region, with a region allow-list', bare, { accountIds: [], regions: ['us-east-1'] }, false],
    ['every account it names must be listed', split, { accountIds: ['123456789012'], regions: [] }, false],
    ['both accounts it names listed', split, { accountIds: ['123456789012', '210987654321'], regions: [] }, true],
  ] as const)('%s', (_name, change, allow, expected) => {
    expect(allowed(change, allow)).toBe(expected);
  });
});
