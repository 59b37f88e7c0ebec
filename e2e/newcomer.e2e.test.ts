/**
 * The newcomer's first command: the README's outside-a-cluster block (marked
 * `<!-- first-run -->`), taken from README.md and run as written against the local
 * stack, with no environment but what a shell has (PATH, HOME). It must build, start,
 * lead and get ready, then stop cleanly on SIGTERM. A change to the README's block is a
 * change to this test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { DEFAULTS } from '../operator/src/config';
import { stackPaths } from '../scripts/stack/paths';
import { REPO_ROOT } from './support/kube';
import { freePort } from '../scripts/kit/net';
import { httpGet } from './support/operator';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const FIRST_RUN = /<!-- first-run[^>]*-->\s*```sh\n([\s\S]*?)```/;

function readmeBlock(): string {
  const block = FIRST_RUN.exec(fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'))?.[1];
  if (!block) throw new Error('README.md has no ```sh block after <!-- first-run … -->');
  return block;
}

interface LogLine {
  message?: string;
  [field: string]: unknown;
}

describe("the README's first command, outside a cluster", () => {
  let child: ChildProcess | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let output = '';
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(stackPaths().kubeconfig);
  // What the operator should pick: the namespace of the stack kubeconfig's current context, else default.
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const leaseNamespace = contextNamespace ?? 'default';
  const groupAlive = () => {
    try {
      process.kill(-child!.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };

  afterAll(async () => {
    if (child?.pid && groupAlive()) process.kill(-child.pid, 'SIGKILL');
    await kc
      .makeApiClient(k8s.CoordinationV1Api)
      .deleteNamespacedLease(DEFAULTS.LEASE_NAME, leaseNamespace)
      .catch(() => undefined);
  });

  test('builds, takes the Lease in the kubeconfig context namespace, gets ready, and stops on SIGTERM', async () => {
    const block = readmeBlock();
    expect(block).toContain('npm start');
    const port = await freePort();
    // Only what a newcomer's shell has. HTTP_PORT: this machine is shared, and the
    // default port (8080) may be another engineer's.
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HTTP_PORT: String(port) };
    child = spawn('bash', ['-ec', block], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code, signal) => (exit = { code, signal }));
    const lines = (): LogLine[] =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as LogLine];
          } catch {
            return [];
          }
        });

    const ready = await waitFor(
      '/readyz 200 (or the command to end)',
      async () => exit ?? ((await httpGet(port, '/readyz').catch(() => ({ status: 0 }))).status === 200 && 'ready'),
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    expect([ready, output.match(/configuration error: .*/)?.[0]]).toEqual(['ready', undefined]);
    expect(lines().find((l) => l.message === 'starting')).toMatchObject({
      leaderElection: true,
      leaseNamespace,
      leaseNamespaceFrom: contextNamespace ? 'kubeconfig context' : 'default',
    });
    await waitFor('the operator to lead', () => lines().some((l) => l.message === 'became leader' && l.lease === `${leaseNamespace}/${DEFAULTS.LEASE_NAME}`), { timeoutMs: 30_000 });

    process.kill(-child.pid!, 'SIGTERM');
    // Shutdown waits for the long poll in hand (SQS_WAIT_TIME_SECONDS, 20 s by default).
    await waitFor('every process of the command to exit', () => exit !== undefined && !groupAlive(), { timeoutMs: 45_000 });
    expect(lines().map((l) => l.message)).toEqual(expect.arrayContaining(['shutting down: finishing in-flight work', 'released the lease', 'stopped']));
  });
});
