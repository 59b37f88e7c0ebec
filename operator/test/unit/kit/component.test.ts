/** startProcessComponent: the one life (spawn → ready → stop → log tail) of the processes a test file starts beside the stack. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcessComponent, type ProcessComponent } from '../../../../scripts/stack/components';
import { isRunning } from '../../../../scripts/stack/process';
import { freePort } from '../../../../scripts/kit/net';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'component-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function answers(port: number): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) })).ok;
}

function node(name: string, script: string, port: number, over: Partial<ProcessComponent> = {}): ProcessComponent {
  return {
    name,
    command: process.execPath,
    args: ['-e', script, String(port)],
    logFile: path.join(dir, `${name}.log`),
    readyWhat: `${name} to answer on ${port}`,
    ready: () => answers(port),
    readyTimeoutMs: 10_000,
    intervalMs: 20,
    ...over,
  };
}

const SERVER = "console.log('listening'); require('http').createServer((q, r) => r.end('ok')).listen(Number(process.argv[1]), '127.0.0.1')";

describe('startProcessComponent', () => {
  it('returns once the process answers, and stop() ends it (twice is harmless)', async () => {
    const port = await freePort();
    const c = await startProcessComponent(node('server', SERVER, port));
    expect(await answers(port)).toBe(true);
    expect(isRunning(c.pid, c.startTime)).toBe(true);
    await c.stop();
    await c.stop();
    expect(isRunning(c.pid, c.startTime)).toBe(false);
    expect(fs.readFileSync(c.logFile, 'utf8')).toContain('listening');
  });

  it('fails at once, with the last lines of its log, when the process exits during start-up', async () => {
    const started = Date.now();
    const start = startProcessComponent(node('crasher', "console.error('bad flag --nope'); process.exit(3)", await freePort()));
    await expect(start).rejects.toThrow(/^crasher: exited during start-up \(see .*crasher\.log\)\n[\s\S]*bad flag --nope/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops a process that never answers before saying so', async () => {
    const port = await freePort();
    const pidFile = path.join(dir, 'mute.pid');
    const mute = node('mute', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`, port, { readyTimeoutMs: 500 });
    await expect(startProcessComponent(mute)).rejects.toThrow(/^mute: timed out after 500 ms waiting for mute to answer on \d+/);
    expect(isRunning(Number(fs.readFileSync(pidFile, 'utf8')))).toBe(false);
  });
});
