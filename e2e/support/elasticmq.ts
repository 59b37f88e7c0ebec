/**
 * ElasticMQ: an SQS-compatible server (Java) that is fast where moto's SQS is not (moto
 * scans a whole queue on every send and receive). The burst benchmark and the flood
 * fault run their queue on it; Secrets Manager and EventBridge stay on moto. Fetched
 * from Maven Central by scripts/toolchain/build.sh (cached), started here on a free
 * loopback port with a generated config, stopped (and waited for) by `stop()`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { resolveToolchain, stackPaths } from '../../scripts/stack/paths';
import { startProcessComponent } from '../../scripts/stack/components';
import { freePort } from '../../scripts/kit/net';

export interface ElasticMq {
  /** e.g. http://127.0.0.1:40123: what AWS_ENDPOINT_URL_SQS names. */
  readonly endpoint: string;
  readonly logFile: string;
  /** Stops the server and waits until its process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartElasticMqOptions {
  /** Names its config and log file (`.stack/logs/elasticmq-<name>.log`). */
  readonly name: string;
  /** The account and region its queue URLs and ARNs name (the stack's, so the operator's home account is moto's). */
  readonly account: string;
  readonly region: string;
  /** How long to wait for it to answer; default 60 s (it starts in about 3 s). */
  readonly readyTimeoutMs?: number;
}

/** The config: loopback only, queue URLs naming that same address, SQS's own limits. Queues are made by the tests (CreateQueue). */
export function elasticMqConfig(port: number, account: string, region: string): string {
  return [
    'include classpath("application.conf")',
    `node-address { protocol = "http", host = "127.0.0.1", port = ${port}, context-path = "" }`,
    `rest-sqs { enabled = true, bind-hostname = "127.0.0.1", bind-port = ${port}, sqs-limits = strict }`,
    'rest-stats { enabled = false }',
    `aws { region = ${JSON.stringify(region)}, accountId = ${JSON.stringify(account)} }`,
    '',
  ].join('\n');
}

export async function startElasticMq(o: StartElasticMqOptions): Promise<ElasticMq> {
  const { elasticmqClasspath } = await resolveToolchain({ only: ['elasticmq'], onProgress: () => undefined });
  if (!elasticmqClasspath) throw new Error('scripts/toolchain/build.sh printed no ELASTICMQ_CLASSPATH');
  const paths = stackPaths();
  const port = await freePort();
  const confDir = path.join(paths.dir, 'elasticmq');
  fs.mkdirSync(confDir, { recursive: true });
  const conf = path.join(confDir, `${o.name}.conf`);
  fs.writeFileSync(conf, elasticMqConfig(port, o.account, o.region));
  const endpoint = `http://127.0.0.1:${port}`;
  const sqs = new SQSClient({ region: o.region, endpoint, credentials: { accessKeyId: 'elasticmq', secretAccessKey: 'elasticmq' }, maxAttempts: 1 });
  try {
    const { logFile, stop } = await startProcessComponent({
      name: `elasticmq ${o.name}`,
      command: 'java',
      args: ['-Xmx512m', `-Dconfig.file=${conf}`, '-cp', elasticmqClasspath, 'org.elasticmq.server.Main'],
      logFile: path.join(paths.logs, `elasticmq-${o.name}.log`),
      readyWhat: `ElasticMQ to answer on ${endpoint}`,
      ready: async () => (await sqs.send(new ListQueuesCommand({}), { abortSignal: AbortSignal.timeout(2_000) }), true),
      readyTimeoutMs: o.readyTimeoutMs ?? 60_000,
      intervalMs: 200,
    });
    return { endpoint, logFile, stop };
  } finally {
    sqs.destroy();
  }
}
