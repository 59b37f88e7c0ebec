/**
 * The fingerprint app's readiness mode (examples/fingerprint-app/server.mjs,
 * READY_ONLY_IF_OK): run as a process, it is ready only when its secret's value is JSON
 * with "ok": true, the stand-in for an app refusing a wrong password that the real-node
 * canary e2e needs. Without the switch it is ready whatever the value, as before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../../../scripts/kit/net';
import { httpGet } from '../../../../scripts/kit/operator';
import { waitFor } from '../../../../scripts/kit/wait';

const SERVER = path.join(__dirname, '..', '..', '..', '..', 'examples', 'fingerprint-app', 'server.mjs');
const running: ChildProcess[] = [];

afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

/** Starts the app on `value` (as ESO delivers it: an environment variable) and answers its /readyz once it listens. */
async function readyz(value: string, readyOnlyIfOk: boolean): Promise<{ status: number; body: string }> {
  const port = await freePort();
  const env = { PATH: process.env.PATH, PORT: String(port), SECRET_ENV: 'APP_SECRET', APP_SECRET: value, ...(readyOnlyIfOk ? { READY_ONLY_IF_OK: 'true' } : {}) };
  const p = spawn(process.execPath, [SERVER], { env, stdio: 'ignore' });
  running.push(p);
  return waitFor(`fingerprint app on ${port} answers`, () => httpGet(port, '/readyz'), { timeoutMs: 15_000, intervalMs: 50 });
}

describe('fingerprint app, READY_ONLY_IF_OK', () => {
  it('is ready on a value that is JSON with "ok": true', async () => {
    expect(await readyz(JSON.stringify({ ok: true, password: 'x' }), true)).toEqual({ status: 200, body: 'ok\n' });
  });

  it('is never ready on any other value: not JSON, ok not true', async () => {
    for (const value of ['wrong-password', JSON.stringify({ ok: 'true' }), JSON.stringify({ password: 'x' })]) {
      expect({ value, answer: await readyz(value, true) }).toEqual({ value, answer: { status: 503, body: 'the secret is not valid for this app\n' } });
    }
  });

  it('without the switch, is ready whatever the value', async () => {
    expect(await readyz('wrong-password', false)).toEqual({ status: 200, body: 'ok\n' });
  });
});
