import fs from 'node:fs';
import { interpretMessage, MAX_BODY_BYTES, MAX_EVENT_ID_CHARS, type Interpretation } from '../../../src/events/interpret';
import { parseSecretId, secretRefsMatch } from '../../../src/secrets/secretId';
import { FIXTURES, fixture, manifest } from '../../support/fixtures';

const FULL_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:eks-controller-test-secret-AbC123';

function change(i: Interpretation) {
  if (i.type !== 'change') throw new Error(`expected a change, got ${JSON.stringify(i)}`);
  return i.change;
}

describe('interpretMessage over every fixture', () => {
  it('has a manifest entry for every fixture file', () => {
    const files = fs.readdirSync(FIXTURES).filter((f) => !['README.md', 'manifest.json'].includes(f));
    expect(manifest.map((c) => c.file).sort()).toEqual(files.sort());
  });

  it.each(manifest.map((c) => [c.file, c] as const))('%s', (file, expected) => {
    const result = interpretMessage(fixture(file));
    expect(result.type).toBe(expected.outcome);
    if (result.type === 'change') {
      // The change may carry a more precise id (a response ARN) than the one the fixture lists.
      expect(secretRefsMatch(result.change.secret, parseSecretId(expected.secretId!))).toBe(true);
      expect(result.change.versionId).toBe(expected.versionId ?? undefined);
      expect(result.change.eventId).toMatch(/\S/);
      expect(result.change.region).toBe('us-east-1');
      expect(result.change.account).toBe('123456789012');
    }
  });
});

describe('interpretMessage: what each change carries', () => {
  it('native AWSCURRENT label move: full ARN from resources, version and time', () => {
    const c = change(interpretMessage(fixture('native-label-updated-awscurrent.json')));
    expect(c.kind).toBe('SecretLabelUpdated');
    expect(c.secret.readings).toEqual([{ name: 'eks-controller-test-secret', fullArn: FULL_ARN }]);
    expect(c.eventTime).toBe(JSON.parse(fixture('native-label-updated-awscurrent.json')).time);
  });

  describe('a partial ARN in resources[0] is not read as a full ARN', () => {
    // A partial ARN whose name ends in `-` and 6 letters (`…-secret`) looks like a full ARN.
    const PARTIAL = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:eks-controller-test-secret';
    const withResource = (resource: string, name?: string) => {
      const body = JSON.parse(fixture('native-label-updated-awscurrent.json'));
      body.resources = [resource];
      if (name === undefined) delete body.detail.name;
      else body.detail.name = name;
      return change(interpretMessage(JSON.stringify(body)));
    };

    it('detail.name says which: its own ARN is partial, its ARN plus a suffix is full', () => {
      expect(withResource(PARTIAL, 'eks-controller-test-secret').secret.readings).toEqual([{ name: 'eks-controller-test-secret' }]);
      expect(withResource(FULL_ARN, 'eks-controller-test-secret').secret.readings).toEqual([{ name: 'eks-controller-test-secret', fullArn: FULL_ARN }]);
    });

    it('without detail.name both readings stand (DescribeSecret settles which): a mapping by name still matches', () => {
      const secret = withResource(PARTIAL).secret;
      expect(secretRefsMatch(secret, parseSecretId('eks-controller-test-secret'))).toBe(true);
      expect(secret.readings).toContainEqual({ name: 'eks-controller-test-secret' });
    });
  });

  describe('event ids are bounded', () => {
    const withId = (id: string) => {
      const body = JSON.parse(fixture('native-label-updated-awscurrent.json'));
      body.id = id;
      return interpretMessage(JSON.stringify(body));
    };

    it(`an id of up to ${MAX_EVENT_ID_CHARS} characters is kept whole`, () => {
      expect(change(withId('e'.repeat(MAX_EVENT_ID_CHARS))).eventId).toHaveLength(MAX_EVENT_ID_CHARS);
    });

    it('a longer one (200 KB) is malformed InvalidField, never dropped silently, and only a clipped id reaches the error (logs)', () => {
      const r = withId('e'.repeat(200_000));
      expect(r).toMatchObject({ type: 'parse-error', error: { code: 'InvalidField' } });
      if (r.type !== 'parse-error') return;
      expect(r.error.message).toMatch(/"id" is longer than 256 characters/);
      expect(r.error.eventId!.length).toBeLessThanOrEqual(MAX_EVENT_ID_CHARS);
      expect(r.error.eventId!.startsWith('eeee')).toBe(true);
    });

    it('a long id of a foreign or shapeless event is clipped in its error too', () => {
      const foreign = interpretMessage(JSON.stringify({ id: 'f'.repeat(200_000), source: 'aws.ec2', 'detail-type': 'x', detail: {} }));
      expect(foreign).toMatchObject({ type: 'parse-error', error: { code: 'ForeignSource' } });
      if (foreign.type === 'parse-error') expect(foreign.error.eventId!.length).toBeLessThanOrEqual(MAX_EVENT_ID_CHARS);
    });
  });

  it('an SNS envelope is unwrapped to the same change', () => {
    const direct = change(interpretMessage(fixture('native-label-updated-awscurrent.json')));
    const wrapped = change(interpretMessage(fixture('sns-wrapped-native-label-updated.json')));
    expect(wrapped).toEqual(direct);
  });

  it('PutSecretValue prefers the full ARN of the response over the requested id', () => {
    const c = change(interpretMessage(fixture('cloudtrail-put-secret-value-no-stages.json')));
    expect(c.kind).toBe('PutSecretValue');
    expect(c.secret.readings).toEqual([{ name: 'eks-controller-test-secret', fullArn: FULL_ARN }]);
  });

  it('PutSecretValue by name without response elements takes region and account from the record', () => {
    const body = JSON.parse(fixture('cloudtrail-put-secret-value-no-stages.json'));
    body.detail.responseElements = null;
    const c = change(interpretMessage(JSON.stringify(body)));
    expect(c.secret.readings).toEqual([{ name: 'eks-controller-test-secret' }]);
    expect(c.secret.region).toBe('us-east-1');
    expect(c.secret.account).toBe('123456789012');
  });

  it('UpdateSecret with the old aRN key uses it as the full ARN', () => {
    const c = change(interpretMessage(fixture('cloudtrail-update-secret-old-aRN-key.json')));
    expect(c.kind).toBe('UpdateSecret');
    expect(c.secret.readings).toEqual([{ name: 'eks-controller-test-secret', fullArn: FULL_ARN }]);
  });

  it('RotationSucceeded carries no version: the shell resolves AWSCURRENT', () => {
    const c = change(interpretMessage(fixture('service-event-rotation-succeeded.json')));
    expect(c.kind).toBe('RotationSucceeded');
    expect(c.versionId).toBeUndefined();
    expect(c.secret.readings[0].fullArn).toBe(FULL_ARN);
  });

  it('UpdateSecretVersionStage rolls to moveToVersionId', () => {
    const c = change(interpretMessage(fixture('cloudtrail-update-secret-version-stage-awscurrent.json')));
    expect(c.kind).toBe('UpdateSecretVersionStage');
    expect(c.versionId).toMatch(/^e0d47a3b/);
  });
});

describe('interpretMessage: not a change, with a reason', () => {
  it.each([
    ['native-label-updated-custom-label.json', 'NotAwsCurrent'],
    ['cloudtrail-put-secret-value-awspending.json', 'NotAwsCurrent'],
    ['cloudtrail-update-secret-description-only.json', 'NoNewVersion'],
    ['cloudtrail-update-secret-version-stage-custom.json', 'NotAwsCurrent'],
    ['cloudtrail-update-secret-version-stage-remove-only.json', 'NoNewVersion'],
    ['service-event-rotation-failed.json', 'NotAChange'],
    ['service-event-rotation-started.json', 'NotAChange'],
    ['cloudtrail-rotate-secret.json', 'NotAChange'],
    ['cloudtrail-put-secret-value-access-denied.json', 'CallFailed'],
  ])('%s → %s', (file, reason) => {
    const r = interpretMessage(fixture(file));
    if (r.type !== 'not-a-change') throw new Error(`expected not-a-change, got ${r.type}`);
    expect(r.notAChange.reason).toBe(reason);
    expect(r.notAChange.eventId).toMatch(/\S/);
  });

  it('an EventBridge detail-type we do not know is acknowledged, not dead-lettered', () => {
    const r = interpretMessage(JSON.stringify({ id: 'e1', source: 'aws.secretsmanager', 'detail-type': 'Something New', detail: {} }));
    expect(r.type).toBe('not-a-change');
  });
});

describe('interpretMessage: garbage is a typed parse error, never a throw', () => {
  const code = (body: string) => {
    const r = interpretMessage(body);
    if (r.type !== 'parse-error') throw new Error(`expected parse-error, got ${r.type}`);
    return r.error.code;
  };

  it.each([
    ['empty-body.txt', 'EmptyBody'],
    ['not-json.txt', 'NotJson'],
    ['json-array.json', 'NotAnEvent'],
    ['foreign-source-ec2.json', 'ForeignSource'],
    ['missing-detail.json', 'MissingField'],
    ['missing-secret-id.json', 'MissingField'],
  ])('%s → %s', (file, expected) => expect(code(fixture(file))).toBe(expected));

  it('an oversized body', () => expect(code(`{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`)).toBe('TooLarge'));
  it('deeply nested JSON', () => expect(code(`${'['.repeat(50_000)}${']'.repeat(50_000)}`)).toBe('NotAnEvent'));
  it('deeply nested detail in a secrets manager event is read without recursion', () => {
    const detail = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
    const r = interpretMessage(`{"id":"e","source":"aws.secretsmanager","detail-type":"Secret Label Updated","detail":${detail}}`);
    expect(r.type).toBe('not-a-change');
  });
  it('invalid UTF-8 decoded with replacement characters', () => expect(code(Buffer.from([0x7b, 0xff, 0xfe, 0x22]).toString('utf8'))).toBe('NotJson'));
  it('a JSON string or number', () => {
    expect(code('"hello"')).toBe('NotAnEvent');
    expect(code('42')).toBe('NotAnEvent');
  });
  it('an SNS envelope whose Message is not an event', () => expect(code(JSON.stringify({ Type: 'Notification', Message: 'hi' }))).toBe('NotJson'));
  it('an event without id', () => expect(code(JSON.stringify({ source: 'aws.secretsmanager', 'detail-type': 'Secret Label Updated', detail: {} }))).toBe('MissingField'));
  it('a CloudTrail record from another service', () =>
    expect(code(JSON.stringify({ id: 'e', source: 'aws.secretsmanager', 'detail-type': 'AWS API Call via CloudTrail', detail: { eventSource: 's3.amazonaws.com', eventName: 'PutObject' } }))).toBe('ForeignSource'));
  it('a secret id that is not a name or ARN', () =>
    expect(
      code(
        JSON.stringify({
          id: 'e',
          source: 'aws.secretsmanager',
          'detail-type': 'AWS API Call via CloudTrail',
          detail: { eventSource: 'secretsmanager.amazonaws.com', eventName: 'PutSecretValue', requestParameters: { secretId: 'bad id with spaces' } },
        }),
      ),
    ).toBe('InvalidField'));
  it('an exception it did not foresee is a parse error with code Unexpected, not a throw', () => {
    const secretId = '../../../src/secrets/secretId';
    jest.isolateModules(() => {
      jest.doMock(secretId, () => ({
        ...jest.requireActual(secretId),
        parseSecretId: () => {
          throw new TypeError('a defect of ours');
        },
      }));
      const isolated: typeof import('../../../src/events/interpret') = require('../../../src/events/interpret');
      expect(isolated.interpretMessage(fixture('native-label-updated-awscurrent.json'))).toMatchObject({
        type: 'parse-error',
        error: { code: 'Unexpected', message: 'interpreting the message failed: TypeError: a defect of ours' },
      });
    });
    jest.dontMock(secretId);
  });
});
