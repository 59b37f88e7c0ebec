/**
 * Deploys scripts/cloudformation.yaml (queue, dead-letter queue, EventBridge rule,
 * queue policy, operator role; with Topology=topic/subscriber an SNS topic and the
 * queue's subscription) into an AWS emulator's CloudFormation (moto) and returns what
 * the operator and the tests need. The same template is what a user deploys in a
 * real account.
 *
 * moto's CloudFormation skips the types it does not implement without failing:
 * AWS::SNS::Subscription and AWS::SNS::TopicPolicy among them. The subscription is
 * then made here through the SNS API with the template's own properties, so the queue
 * really receives what the topic publishes (moto enforces no policy either way).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  UpdateStackCommand,
  waitUntilStackCreateComplete,
  waitUntilStackDeleteComplete,
  waitUntilStackUpdateComplete,
  type Parameter,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { ListSubscriptionsByTopicCommand, SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { load, Schema, Type } from 'js-yaml';

export const TEMPLATE_PATH = path.resolve(__dirname, '..', 'cloudformation.yaml');
export const DEFAULT_STACK_NAME = 'secrets-rotation-operator';
const DEFAULT_TIMEOUT_SECONDS = 120;

export interface PrerequisitesOptions {
  /** The emulator's endpoint, e.g. http://127.0.0.1:5000. */
  endpoint: string;
  region: string;
  /** Default `secrets-rotation-operator`; the queue is `<stackName>-events`. */
  stackName?: string;
  /** Template parameter IncludeCloudTrailEvents; default false (native event only). */
  includeCloudTrailEvents?: boolean;
  /** Further template parameters, overriding the emulator defaults below. */
  parameters?: Record<string, string>;
  /** Deadline for the stack to settle; default 120 s. */
  timeoutSeconds?: number;
}

export interface Prerequisites {
  /** URL on the emulator's endpoint (not CloudFormation's https://sqs.<region>.amazonaws.com form); empty with CreateQueue=false. */
  queueUrl: string;
  queueArn: string;
  /** URL on the emulator's endpoint. */
  deadLetterQueueUrl: string;
  /** Empty with Topology=subscriber (no rule). */
  ruleName: string;
  /** Empty when parameters.CreateRole is "false". */
  roleArn: string;
  /** With Topology=topic: the topic the rule publishes to. */
  topicArn?: string;
  /** With Topology=topic or subscriber: the topic the queue is subscribed to, and the subscription. */
  subscription?: { topicArn: string; subscriptionArn: string; rawMessageDelivery: boolean };
}

/**
 * Parameters that make the template deployable in an emulator: an IRSA role for the
 * chart's default ServiceAccount, trusting a made-up cluster issuer.
 */
export function emulatorParameters(region: string): Record<string, string> {
  return {
    CreateRole: 'true',
    RoleTrust: 'irsa',
    OidcIssuer: `oidc.eks.${region}.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`,
  };
}

function clientConfig(endpoint: string, region: string) {
  // Real credentials are never needed: the emulator accepts any. Use the caller's
  // environment when it sets some (e.g. AWS_ACCESS_KEY_ID=testing), else fakes.
  const credentials =
    process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY
      ? undefined
      : { accessKeyId: 'testing', secretAccessKey: 'testing' };
  return { endpoint, region, credentials, maxAttempts: 3 };
}

export async function deployPrerequisites(opts: PrerequisitesOptions): Promise<Prerequisites> {
  const stackName = opts.stackName ?? DEFAULT_STACK_NAME;
  const maxWaitTime = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const cfn = new CloudFormationClient(clientConfig(opts.endpoint, opts.region));
  const sqs = new SQSClient(clientConfig(opts.endpoint, opts.region));
  const sns = new SNSClient(clientConfig(opts.endpoint, opts.region));
  try {
    const values: Record<string, string> = {
      ...emulatorParameters(opts.region),
      IncludeCloudTrailEvents: String(opts.includeCloudTrailEvents ?? false),
      ...opts.parameters,
    };
    const parameters: Parameter[] = Object.entries(values).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }));
    const request = {
      StackName: stackName,
      TemplateBody: readFileSync(TEMPLATE_PATH, 'utf8'),
      Parameters: parameters,
      Capabilities: ['CAPABILITY_IAM' as const],
    };
    const waitFor = { client: cfn, maxWaitTime, minDelay: 1, maxDelay: 2 };

    let existing = await describeStack(cfn, stackName);
    // A failed first creation can only be deleted. And moto's UpdateStack re-creates
    // only resources that `Ref` a changed parameter, not those depending on it
    // through a Condition (the rule's pattern does), so a parameter change
    // re-creates the stack: this is an emulator, its queue holds nothing to keep.
    if (existing && (existing.StackStatus === 'ROLLBACK_COMPLETE' || parametersDiffer(existing, parameters))) {
      await cfn.send(new DeleteStackCommand({ StackName: stackName }));
      await waitUntilStackDeleteComplete(waitFor, { StackName: stackName });
      existing = undefined;
    }
    if (!existing || existing.StackStatus === 'DELETE_COMPLETE') {
      await cfn.send(new CreateStackCommand(request));
      await settle(cfn, stackName, () => waitUntilStackCreateComplete(waitFor, { StackName: stackName }));
    } else {
      let changed = true;
      try {
        await cfn.send(new UpdateStackCommand(request));
      } catch (err) {
        if (!/No updates are to be performed/i.test((err as Error).message)) throw err;
        changed = false;
      }
      if (changed) {
        await settle(cfn, stackName, () => waitUntilStackUpdateComplete(waitFor, { StackName: stackName }));
      }
    }

    const stack = await describeStack(cfn, stackName);
    const outputs = new Map((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    const output = (key: string): string => {
      const value = outputs.get(key);
      if (!value) throw new Error(`stack ${stackName} has no output ${key}`);
      return value;
    };
    const hasQueue = outputs.has('QueueUrl');
    const subscribedTo = outputs.get('SubscribedTopicArn');
    return {
      queueUrl: hasQueue ? await localQueueUrl(sqs, output('QueueUrl')) : '',
      queueArn: outputs.get('QueueArn') ?? '',
      deadLetterQueueUrl: hasQueue ? await localQueueUrl(sqs, output('DeadLetterQueueUrl')) : '',
      // Topology=subscriber makes no rule.
      ruleName: outputs.get('RuleName') ?? '',
      // The template makes no role with CreateRole=false.
      roleArn: outputs.get('RoleArn') ?? '',
      ...(outputs.has('TopicArn') ? { topicArn: output('TopicArn') } : {}),
      ...(subscribedTo ? { subscription: await subscribeAsTheTemplateSays(sns, subscribedTo, output('QueueArn'), values) } : {}),
    };
  } finally {
    cfn.destroy();
    sqs.destroy();
    sns.destroy();
  }
}

/**
 * The template's QueueSubscription, made through the SNS API where the emulator's
 * CloudFormation skipped it (idempotent: an existing subscription of the queue is kept).
 * Its protocol and raw-delivery attribute are read from the template, the parameters
 * resolved as CloudFormation would.
 */
async function subscribeAsTheTemplateSays(sns: SNSClient, topicArn: string, queueArn: string, parameters: Record<string, string>): Promise<NonNullable<Prerequisites['subscription']>> {
  const props = templateResource('QueueSubscription').Properties as Record<string, unknown>;
  const resolve = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const ref = (v as { Ref?: string } | undefined)?.Ref;
    if (ref !== undefined && ref in parameters) return parameters[ref]!;
    if (ref !== undefined && templateParameterDefault(ref) !== undefined) return templateParameterDefault(ref)!;
    throw new Error(`QueueSubscription: cannot resolve ${JSON.stringify(v)}`);
  };
  const protocol = resolve(props.Protocol);
  const rawMessageDelivery = resolve(props.RawMessageDelivery) === 'true';
  const existing = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
  const mine = existing.Subscriptions?.find((s) => s.Endpoint === queueArn && s.Protocol === protocol);
  if (mine?.SubscriptionArn) return { topicArn, subscriptionArn: mine.SubscriptionArn, rawMessageDelivery };
  const out = await sns.send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: protocol, Endpoint: queueArn, Attributes: { RawMessageDelivery: String(rawMessageDelivery) }, ReturnSubscriptionArn: true }),
  );
  if (!out.SubscriptionArn) throw new Error(`Subscribe(${topicArn}, ${queueArn}) returned no subscription ARN`);
  return { topicArn, subscriptionArn: out.SubscriptionArn, rawMessageDelivery };
}

/** What deletePrerequisites undoes by hand: the subscription moto's CloudFormation did not make. */
async function unsubscribeQueue(sns: SNSClient, topicArn: string, queueArn: string): Promise<void> {
  const existing = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn })).catch(() => undefined);
  for (const s of existing?.Subscriptions ?? []) {
    if (s.Endpoint === queueArn && s.SubscriptionArn) await sns.send(new UnsubscribeCommand({ SubscriptionArn: s.SubscriptionArn }));
  }
}

/** CloudFormation's short-form tags, read as their long forms ({Ref: x}, {'Fn::If': [...]}, ...). */
const CFN_SCHEMA = new Schema(
  ['Ref', 'Condition', 'GetAtt', 'Sub', 'If', 'Equals', 'Not', 'And', 'Or', 'Join', 'Select', 'Split', 'GetAZs', 'ImportValue', 'FindInMap', 'Base64', 'Cidr'].flatMap((tag) => {
    const key = tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`;
    return (['scalar', 'sequence', 'mapping'] as const).map((kind) => new Type(`!${tag}`, { kind, construct: (data: unknown) => ({ [key]: tag === 'GetAtt' && typeof data === 'string' ? data.split('.') : data }) }));
  }),
);

interface Template {
  Parameters: Record<string, { Default?: string }>;
  Resources: Record<string, { Type: string; Condition?: string; Properties?: Record<string, unknown> }>;
}

/** scripts/cloudformation.yaml as data. */
function loadTemplate(): Template {
  return load(readFileSync(TEMPLATE_PATH, 'utf8'), { schema: CFN_SCHEMA }) as Template;
}

function templateResource(logicalId: string): Template['Resources'][string] {
  const r = loadTemplate().Resources[logicalId];
  if (!r) throw new Error(`${TEMPLATE_PATH} has no resource ${logicalId}`);
  return r;
}

function templateParameterDefault(name: string): string | undefined {
  return loadTemplate().Parameters[name]?.Default;
}

export async function deletePrerequisites(
  opts: Pick<PrerequisitesOptions, 'endpoint' | 'region' | 'stackName' | 'timeoutSeconds'>,
): Promise<void> {
  const stackName = opts.stackName ?? DEFAULT_STACK_NAME;
  const cfn = new CloudFormationClient(clientConfig(opts.endpoint, opts.region));
  const sns = new SNSClient(clientConfig(opts.endpoint, opts.region));
  try {
    const stack = await describeStack(cfn, stackName);
    if (!stack) return;
    const outputs = new Map((stack.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    const subscribedTo = outputs.get('SubscribedTopicArn');
    const queueArn = outputs.get('QueueArn');
    if (subscribedTo && queueArn) await unsubscribeQueue(sns, subscribedTo, queueArn);
    await cfn.send(new DeleteStackCommand({ StackName: stackName }));
    await waitUntilStackDeleteComplete(
      { client: cfn, maxWaitTime: opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS, minDelay: 1, maxDelay: 2 },
      { StackName: stackName },
    );
  } finally {
    cfn.destroy();
    sns.destroy();
  }
}

function parametersDiffer(stack: Stack, wanted: Parameter[]): boolean {
  const current = new Map((stack.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]));
  return wanted.some((p) => current.get(p.ParameterKey) !== p.ParameterValue);
}

async function describeStack(cfn: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    return out.Stacks?.[0];
  } catch (err) {
    if (/does not exist/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** Runs a waiter; on failure, names the resources that failed and why. */
async function settle(cfn: CloudFormationClient, stackName: string, wait: () => Promise<unknown>): Promise<void> {
  try {
    await wait();
  } catch (err) {
    let reasons = '';
    try {
      const events = await cfn.send(new DescribeStackEventsCommand({ StackName: stackName }));
      reasons = (events.StackEvents ?? [])
        .filter((e) => /FAILED/.test(e.ResourceStatus ?? ''))
        .map((e) => `${e.LogicalResourceId}: ${e.ResourceStatus} ${e.ResourceStatusReason ?? ''}`)
        .join('; ');
    } catch {
      // the waiter's error is the one to report
    }
    throw new Error(`stack ${stackName} did not settle: ${(err as Error).message}${reasons ? ` (${reasons})` : ''}`);
  }
}

/**
 * CloudFormation (moto's included) reports https://sqs.<region>.amazonaws.com/...
 * URLs, and the SDK may send requests to a QueueUrl's host; ask the emulator for a
 * URL on its own endpoint.
 */
async function localQueueUrl(sqs: SQSClient, reportedUrl: string): Promise<string> {
  const QueueName = new URL(reportedUrl).pathname.split('/').filter(Boolean).pop();
  if (!QueueName) throw new Error(`cannot read a queue name from ${reportedUrl}`);
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName }));
  if (!out.QueueUrl) throw new Error(`GetQueueUrl(${QueueName}) returned no URL`);
  return out.QueueUrl;
}
