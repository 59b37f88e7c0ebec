import { settleChange } from '../../../src/rotation/settle';
import { SECRET_ARN, SECRET_KEY, secretChange } from '../../support/builders';

describe('settleChange', () => {
  const admitted = { changeId: 'm1', change: secretChange('e1', 'v-event', undefined, 'eks-controller-test-secret'), sentAt: 1234 };

  it('with Secrets Manager\'s answer: its exact identity and its AWSCURRENT version', () => {
    const r = settleChange(admitted, { arn: SECRET_ARN, name: 'app', currentVersion: 'v-current' });
    expect(r).toMatchObject({ changeId: 'm1', secretKey: SECRET_KEY, version: 'v-current', sentAt: 1234, change: { eventId: 'e1', secret: { raw: SECRET_ARN } } });
  });

  it('without an answer (or one without AWSCURRENT): the event\'s own version', () => {
    expect(settleChange(admitted, undefined)).toMatchObject({ version: 'v-event', secretKey: 'eks-controller-test-secret', change: { secret: { raw: 'eks-controller-test-secret' } } });
    expect(settleChange(admitted, { arn: SECRET_ARN, name: 'app' })).toMatchObject({ version: 'v-event', secretKey: SECRET_KEY });
  });

  it("an answer older than the event (DescribeSecret briefly stale after the write) does not take the event's version back", () => {
    const event = { changeId: 'm3', change: secretChange('e3', 'v3', '2026-12-07T12:00:00Z') };
    const stale = { arn: SECRET_ARN, name: 'app', currentVersion: 'v2', versions: { v2: ['AWSCURRENT'], v1: ['AWSPREVIOUS'] }, lastChanged: '2026-12-07T11:58:00Z' };
    expect(settleChange(event, stale)).toMatchObject({ version: 'v3', secretKey: SECRET_KEY });
    // A newer answer wins: the event's version is already AWSPREVIOUS (a late or redelivered event).
    const newer = { ...stale, currentVersion: 'v4', versions: { v4: ['AWSCURRENT'], v3: ['AWSPREVIOUS'] } };
    expect(settleChange(event, newer)).toMatchObject({ version: 'v4' });
  });

  it('a burst within one second settles on the newest version the read shows: v1 gone from the labels, v3 written in the same second as v1\'s event', () => {
    // Event times are whole seconds: v1's event at 12:00:00, v2 and v3 written by 12:00:00.400.
    const v1Event = { changeId: 'm1', change: secretChange('e1', 'v1', '2026-12-07T12:00:00Z') };
    const read = { arn: SECRET_ARN, name: 'app', currentVersion: 'v3', versions: { v3: ['AWSCURRENT'], v2: ['AWSPREVIOUS'] }, lastChanged: '2026-12-07T12:00:00.400Z' };
    expect(settleChange(v1Event, read)).toMatchObject({ version: 'v3' });
    // A read changed in an earlier second than the event is older: the event's version stands.
    expect(settleChange(v1Event, { ...read, lastChanged: '2026-12-07T11:59:59.900Z' })).toMatchObject({ version: 'v1' });
  });

  it('no version anywhere: unresolved, never a made-up one', () => {
    const noVersion = { changeId: 'm2', change: secretChange('e2', undefined) };
    expect(settleChange(noVersion, undefined)).toBeUndefined();
    expect(settleChange(noVersion, { arn: SECRET_ARN, name: 'app' })).toBeUndefined();
  });
});
