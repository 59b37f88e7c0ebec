/**
 * A moto of a test file's own (the AWS emulator: SQS, EventBridge, Secrets Manager,
 * CloudFormation, IAM in one process) on a free loopback port, beside the stack's:
 * the stack's moto component (same command, same readiness probe), started through
 * startProcessComponent. Its log is .stack/logs/moto-<port>.log.
 */
import path from 'node:path';
import { motoAnswers, motoArgs, motoCommand, startProcessComponent } from '../../scripts/stack/components';
import { stackPaths } from '../../scripts/stack/paths';
import { freePort } from '../../scripts/kit/net';

export interface Moto {
  /** e.g. http://127.0.0.1:40123 */
  endpoint: string;
  port: number;
  /** Stops the server and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startMoto(o: { readyTimeoutMs?: number } = {}): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const { stop } = await startProcessComponent({
    name: `moto ${port}`,
    command: motoCommand(),
    args: motoArgs(port),
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    logFile: path.join(stackPaths().logs, `moto-${port}.log`),
    readyWhat: `moto to answer on ${endpoint}`,
    ready: () => motoAnswers(port),
    readyTimeoutMs: o.readyTimeoutMs ?? 30_000,
    intervalMs: 100,
  });
  return { endpoint, port, stop };
}
