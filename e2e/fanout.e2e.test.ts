/**
 * Many clusters (scripts/cloudformation.yaml, Topology): one EventBridge rule publishes
 * to one SNS topic, and every cluster's stack subscribes its own queue. Two stacks of
 * the template in moto, one `Topology=topic` with raw delivery and one
 * `Topology=subscriber` with SNS's envelope, two operators (standing for two clusters)
 * on two namespaces: one PutEvents rolls each operator's own workload exactly once.
 *
 * Where moto falls short (tried, moto 5.2): its CloudFormation skips
 * AWS::SNS::Subscription and AWS::SNS::TopicPolicy (deployPrerequisites makes the
 * subscription through the SNS API from the template's properties), and its
 * EventBridge cannot deliver to an SNS target at all (PutEvents answers 500 while a
 * matching rule has one). So after checking that the deployed rule targets the topic,
 * the test points that rule at a relay queue and publishes what arrives there to the
 * topic, as EventBridge does for an SNS target (the event JSON is the message). Every
 * other hop (pattern matching, SNS → SQS raw and enveloped, the operators) is moto's
 * and the operators' own.
 */
import { ListTargetsByRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { GetSubscriptionAttributesCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { deletePrerequisites, deployPrerequisites, type Prerequisites } from '../scripts/aws/prerequisites';
import { e2eContext, stopOperators, type E2eContext } from './support/context';
import type { OperatorProcess } from './support/operator';
import { M, partialArn, rand, snapshot, waitForNewPods, waitLastRotation, waitMappingSynced, type Snapshot } from './support/scenario';
import { waitFor } from './support/wait';
import { RESTARTED_AT_ANNOTATION } from '../operator/src/workloads/workload';

jest.setTimeout(300_000);

const LABELS = { environment: 'fanout' };

let ctx: E2eContext;
let sns: SNSClient;
const id = rand(4);
const stacks = { hub: `sro-fan-hub-${id}`, spoke: `sro-fan-spoke-${id}` };
let hub: Prerequisites;
let spoke: Prerequisites;
let relay: { url: string; arn: string } | undefined;
const namespaces: string[] = [];

beforeAll(async () => {
  ctx = e2eContext();
  sns = new SNSClient({ region: ctx.env.AWS_REGION, endpoint: ctx.env.AWS_ENDPOINT_URL, credentials: { accessKeyId: ctx.env.AWS_ACCESS_KEY_ID, secretAccessKey: ctx.env.AWS_SECRET_ACCESS_KEY } });
  await ctx.kube.installCrd();
  const aws = { endpoint: ctx.env.AWS_ENDPOINT_URL, region: ctx.env.AWS_REGION };
  hub = await deployPrerequisites({ ...aws, stackName: stacks.hub, parameters: { Topology: 'topic', RawMessageDelivery: 'true', CreateRole: 'false' } });
  spoke = await deployPrerequisites({ ...aws, stackName: stacks.spoke, parameters: { Topology: 'subscriber', TopicArn: hub.topicArn ?? '', RawMessageDelivery: 'false', CreateRole: 'false' } });
});

afterAll(async () => {
  await stopOperators(ctx);
  const aws = { endpoint: ctx.env.AWS_ENDPOINT_URL, region: ctx.env.AWS_REGION };
  await deletePrerequisites({ ...aws, stackName: stacks.spoke });
  await deletePrerequisites({ ...aws, stackName: stacks.hub });
  if (relay) await ctx.aws.sqs.send(new DeleteQueueCommand({ QueueUrl: relay.url }));
  for (const ns of namespaces) await ctx.kube.deleteNamespace(ns);
  // The stack's own rule routed the same event into the stack's queue.
  await ctx.emptyQueues();
  sns.destroy();
});

test('the hub stack makes a rule that publishes to its topic; both queues are subscribed, raw and enveloped', async () => {
  expect(hub.topicArn).toMatch(new RegExp(`^arn:aws:sns:${ctx.env.AWS_REGION}:\\d{12}:${stacks.hub}-secret-changes$`));
  const targets = (await ctx.aws.events.send(new ListTargetsByRuleCommand({ Rule: hub.ruleName }))).Targets ?? [];
  expect(targets.map((t) => t.Arn)).toEqual([hub.topicArn]);
  expect(spoke.ruleName).toBe('');
  expect([hub.subscription?.topicArn, spoke.subscription?.topicArn]).toEqual([hub.topicArn, hub.topicArn]);
  const raw = async (p: Prerequisites) => (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: p.subscription!.subscriptionArn }))).Attributes?.RawMessageDelivery;
  expect([await raw(hub), await raw(spoke)]).toEqual(['true', 'false']);

  // What a publication looks like in each queue.
  const probe = JSON.stringify({ id: `probe-${id}`, source: 'aws.secretsmanager' });
  await sns.send(new PublishCommand({ TopicArn: hub.topicArn, Message: probe }));
  const [inHub, inSpoke] = [await receiveOne(hub.queueUrl), await receiveOne(spoke.queueUrl)];
  expect(inHub).toBe(probe);
  expect(JSON.parse(inSpoke)).toMatchObject({ Type: 'Notification', TopicArn: hub.topicArn, Message: probe });
});

test('one PutEvents rolls each cluster\'s own workload exactly once', async () => {
  // The stand-in for EventBridge's SNS delivery (see the file's comment).
  const relayUrl = (await ctx.aws.sqs.send(new CreateQueueCommand({ QueueName: `sro-fan-relay-${id}` }))).QueueUrl!;
  const relayArn = (await ctx.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: relayUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  relay = { url: relayUrl, arn: relayArn };
  await ctx.aws.events.send(new RemoveTargetsCommand({ Rule: hub.ruleName, Ids: ['operator-topic'] }));
  await ctx.aws.events.send(new PutTargetsCommand({ Rule: hub.ruleName, Targets: [{ Id: 'relay-to-topic', Arn: relayArn }] }));

  const secret = await ctx.aws.createSecret(`fanout-${id}`);
  const clusters: { ns: string; queueUrl: string; op?: OperatorProcess; before?: Snapshot }[] = [
    { ns: await ctx.kube.createNamespace('fan-a'), queueUrl: hub.queueUrl },
    { ns: await ctx.kube.createNamespace('fan-b'), queueUrl: spoke.queueUrl },
  ];
  namespaces.push(...clusters.map((c) => c.ns));
  for (const c of clusters) {
    await ctx.kube.createWorkload('Deployment', c.ns, 'web', LABELS);
    await ctx.kube.createMapping(c.ns, 'web-secret', { secretId: secret.name, selector: { matchLabels: LABELS } });
  }
  for (const c of clusters) {
    c.op = await ctx.startOperator({ SQS_QUEUE_URL: c.queueUrl, WATCH_NAMESPACES: c.ns });
    await waitMappingSynced(ctx, c.ns, 'web-secret', secret.version);
    c.before = await snapshot(ctx, 'Deployment', c.ns, 'web');
  }

  const rotated = await ctx.aws.putSecretValue(secret);
  const eventId = await ctx.aws.sendLabelUpdated(rotated);
  await relayToTopic(eventId);

  for (const c of clusters) {
    await waitForNewPods(ctx, c.before!);
    const m = await waitLastRotation(ctx, c.ns, 'web-secret', rotated.version);
    expect(m.status?.lastRotation).toMatchObject({ eventId, workloads: [{ kind: 'Deployment', name: 'web', result: 'Restarted' }] });
  }
  // Both messages handled and deleted: nothing more can arrive, so the counts are final.
  for (const c of clusters) {
    await waitFor(`operator of ${c.ns} deleted its message`, async () => (await c.op!.metric(`${M}messages_deleted_total`)) >= 1);
    await waitFor(`queue of ${c.ns} empty`, async () => (await ctx.aws.depth(c.queueUrl)).total === 0);
  }
  for (const c of clusters) {
    const w = await ctx.kube.readWorkload('Deployment', c.ns, 'web');
    expect({
      ns: c.ns,
      received: await c.op!.metric(`${M}messages_received_total`),
      restarted: await c.op!.metric(`${M}restarts_total`, { result: 'restarted' }),
      generation: w.metadata!.generation,
      stamped: typeof w.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION],
      versions: await ctx.kube.appliedVersions('Deployment', c.ns, 'web'),
    }).toEqual({ ns: c.ns, received: 1, restarted: 1, generation: c.before!.generation + 1, stamped: 'string', versions: { [partialArn(rotated)]: rotated.version } });
  }
});

/** Receives one message (deadline 20 s), deletes it, returns its body. */
async function receiveOne(queueUrl: string): Promise<string> {
  return waitFor(`a message in ${queueUrl}`, async () => {
    const m = (await ctx.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }))).Messages?.[0];
    if (!m) return undefined;
    await ctx.aws.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    return m.Body ?? '';
  }, { timeoutMs: 20_000 });
}

/** EventBridge's SNS delivery, by hand: the event the rule matched, published to the topic as it is. */
async function relayToTopic(eventId: string): Promise<void> {
  const body = await receiveOne(relay!.url);
  expect(JSON.parse(body)).toMatchObject({ id: eventId, 'detail-type': 'Secret Label Updated' });
  await sns.send(new PublishCommand({ TopicArn: hub.topicArn, Message: body }));
}
