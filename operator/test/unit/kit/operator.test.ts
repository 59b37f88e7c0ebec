/** The one operator launcher's readiness probe and stop, on real processes and a real HTTP server. */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { operatorReady, stopOperator } from '../../../../scripts/kit/operator';
import { TimeoutError, waitFor } from '../../../../scripts/kit/wait';

describe('operatorReady', () => {
  let server: http.Server;
  let port: number;
  let status = 503;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.writeHead(status).end(status === 200 ? 'ok' : 'not in sync'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('waits while /readyz says why not, and names the reason on timeout', async () => {
    status = 503;
    await expect(waitFor('operator /readyz', operatorReady(port, () => undefined), { timeoutMs: 100, intervalMs: 10 })).rejects.toThrow(
      'timed out after 100 ms waiting for operator /readyz: /readyz 503: not in sync',
    );
    status = 200;
    await expect(waitFor('operator /readyz', operatorReady(port, () => undefined), { timeoutMs: 1000, intervalMs: 10 })).resolves.toBe(true);
  });

  it('stops waiting at once when the process is gone', async () => {
    status = 503;
    await expect(waitFor('operator /readyz', operatorReady(port, () => 'operator exited (1)'), { timeoutMs: 5_000 })).rejects.toThrow(/^operator exited \(1\)$/);
  });
});

describe('stopOperator', () => {
  const stubborn = () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const up = new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    return { child, exited, up };
  };

  it('returns once a process exits on SIGTERM', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await stopOperator(child, exited, { graceMs: 10_000, killAfterGrace: false });
    expect(child.signalCode).toBe('SIGTERM');
  });

  it('kills a process that outlives its grace, when asked to', async () => {
    const { child, exited, up } = stubborn();
    await up;
    await stopOperator(child, exited, { graceMs: 200, killAfterGrace: true });
    expect(child.signalCode).toBe('SIGKILL');
  });

  it('otherwise says it did not exit in time', async () => {
    const { child, exited, up } = stubborn();
    await up;
    await expect(stopOperator(child, exited, { graceMs: 200, killAfterGrace: false })).rejects.toThrow(TimeoutError);
    child.kill('SIGKILL');
    await exited;
  });
});
