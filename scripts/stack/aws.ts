/**
 * AWS prerequisites in the emulator: the CloudFormation stack of
 * scripts/aws/prerequisites.ts (queue, dead-letter queue, EventBridge rule, role)
 * when that module is present, else a plain SQS queue + dead-letter queue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { REPO_ROOT } from './paths';

export const FAKE_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;
export const FALLBACK_QUEUE_NAME = 'secrets-rotation-operator-events';
export const FALLBACK_DLQ_NAME = 'secrets-rotation-operator-events-dlq';

export interface AwsPrerequisites {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  /** EventBridge rule routing Secrets Manager events to the queue ('' in the fallback). */
  ruleName: string;
  /** IAM role for the operator ('' in the fallback). */
  roleArn: string;
  /** Which way they were made. */
  source: 'cloudformation' | 'sqs-fallback';
}

type DeployPrerequisites = (opts: { endpoint: string; region: string; stackName?: string; includeCloudTrailEvents?: boolean }) => Promise<{
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  ruleName: string;
  roleArn: string;
}>;

const PREREQUISITES_MODULE = path.join(REPO_ROOT, 'scripts', 'aws', 'prerequisites.ts');

function loadDeployPrerequisites(): DeployPrerequisites | undefined {
  if (!fs.existsSync(PREREQUISITES_MODULE)) return undefined;
  // Resolved at run time (tsx / ts-jest compile it) so this file type-checks whether or not it exists.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(PREREQUISITES_MODULE) as { deployPrerequisites?: DeployPrerequisites };
  return typeof mod.deployPrerequisites === 'function' ? mod.deployPrerequisites : undefined;
}

/** Deploys the prerequisites into the emulator at `endpoint`; idempotent. */
export async function deployAwsPrerequisites(endpoint: string, region: string): Promise<AwsPrerequisites> {
  // The emulator accepts any credentials; never let a developer's real ones be used.
  process.env.AWS_ACCESS_KEY_ID = FAKE_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = FAKE_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const deploy = loadDeployPrerequisites();
  if (deploy) {
    // The local stack routes the CloudTrail events too, so every event path docs/architecture.md lists can be tested.
    const p = await deploy({ endpoint, region, includeCloudTrailEvents: true });
    return { ...p, source: 'cloudformation' };
  }
  return createFallbackQueues(endpoint, region);
}

async function createFallbackQueues(endpoint: string, region: string): Promise<AwsPrerequisites> {
  const sqs = new SQSClient({ endpoint, region, credentials: FAKE_CREDENTIALS, maxAttempts: 3 });
  try {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: FALLBACK_DLQ_NAME, Attributes: { MessageRetentionPeriod: '1209600' } }));
    const dlqAttrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
    const dlqArn = dlqAttrs.Attributes?.QueueArn;
    if (!dlq.QueueUrl || !dlqArn) throw new Error('moto returned no URL/ARN for the dead-letter queue');
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: FALLBACK_QUEUE_NAME,
        Attributes: {
          VisibilityTimeout: '60',
          ReceiveMessageWaitTimeSeconds: '20',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
        },
      }),
    );
    const qAttrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl, AttributeNames: ['QueueArn'] }));
    if (!q.QueueUrl || !qAttrs.Attributes?.QueueArn) throw new Error('moto returned no URL/ARN for the queue');
    return {
      queueUrl: q.QueueUrl,
      queueArn: qAttrs.Attributes.QueueArn,
      deadLetterQueueUrl: dlq.QueueUrl,
      ruleName: '',
      roleArn: '',
      source: 'sqs-fallback',
    };
  } finally {
    sqs.destroy();
  }
}
