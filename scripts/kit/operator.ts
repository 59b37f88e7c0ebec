/**
 * Runs the built operator (dist/main.js) as a child process, the way a Pod would:
 * configuration from the environment, JSON log lines on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { NODE_FLAGS } from '../../operator/src/nodeFlags';
import { freePort } from './net';
import { REPO_ROOT } from './kube';
import { waitFor } from './wait';

export interface LogLine {
  level: string;
  message: string;
  [k: string]: unknown;
}

export class OperatorProcess {
  readonly logs: LogLine[] = [];
  readonly raw: string[] = [];
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;
  /** Set by stop() and kill9(): an exit after it was asked for, not a crash. */
  stopRequested = false;
  private exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly httpPort: number,
  ) {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.raw.push(line);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          /* not a JSON line (e.g. a configuration error): kept in raw */
        }
        if (process.env.E2E_OPERATOR_LOGS) process.stderr.write(`[operator:${httpPort}] ${line}\n`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      }),
    );
  }

  static async start(env: Record<string, string>, opts: { waitReady?: boolean } = {}): Promise<OperatorProcess> {
    const httpPort = await freePort();
    const child = spawn(process.execPath, [...NODE_FLAGS, path.join(REPO_ROOT, 'dist', 'main.js')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', ...env, HTTP_PORT: String(httpPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const op = new OperatorProcess(child, httpPort);
    if (opts.waitReady !== false) await op.waitReady();
    return op;
  }

  get alive(): boolean {
    return this.exitCode === null && this.signal === null;
  }

  get(pathname: string): Promise<{ status: number; body: string }> {
    return httpGet(this.httpPort, pathname);
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      'operator /readyz',
      async () => {
        if (!this.alive) throw new Error(`operator exited (${this.exitCode ?? this.signal}): ${this.raw.slice(-5).join(' | ')}`);
        const r = await this.get('/readyz');
        if (r.status !== 200) throw new Error(`/readyz ${r.status}: ${r.body.trim()}`);
        return true;
      },
      { timeoutMs },
    );
  }

  /** Waits until a log line satisfies `pred`; returns it. */
  async waitForLog(what: string, pred: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    return waitFor(what, () => this.logs.find(pred), { timeoutMs, intervalMs: 100 });
  }

  /** Value of one Prometheus sample, e.g. metric(`${METRIC_PREFIX}restarts_total`, {result: 'restarted'}). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return promSample((await this.get('/metrics')).body, name, labels);
  }

  /** SIGTERM and wait for the exit; returns the exit code. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    this.stopRequested = true;
    if (this.alive) this.child.kill('SIGTERM');
    await waitFor('operator exit', () => !this.alive, { timeoutMs, intervalMs: 50 });
    await this.exited;
    return this.exitCode;
  }

  kill9(): Promise<void> {
    this.stopRequested = true;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** GET from a process's HTTP port on loopback (2 s deadline). */
export function httpGet(port: number, pathname: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Sum of the samples of `name` in Prometheus text whose labels include `labels`. */
export function promSample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}
