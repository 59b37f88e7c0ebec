/**
 * ElasticMQ as the burst benchmark and the flood fault use it: the operator's SQS
 * client (AWS JSON protocol) works against it, its queue URLs name the stack's account
 * (the operator's home account, so bare secret names match moto's ARNs), its redrive
 * policy dead-letters a message after maxReceiveCount receives, and stop() leaves no
 * process behind.
 */
import fs from 'node:fs';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { loadConfig } from '../operator/src/config';
import { Aws } from './support/aws';
import { e2eContext } from './support/context';
import { startElasticMq, type ElasticMq } from './support/elasticmq';
import { waitFor } from './support/wait';

jest.setTimeout(120_000);

const ctx = e2eContext();
let emq: ElasticMq | undefined;
afterAll(async () => {
  await emq?.stop();
});

test('the SDK talks to it, its queue URLs name the stack account, and the redrive policy dead-letters after 5 receives', async () => {
  emq = await startElasticMq({ name: 'e2e-check', account: ctx.aws.account, region: ctx.env.AWS_REGION });
  const aws = new Aws({ ...ctx.env, AWS_ENDPOINT_URL_SQS: emq.endpoint });
  const q = await aws.createQueuePair(`check-${Date.now()}`);

  const config = loadConfig({ SQS_QUEUE_URL: q.url, AWS_REGION: ctx.env.AWS_REGION, LEADER_ELECTION: 'false' });
  expect(config.home.account).toBe(ctx.aws.account);

  await aws.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'poison' }));
  const counts: number[] = [];
  for (let i = 0; i < 6; i++) {
    const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    for (const m of out.Messages ?? []) {
      counts.push(Number(m.Attributes?.ApproximateReceiveCount));
      await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
    }
  }
  expect(counts).toEqual([1, 2, 3, 4, 5]);
  await waitFor('the message in the dead-letter queue', async () => (await aws.depth(q.dlqUrl)).total === 1, { timeoutMs: 10_000 });
  expect(await aws.peekBodies(q.dlqUrl)).toEqual(['poison']);
  expect((await aws.depth(q.url)).total).toBe(0);
});

test('stop() ends the server and its log stays in the stack logs', async () => {
  const server = emq!;
  const cmdline = (pid: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return ''; // gone meanwhile
    }
  };
  const pids = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p).includes('elasticmq/e2e-check.conf'));
  expect(pids().length).toBeGreaterThan(0);
  await server.stop();
  expect(pids()).toEqual([]);
  expect(fs.readFileSync(server.logFile, 'utf8')).toContain('ElasticMQ server');
});
