/**
 * The shell's exit codes, without a cluster: bad arguments say one line and exit 2, a
 * cluster that does not answer one line and exit 1 (the answers themselves are proven
 * against the kwok stack in e2e/preview.e2e.test.ts).
 */
import net from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { run } from '../../../src/cli/srm';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => (out.stdout += t), stderr: (t: string) => (out.stderr += t) } };
}

function kubeConfigFor(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  return kc;
}

describe('srm exit codes', () => {
  it('prints the usage for --help and exits 0', async () => {
    const { out, io: streams } = io();
    expect(await run(['--help'], streams, kubeConfigFor('http://127.0.0.1:1'))).toBe(0);
    expect(out.stdout).toMatch(/^Usage: kubectl srm/);
  });

  it('says what is wrong with the arguments in one line and exits 2', async () => {
    const { out, io: streams } = io();
    expect(await run(['preview'], streams, kubeConfigFor('http://127.0.0.1:1'))).toBe(2);
    expect(out.stderr).toBe('srm: preview needs a secret name or ARN (see kubectl srm --help)\n');
  });

  it('says in one line that the cluster cannot be read, and exits 1', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    for (const argv of [['preview', 'prod/db'], ['status']]) {
      const { out, io: streams } = io();
      expect(await run(argv, streams, kubeConfigFor(`http://127.0.0.1:${port}`))).toBe(1);
      expect(out.stderr).toMatch(new RegExp(`^srm: cannot read the cluster at http://127.0.0.1:${port}: .*ECONNREFUSED.*\\n$`));
      expect(out.stderr.split('\n')).toHaveLength(2);
      expect(out.stdout).toBe('');
    }
  });
});
