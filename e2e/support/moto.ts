/**
 * Starts moto's server mode (the AWS emulator: SQS, EventBridge, Secrets Manager,
 * CloudFormation, IAM in one process) on a free loopback port and waits until it
 * answers.
 */
import { spawn } from 'node:child_process';
import { freePort } from '../../scripts/kit/net';

export interface Moto {
  /** e.g. http://127.0.0.1:40123 */
  endpoint: string;
  port: number;
  /** Stops the server and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /** Executable; default `$MOTO_SERVER` or `moto_server` from PATH. */
  command?: string;
  /** Port; default a free one. */
  port?: number;
  /** How long to wait for the server to answer; default 30 s. */
  readyTimeoutMs?: number;
}

const LOG_TAIL = 4000;

export async function startMoto(options: StartMotoOptions = {}): Promise<Moto> {
  const command = options.command ?? process.env.MOTO_SERVER ?? 'moto_server';
  const port = options.port ?? (await freePort());
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const endpoint = `http://127.0.0.1:${port}`;

  // Own process group, so stop() also ends whatever a wrapper (pyenv shim) started.
  const child = spawn(command, ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-LOG_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let exited = false;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited = true;
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const killed = await Promise.race([exit.then(() => true), delay(5_000).then(() => false)]);
    if (!killed) {
      signal('SIGKILL');
      await exit;
    }
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) {
      throw new Error(
        `moto_server (${command}) did not start: ${spawnError?.message ?? 'it exited'}\n${log}`,
      );
    }
    if (await answers(endpoint)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within ${readyTimeoutMs} ms\n${log}`);
    }
    await Promise.race([delay(100), exit]);
  }
  return { endpoint, port, stop };
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
