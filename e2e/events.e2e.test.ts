/**
 * Issue 5, cases 1-3: which Secrets Manager events restart workloads and which do not.
 * Every change is made for real in moto (put-secret-value, update-secret-version-stage,
 * update-secret) and then the event AWS would send goes through the real EventBridge
 * rule into the real queue. The operator is the chart's, running as its ServiceAccount,
 * in namespaced mode (watchNamespaces = the test namespace).
 */
import type { Secret } from './support/aws';
import {
  apiCallDetail,
  endScenario,
  eventBody,
  linesFor,
  eventReasons,
  expectUntouched,
  moveStage,
  rand,
  snapshot,
  stagesOf,
  startScenario,
  updateDescription,
  value,
  waitForEventLog,
  waitForNewPods,
  waitLastRotation,
  waitMappingSynced,
  waitQueueEmpty,
  type Scenario,
  type Snapshot,
} from './support/scenario';

jest.setTimeout(240_000);

const API_CALL = 'AWS API Call via CloudTrail';

let s: Scenario;
let ns: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'events', namespaces: ['events'], watchOwnNamespaces: true });
  ns = s.namespaces[0];
});

afterAll(async () => {
  await endScenario(s);
});

/** A secret, a Deployment labelled for it and a mapping, taken in by the operator. */
async function mapped(label: string): Promise<{ secret: Secret; before: Snapshot; mapping: string }> {
  const secret = await s.ctx.aws.createSecret(`events-${label}-${rand()}`, value());
  await s.ctx.kube.createWorkload('Deployment', ns, label, { app: label });
  const mapping = `${label}-secret`;
  await s.ctx.kube.createMapping(ns, mapping, { secretId: secret.name, selector: { matchLabels: { app: label } } });
  const before = await snapshot(s.ctx, 'Deployment', ns, label);
  await waitMappingSynced(s.ctx, ns, mapping, secret.version);
  return { secret, before, mapping };
}

/**
 * Sends an event that must not restart anything twice: through the real EventBridge
 * rule (which, by its pattern, does not even deliver it) and straight into the queue
 * (as a broader, hand-written rule would deliver it). Resolves once the operator has
 * acknowledged the direct copy as "not a change" and the queue is empty: by then the
 * routed copy, had it been delivered, would have been handled too.
 */
async function sendNonChange(e: { detailType: string; detail: Record<string, unknown>; resources?: string[] }, reason: string): Promise<void> {
  const routedId = await s.ctx.aws.put({ DetailType: e.detailType, Detail: e.detail, Resources: e.resources });
  const direct = eventBody(s.ctx, e);
  await s.ctx.aws.sendRaw(direct.body);
  const line = await waitForEventLog(s.op, direct.id, 'event does not change a secret; acknowledged');
  expect(line.reason).toBe(reason);
  await waitQueueEmpty(s.ctx);
  expect(linesFor(s.op, routedId)).toEqual([]);
}

async function expectRolledTo(m: { secret: Secret; before: Snapshot; mapping: string }, version: string): Promise<void> {
  await waitForNewPods(s.ctx, m.before);
  expect(await s.ctx.kube.replicaSetCount(ns, m.before.name)).toBe(2);
  expect(Object.values(await s.ctx.kube.appliedVersions('Deployment', ns, m.before.name))).toEqual([version]);
  const status = (await waitLastRotation(s.ctx, ns, m.mapping, version)).status!;
  expect(status.lastRotation).toMatchObject({ secretVersion: version, workloads: [{ kind: 'Deployment', name: m.before.name, result: 'Restarted' }] });
  await waitQueueEmpty(s.ctx);
}

describe('native Secret Label Updated', () => {
  test('AWSCURRENT moving rolls the mapped Deployment, records the version on the status and emits a Rotated Event', async () => {
    const m = await mapped('native');
    const rotated = await s.ctx.aws.putSecretValue(m.secret, value());
    const eventId = await s.ctx.aws.sendLabelUpdated(rotated);

    await expectRolledTo(m, rotated.version);
    const status = (await s.ctx.kube.mapping(ns, m.mapping)).status!;
    expect(status.lastRotation!.eventId).toBe(eventId);
    expect(status.appliedVersion).toBe(rotated.version);
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'RotationSucceeded', status: 'True' }));
    const events = await s.ctx.kube.eventsFor(ns, m.mapping);
    const rotatedEvent = events.find((e) => e.reason === 'Rotated');
    expect(rotatedEvent).toBeDefined();
    expect(rotatedEvent!.type).toBe('Normal');
    expect(rotatedEvent!.message).toContain(rotated.version);
  });
});

describe('CloudTrail PutSecretValue', () => {
  test('without versionStages (the new version becomes AWSCURRENT) rolls the Deployment', async () => {
    const m = await mapped('put-plain');
    const rotated = await s.ctx.aws.putSecretValue(m.secret, value());
    await s.ctx.aws.sendApiCall('PutSecretValue', { secretId: m.secret.name, clientRequestToken: rotated.version }, { arn: rotated.arn });

    await expectRolledTo(m, rotated.version);
    expect(await eventReasons(s.ctx, ns, m.mapping)).toContain('Rotated');
  });

  test('with versionStages [AWSPENDING] (a rotation Lambda staging a value) restarts nothing', async () => {
    const m = await mapped('put-pending');
    const pending = await s.ctx.aws.putSecretValue(m.secret, value(), ['AWSPENDING']);
    expect((await stagesOf(s.ctx, m.secret))[m.secret.version]).toContain('AWSCURRENT');
    await sendNonChange(
      { detailType: API_CALL, detail: apiCallDetail(s.ctx, 'PutSecretValue', { secretId: m.secret.arn, clientRequestToken: pending.version, versionStages: ['AWSPENDING'] }, { arn: pending.arn }) },
      'NotAwsCurrent',
    );

    await expectUntouched(s.ctx, m.before);
    expect(await s.ctx.kube.replicaSetCount(ns, m.before.name)).toBe(1);
    expect((await s.ctx.kube.mapping(ns, m.mapping)).status?.lastRotation).toBeUndefined();
  });
});

describe('CloudTrail UpdateSecretVersionStage, UpdateSecret and rotation service events', () => {
  test('UpdateSecretVersionStage moving AWSCURRENT to a staged version rolls the Deployment', async () => {
    const m = await mapped('stage');
    const pending = await s.ctx.aws.putSecretValue(m.secret, value(), ['AWSPENDING']);
    await moveStage(s.ctx, m.secret, 'AWSCURRENT', pending.version, m.secret.version);
    await s.ctx.aws.sendApiCall(
      'UpdateSecretVersionStage',
      { secretId: m.secret.arn, versionStage: 'AWSCURRENT', moveToVersionId: pending.version, removeFromVersionId: m.secret.version },
      { arn: m.secret.arn, name: m.secret.name },
    );

    await expectRolledTo(m, pending.version);
  });

  test('UpdateSecret changing only the description restarts nothing', async () => {
    const m = await mapped('describe');
    await updateDescription(s.ctx, m.secret, `description ${rand()}`);
    await sendNonChange({ detailType: API_CALL, detail: apiCallDetail(s.ctx, 'UpdateSecret', { secretId: m.secret.name, description: 'changed' }, { arn: m.secret.arn, name: m.secret.name }) }, 'NoNewVersion');

    await expectUntouched(s.ctx, m.before);
    expect(await s.ctx.kube.replicaSetCount(ns, m.before.name)).toBe(1);
  });

  test('RotationSucceeded (no version in the event) rolls the Deployment to the version that is AWSCURRENT now', async () => {
    const m = await mapped('rot-ok');
    // What a rotation Lambda does: createSecret stages AWSPENDING, finishSecret moves AWSCURRENT.
    const pending = await s.ctx.aws.putSecretValue(m.secret, value(), ['AWSPENDING']);
    await moveStage(s.ctx, m.secret, 'AWSCURRENT', pending.version, m.secret.version);
    await s.ctx.aws.sendServiceEvent('RotationSucceeded', m.secret);

    await expectRolledTo(m, pending.version);
  });

  test('RotationFailed restarts nothing', async () => {
    const m = await mapped('rot-fail');
    await s.ctx.aws.putSecretValue(m.secret, value(), ['AWSPENDING']);
    await sendNonChange(
      { detailType: 'AWS Service Event via CloudTrail', detail: apiCallDetail(s.ctx, 'RotationFailed', null, null, { eventType: 'AwsServiceEvent', additionalEventData: { SecretId: m.secret.arn } }) },
      'NotAChange',
    );

    await expectUntouched(s.ctx, m.before);
    expect(await s.ctx.kube.replicaSetCount(ns, m.before.name)).toBe(1);
    expect(await eventReasons(s.ctx, ns, m.mapping)).toEqual([]);
  });
});
