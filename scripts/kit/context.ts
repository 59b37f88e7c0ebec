/** What every e2e test file gets: the stack's environment, clients, and an operator launcher. */
import fs from 'node:fs';
import { stackPaths } from '../stack/paths';
import { Aws, type AwsEnv } from './aws';
import { Kube } from './kube';
import { OperatorProcess } from './operator';
import { waitFor } from './wait';

/**
 * .stack/env.json: the AWS side (AwsEnv) and the Kubernetes side. AWS_ENDPOINT_URL_SQS
 * is set only where a suite's queue is on another SQS server (e2eContext's `sqs`).
 */
export interface StackEnvFile extends Omit<AwsEnv, 'AWS_ENDPOINT_URL_SQS'> {
  KUBECONFIG: string;
  STACK_DIR: string;
  HELM_BIN: string;
  [k: string]: string;
}

export function stackEnv(): StackEnvFile {
  const file = stackPaths().envJsonFile;
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: the e2e globalSetup brings the stack up (npm run test:e2e)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as StackEnvFile;
}

export interface E2eContext {
  env: StackEnvFile;
  kube: Kube;
  aws: Aws;
  operators: OperatorProcess[];
  /** Starts the operator against the stack; stopped (SIGTERM) after the file's tests. */
  startOperator(extra?: Record<string, string>, opts?: { waitReady?: boolean; kubeconfig?: string }): Promise<OperatorProcess>;
  /** Drains both queues so a test file starts from empty ones. */
  emptyQueues(): Promise<void>;
}

/** `sqs`: another SQS server (ElasticMQ) and the queues on it, in place of the stack's queues on moto. */
export function e2eContext(sqs?: Pick<StackEnvFile, 'AWS_ENDPOINT_URL_SQS' | 'SQS_QUEUE_URL' | 'SQS_DEAD_LETTER_QUEUE_URL'>): E2eContext {
  const env: StackEnvFile = { ...stackEnv(), ...sqs };
  const ctx: E2eContext = {
    env,
    kube: new Kube(env.KUBECONFIG),
    aws: new Aws(env),
    operators: [],
    async startOperator(extra = {}, opts = {}) {
      const op = await OperatorProcess.start(
        {
          KUBECONFIG: opts.kubeconfig ?? env.KUBECONFIG,
          SQS_QUEUE_URL: env.SQS_QUEUE_URL,
          AWS_REGION: env.AWS_REGION,
          AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL,
          ...(env.AWS_ENDPOINT_URL_SQS ? { AWS_ENDPOINT_URL_SQS: env.AWS_ENDPOINT_URL_SQS } : {}),
          AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
          AWS_EC2_METADATA_DISABLED: 'true',
          LEADER_ELECTION: 'false',
          SQS_VISIBILITY_TIMEOUT_SECONDS: '5',
          // Stopping waits for the pending long poll.
          SQS_WAIT_TIME_SECONDS: '5',
          DRIFT_CHECK_INTERVAL_SECONDS: '0',
          ...extra,
        },
        { waitReady: opts.waitReady },
      );
      ctx.operators.push(op);
      return op;
    },
    async emptyQueues() {
      await ctx.aws.purge(env.SQS_QUEUE_URL);
      await ctx.aws.purge(env.SQS_DEAD_LETTER_QUEUE_URL);
      await waitFor('queues empty', async () => (await ctx.aws.depth(env.SQS_QUEUE_URL)).total === 0 && (await ctx.aws.depth(env.SQS_DEAD_LETTER_QUEUE_URL)).total === 0, { timeoutMs: 30_000 });
    },
  };
  return ctx;
}

/** Stops every operator a file started; fails loudly if one had died on its own. */
export async function stopOperators(ctx: E2eContext): Promise<void> {
  for (const op of ctx.operators.splice(0)) {
    const diedEarly = !op.alive && !op.stopRequested;
    await op.stop();
    if (diedEarly) throw new Error(`operator exited unexpectedly with ${op.exitCode}: ${op.raw.slice(-10).join('\n')}`);
  }
}
