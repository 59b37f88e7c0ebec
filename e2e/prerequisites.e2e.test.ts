/**
 * The prerequisites template deployed into moto: the EventBridge rule really routes
 * exactly the fixture events that docs/architecture.md counts as changes into the queue.
 * moto emits no events itself, so the test does what a user does (CreateSecret,
 * PutSecretValue) and then sends, with PutEvents, the events AWS would have sent.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { deletePrerequisites, deployPrerequisites, TEMPLATE_PATH, type Prerequisites } from '../scripts/aws/prerequisites';
import { loadPatterns, type PatternKey } from '../scripts/aws/sync-event-pattern';
import { startMoto, type Moto } from './support/moto';

jest.setTimeout(120_000);

const REGION = 'us-east-1';
const SECRET_NAME = 'eks-controller-test-secret';
const FIXTURES = path.resolve(__dirname, '../operator/test/fixtures/events');
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

interface ManifestEntry {
  file: string;
  outcome: string;
  routed: Record<PatternKey, boolean> | null;
}
interface EventEnvelope {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

const manifest: ManifestEntry[] = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));
const sendable = manifest.filter((e): e is ManifestEntry & { routed: Record<PatternKey, boolean> } => e.routed !== null);
const fixture = (file: string): EventEnvelope => JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8'));

/** JSON with sorted keys, to compare what came out of the queue with what went in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

let moto: Moto;
let sqs: SQSClient;
let events: EventBridgeClient;

beforeAll(async () => {
  moto = await startMoto();
  const config = { endpoint: moto.endpoint, region: REGION, credentials };
  sqs = new SQSClient(config);
  events = new EventBridgeClient(config);

  // The user's side of the walkthrough; moto records it but sends no event for it.
  const secrets = new SecretsManagerClient(config);
  const created = await secrets.send(
    new CreateSecretCommand({ Name: SECRET_NAME, SecretString: '{"password":"e2e-placeholder-1"}' }),
  );
  expect(created.ARN).toMatch(new RegExp(`:secret:${SECRET_NAME}-[A-Za-z0-9]{6}$`));
  const put = await secrets.send(
    new PutSecretValueCommand({ SecretId: SECRET_NAME, SecretString: '{"password":"e2e-placeholder-2"}' }),
  );
  expect(put.VersionStages).toEqual(['AWSCURRENT']);
  secrets.destroy();
});

afterAll(async () => {
  sqs?.destroy();
  events?.destroy();
  await moto?.stop();
});

it('cfn-lint accepts the template', () => {
  const lint = spawnSync('cfn-lint', [TEMPLATE_PATH], { encoding: 'utf8' });
  expect(lint.error).toBeUndefined();
  expect({ status: lint.status, output: lint.stdout + lint.stderr }).toEqual({ status: 0, output: '' });
});

describe.each([
  ['default', false],
  ['withCloudTrail', true],
] as const)('with the %s pattern', (mode, includeCloudTrailEvents) => {
  let prerequisites: Prerequisites;

  beforeAll(async () => {
    prerequisites = await deployPrerequisites({ endpoint: moto.endpoint, region: REGION, includeCloudTrailEvents });
    await sqs.send(new PurgeQueueCommand({ QueueUrl: prerequisites.queueUrl }));
  });

  it('deploys a rule whose pattern is the one in scripts/event-patterns.json', async () => {
    const rule = await events.send(new DescribeRuleCommand({ Name: prerequisites.ruleName }));
    expect(JSON.parse(rule.EventPattern ?? 'null')).toEqual(loadPatterns()[mode]);
  });

  it('returns queue URLs on the emulator and the queue redrives to the dead-letter queue', async () => {
    expect(prerequisites.queueUrl.startsWith(moto.endpoint)).toBe(true);
    expect(prerequisites.deadLetterQueueUrl.startsWith(moto.endpoint)).toBe(true);
    expect(prerequisites.roleArn).toMatch(/^arn:aws:iam::123456789012:role\//);
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: prerequisites.queueUrl, AttributeNames: ['All'] }),
    );
    expect(attrs.Attributes?.QueueArn).toBe(prerequisites.queueArn);
    expect(JSON.parse(attrs.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: prerequisites.queueArn.replace(/-events$/, '-events-dlq'),
      maxReceiveCount: 5,
    });
    expect(attrs.Attributes?.SqsManagedSseEnabled).toBe('true');
  });

  it('routes into the queue exactly the fixtures the manifest marks as routed', async () => {
    const entries: PutEventsRequestEntry[] = sendable.map(({ file }) => {
      const event = fixture(file);
      return {
        Source: event.source,
        DetailType: event['detail-type'],
        Detail: JSON.stringify(event.detail),
        Resources: event.resources,
        Time: new Date(event.time),
      };
    });
    for (let i = 0; i < entries.length; i += 10) {
      const out = await events.send(new PutEventsCommand({ Entries: entries.slice(i, i + 10) }));
      expect(out.FailedEntryCount ?? 0).toBe(0);
    }

    const expected = sendable.filter((e) => e.routed[mode]).map((e) => e.file).sort();
    const bodies = await drain(prerequisites.queueUrl, expected.length);
    const byDetail = new Map(sendable.map(({ file }) => [canonical(fixture(file).detail), file]));
    const routed = bodies.map((body) => {
      const file = byDetail.get(canonical(body.detail));
      if (!file) throw new Error(`unexpected message in the queue: ${JSON.stringify(body)}`);
      // What EventBridge delivers has the shape the fixtures claim to have, except
      // that moto 5 leaves out `account` (its default target input lacks it; AWS
      // sends it).
      const sent = fixture(file);
      expect(body).not.toHaveProperty('account');
      expect([...Object.keys(body), 'account'].sort()).toEqual(Object.keys(sent).sort());
      expect([body.source, body['detail-type'], body.resources]).toEqual([
        sent.source,
        sent['detail-type'],
        sent.resources,
      ]);
      return file;
    });
    expect(routed.sort()).toEqual(expected);
  });
});

describe('role variants', () => {
  it('makes a role trusted by EKS Pod Identity', async () => {
    const out = await deployPrerequisites({
      endpoint: moto.endpoint,
      region: REGION,
      stackName: 'sro-pod-identity',
      parameters: { RoleTrust: 'podIdentity', OidcIssuer: '' },
    });
    expect(out.roleArn).toMatch(/^arn:aws:iam::123456789012:role\/sro-pod-identity-OperatorRole-/);
    await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-pod-identity' });
  });

  it('makes no role with CreateRole=false', async () => {
    const out = await deployPrerequisites({
      endpoint: moto.endpoint,
      region: REGION,
      stackName: 'sro-own-role',
      parameters: { CreateRole: 'false' },
    });
    expect(out.roleArn).toBe('');
    expect(out.queueUrl).toMatch(/\/sro-own-role-events$/);
    await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-own-role' });
  });
});

describe('fan-out topologies (many clusters: docs/many-clusters.md; the delivery itself is e2e/fanout.e2e.test.ts)', () => {
  it('Topology=topic with CreateQueue=false makes only the rule and the topic the rule targets', async () => {
    const out = await deployPrerequisites({
      endpoint: moto.endpoint,
      region: REGION,
      stackName: 'sro-central',
      parameters: { Topology: 'topic', CreateQueue: 'false', SubscriberAccountIds: '111111111111,222222222222' },
    });
    expect(out).toEqual({ queueUrl: '', queueArn: '', deadLetterQueueUrl: '', ruleName: 'sro-central-secret-changes', roleArn: '', topicArn: `arn:aws:sns:${REGION}:123456789012:sro-central-secret-changes` });
    const targets = await events.send(new ListTargetsByRuleCommand({ Rule: out.ruleName }));
    expect(targets.Targets?.map((t) => t.Arn)).toEqual([out.topicArn]);
    await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-central' });
  });

  it('Topology=subscriber makes no rule and subscribes its queue (and only it) to the given topic, enveloped when asked', async () => {
    const hub = await deployPrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-hub', parameters: { Topology: 'topic', CreateRole: 'false' } });
    const spoke = await deployPrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-spoke', parameters: { Topology: 'subscriber', TopicArn: hub.topicArn!, RawMessageDelivery: 'false' } });
    expect(spoke).toMatchObject({ ruleName: '', queueUrl: expect.stringMatching(/\/sro-spoke-events$/), roleArn: expect.stringMatching(/:role\/sro-spoke-OperatorRole-/) });
    expect([hub.subscription, spoke.subscription]).toEqual([
      { topicArn: hub.topicArn, subscriptionArn: expect.any(String), rawMessageDelivery: true },
      { topicArn: hub.topicArn, subscriptionArn: expect.any(String), rawMessageDelivery: false },
    ]);
    // Deploying again keeps the one subscription.
    const again = await deployPrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-spoke', parameters: { Topology: 'subscriber', TopicArn: hub.topicArn!, RawMessageDelivery: 'false' } });
    expect(again.subscription?.subscriptionArn).toBe(spoke.subscription?.subscriptionArn);
    await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-spoke' });
    await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-hub' });
  });
});

it('deletePrerequisites removes the stack and its queues', async () => {
  await deployPrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-delete' });
  await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-delete' });
  await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'sro-delete-events' }))).rejects.toThrow();
  // Deleting what is gone is not an error.
  await deletePrerequisites({ endpoint: moto.endpoint, region: REGION, stackName: 'sro-delete' });
});

/**
 * Receives until `count` messages arrived (deadline 20 s), then long-polls once more
 * so that a message routed by mistake shows up too; deletes what it received.
 */
async function drain(queueUrl: string, count: number): Promise<EventEnvelope[]> {
  const bodies: EventEnvelope[] = [];
  const deadline = Date.now() + 20_000;
  const receive = async (waitSeconds: number): Promise<Message[]> => {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }),
    );
    const messages = out.Messages ?? [];
    if (messages.length) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    bodies.push(...messages.map((m) => JSON.parse(m.Body ?? '') as EventEnvelope));
    return messages;
  };
  while (bodies.length < count && Date.now() < deadline) await receive(1);
  while ((await receive(1)).length > 0) {
    // keep draining: more than expected arrived
  }
  return bodies;
}
