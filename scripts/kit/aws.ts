/**
 * AWS side of the e2e tests, against moto: real Secrets Manager calls, then the
 * event AWS would send, through the real EventBridge rule into the real queue.
 */
import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { currentVersionOf } from '../../operator/src/secrets/describer';

export interface AwsEnv {
  AWS_REGION: string;
  AWS_ENDPOINT_URL: string;
  /** Another SQS server (ElasticMQ) for suites whose queue is not moto's; unset: moto. */
  AWS_ENDPOINT_URL_SQS?: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  SQS_QUEUE_URL: string;
  SQS_DEAD_LETTER_QUEUE_URL: string;
}

export interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly version: string;
}

/** An event as Secrets Manager sends it to EventBridge (source aws.secretsmanager). */
export interface SecretsManagerEvent {
  DetailType: string;
  Resources?: string[];
  Detail: unknown;
  /** Default aws.secretsmanager; tests of foreign events set another. */
  Source?: string;
}

/** The native event Secrets Manager sends when a label (AWSCURRENT: a new current value) moves to a version. */
export function labelUpdatedEvent(s: Secret, label = 'AWSCURRENT'): SecretsManagerEvent {
  return { DetailType: 'Secret Label Updated', Resources: [s.arn], Detail: { name: s.name, labelUpdated: label, versionId: s.version } };
}

/** The PutEvents entry that sends `e` as if from Secrets Manager. */
export function putEventsEntry(e: SecretsManagerEvent): PutEventsRequestEntry {
  return { Source: e.Source ?? 'aws.secretsmanager', DetailType: e.DetailType, Resources: e.Resources ?? [], Detail: JSON.stringify(e.Detail) };
}

export class Aws {
  readonly sm: SecretsManagerClient;
  readonly events: EventBridgeClient;
  readonly sqs: SQSClient;

  constructor(readonly env: AwsEnv) {
    const cfg = { region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } };
    this.sm = new SecretsManagerClient(cfg);
    this.events = new EventBridgeClient(cfg);
    this.sqs = new SQSClient({ ...cfg, endpoint: env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL, useQueueUrlAsEndpoint: false });
  }

  get account(): string {
    return '123456789012';
  }

  async createSecret(name: string, value = `initial-${randomUUID()}`): Promise<Secret> {
    const out = await this.sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { name, arn: out.ARN!, version: out.VersionId! };
  }

  /** `aws secretsmanager put-secret-value`: a new version becomes AWSCURRENT. */
  async putSecretValue(secret: Secret | string, value = `rotated-${randomUUID()}`, stages?: string[]): Promise<Secret> {
    const id = typeof secret === 'string' ? secret : secret.arn;
    const out = await this.sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: value, ...(stages ? { VersionStages: stages } : {}) }));
    return { name: out.Name!, arn: out.ARN!, version: out.VersionId! };
  }

  async currentVersion(id: string): Promise<string | undefined> {
    return currentVersionOf((await this.sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages);
  }

  /** The native event Secrets Manager sends when AWSCURRENT moves. Resolves to the event's id. */
  async sendLabelUpdated(s: Secret, label = 'AWSCURRENT'): Promise<string> {
    return this.put(labelUpdatedEvent(s, label));
  }

  /** A CloudTrail record of a Secrets Manager API call, as EventBridge delivers it. Resolves to the event's id. */
  async sendApiCall(eventName: string, requestParameters: Record<string, unknown>, responseElements: Record<string, unknown> | null = null): Promise<string> {
    return this.put({ DetailType: 'AWS API Call via CloudTrail', Detail: { ...this.cloudTrailRecord(eventName, 'AwsApiCall'), requestParameters, responseElements } });
  }

  /** A Secrets Manager service event (RotationSucceeded, RotationFailed, ...). Resolves to the event's id. */
  async sendServiceEvent(eventName: string, s: Secret): Promise<string> {
    return this.put({
      DetailType: 'AWS Service Event via CloudTrail',
      Detail: { ...this.cloudTrailRecord(eventName, 'AwsServiceEvent'), requestParameters: null, responseElements: null, additionalEventData: { SecretId: s.arn } },
    });
  }

  /** The fields every CloudTrail record of a Secrets Manager call or service event has. */
  cloudTrailRecord(eventName: string, eventType: 'AwsApiCall' | 'AwsServiceEvent'): Record<string, unknown> {
    return {
      eventVersion: '1.09',
      eventSource: 'secretsmanager.amazonaws.com',
      eventName,
      awsRegion: this.env.AWS_REGION,
      recipientAccountId: this.account,
      eventID: randomUUID(),
      eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventType,
    };
  }

  /** PutEvents of one event; resolves to the id EventBridge gave it (the `id` of the delivered body). */
  async put(e: SecretsManagerEvent): Promise<string> {
    const out = await this.events.send(new PutEventsCommand({ Entries: [putEventsEntry(e)] }));
    if (out.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(out.Entries)}`);
    return out.Entries?.[0]?.EventId ?? '';
  }

  /** A raw body straight into the queue (what EventBridge cannot send: garbage). */
  async sendRaw(body: string, queueUrl = this.env.SQS_QUEUE_URL): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }

  async depth(queueUrl: string): Promise<{ visible: number; inFlight: number; total: number }> {
    const a = (await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes ?? {};
    const visible = Number(a.ApproximateNumberOfMessages ?? 0);
    const inFlight = Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
    return { visible, inFlight, total: visible + inFlight };
  }

  async purge(queueUrl: string): Promise<void> {
    await this.sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  }

  /**
   * A queue and its dead-letter queue shaped like the CloudFormation template's (60 s
   * visibility, 4 days' retention, redrive after 5 receives).
   */
  async createQueuePair(name: string): Promise<{ url: string; dlqUrl: string }> {
    const dlqUrl = (await this.sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
    const dlqArn = (await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const attributes = { VisibilityTimeout: '60', MessageRetentionPeriod: '345600', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }) };
    const url = (await this.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
    return { url, dlqUrl };
  }

  /** Reads (without deleting) the bodies in a queue, e.g. the dead-letter queue. */
  async peekBodies(queueUrl: string, max = 10): Promise<string[]> {
    const out = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, max), VisibilityTimeout: 0, WaitTimeSeconds: 0 }));
    return (out.Messages ?? []).map((m) => m.Body ?? '');
  }
}
