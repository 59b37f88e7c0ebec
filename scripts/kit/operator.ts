/**
 * Runs the built operator (dist/main.js) as a child process, the way a Pod would:
 * configuration from the environment, JSON log lines on stdout. The one launcher
 * behind e2e (OperatorProcess), the bench (BenchOperator) and the demo: launch,
 * readiness probe, stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { NODE_FLAGS } from '../../operator/src/nodeFlags';
import { spawnDetached, type SpawnedProcess } from '../stack/process';
import { freePort } from './net';
import { REPO_ROOT } from './kube';
import { AbortPoll, TimeoutError, waitFor } from './wait';

export interface LaunchOptions {
  /** The operator's configuration; PATH is passed on and HTTP_PORT chosen here. */
  env: Record<string, string>;
  /** Node flags besides the image's NODE_FLAGS (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  /** Write stdout and stderr to this file (created afresh) instead of piping them to this process. */
  logFile?: string;
}

function command(o: Pick<LaunchOptions, 'env' | 'nodeArgs'>, httpPort: number): { args: string[]; env: NodeJS.ProcessEnv } {
  return {
    // As the container runs it: node with the image's V8 flags, from the repository root.
    args: [...NODE_FLAGS, ...(o.nodeArgs ?? []), path.join(REPO_ROOT, 'dist', 'main.js')],
    env: { PATH: process.env.PATH ?? '', ...o.env, HTTP_PORT: String(httpPort) },
  };
}

/** Starts dist/main.js as a child of this process on a free HTTP port. */
export async function launchOperator(o: LaunchOptions): Promise<{ child: ChildProcess; httpPort: number }> {
  const httpPort = await freePort();
  const { args, env } = command(o, httpPort);
  const out = o.logFile === undefined ? undefined : fs.openSync(o.logFile, 'w');
  try {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', out ?? 'pipe', out ?? 'pipe'] });
    return { child, httpPort };
  } finally {
    if (out !== undefined) fs.closeSync(out);
  }
}

/** Starts dist/main.js in its own session, outliving this process (the demo's operator runs between its commands); output appended to `logFile`. */
export async function launchOperatorDetached(o: LaunchOptions & { logFile: string }): Promise<SpawnedProcess & { httpPort: number }> {
  const httpPort = await freePort();
  const { args, env } = command(o, httpPort);
  return { ...spawnDetached(process.execPath, args, { logFile: o.logFile, env, cwd: REPO_ROOT }), httpPort };
}

/**
 * A waitFor probe for "the operator answers /readyz with 200": true when ready; throws
 * with the status and reason while not; stops the wait at once (AbortPoll) once
 * `exited` says why the process is gone.
 */
export function operatorReady(httpPort: number, exited: () => string | undefined, timeoutMs = 2000): () => Promise<boolean> {
  return async () => {
    const gone = exited();
    if (gone !== undefined) throw new AbortPoll(new Error(gone));
    const r = await httpGet(httpPort, '/readyz', timeoutMs);
    if (r.status !== 200) throw new Error(`/readyz ${r.status}: ${r.body.trim()}`);
    return true;
  };
}

/**
 * SIGTERM, then up to `graceMs` for the exit (a pending long poll ends first); past it,
 * SIGKILL if `killAfterGrace`, else a TimeoutError (a test that expects a clean exit).
 */
export async function stopOperator(child: ChildProcess, exited: Promise<void>, { graceMs, killAfterGrace }: { graceMs: number; killAfterGrace: boolean }): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
  clearTimeout(timer);
  if (inTime) return;
  if (!killAfterGrace) throw new TimeoutError(`timed out after ${graceMs} ms waiting for the operator to exit after SIGTERM`);
  child.kill('SIGKILL');
  await exited;
}

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
    const { child, httpPort } = await launchOperator({ env: { LOG_LEVEL: 'debug', ...env } });
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
    const exited = () => (this.alive ? undefined : `operator exited (${this.exitCode ?? this.signal}): ${this.raw.slice(-5).join(' | ')}`);
    await waitFor('operator /readyz', operatorReady(this.httpPort, exited), { timeoutMs });
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
    await stopOperator(this.child, this.exited, { graceMs: timeoutMs, killAfterGrace: false });
    return this.exitCode;
  }

  kill9(): Promise<void> {
    this.stopRequested = true;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** GET from a process's HTTP port, on loopback unless `host` says where (2 s deadline). */
export function httpGet(port: number, pathname: string, timeoutMs = 2000, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: pathname, timeout: timeoutMs }, (res) => {
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
