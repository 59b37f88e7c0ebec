/**
 * The framework wrapper against a small HTTP server speaking the list/watch protocol:
 * it proves that a dying API server neither exits the process nor leaves the index
 * stale. The real API server is exercised in e2e.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createLogger } from '../../../src/core/log';
import { MappingIndex } from '../../../src/mappings/mappingIndex';
import type { SecretsRotationMapping } from '../../../src/mappings/model';
import { MappingWatcher } from '../../../src/mappings/watcher';
import { Fence } from '../../../src/leader/fence';
import { parseSecretId } from '../../../src/secrets/secretId';

const PATH = '/apis/awssecretsoperator.secretoperator/v1/secretsrotationmappings';
let rv = 100;
const srm = (name: string, secretId: string): SecretsRotationMapping => ({
  apiVersion: 'awssecretsoperator.secretoperator/v1',
  kind: 'SecretsRotationMapping',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, generation: 1, resourceVersion: String(++rv) },
  spec: { secretId, selector: { matchLabels: { app: name } } },
});

class FakeApiServer {
  items: SecretsRotationMapping[] = [];
  failLists = 0;
  /** Status writes received; with hangWrites they are accepted and never answered (a hung API server). */
  readonly writes: unknown[] = [];
  hangWrites = false;
  readonly watches = new Set<http.ServerResponse>();
  server?: http.Server;
  port = 0;

  async listen(port = 0) {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const status = /^\/apis\/awssecretsoperator\.secretoperator\/v1\/namespaces\/([^/]+)\/secretsrotationmappings\/([^/]+)\/status$/.exec(url.pathname);
      if (req.method === 'PATCH' && status) {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status: object };
          this.writes.push(body.status);
          if (this.hangWrites) return;
          const o = this.items.find((i) => i.metadata.name === status[2])!;
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: String(++rv) }, status: body.status }));
        });
        return;
      }
      if (url.pathname !== PATH) return void res.writeHead(404).end();
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        for (const o of this.items) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
        this.watches.add(res);
        res.on('close', () => this.watches.delete(res));
        return;
      }
      if (this.failLists > 0) {
        this.failLists--;
        return void res.writeHead(429, { 'Content-Type': 'application/json' }).end('{"kind":"Status","message":"storage is (re)initializing"}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'List', items: this.items }));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  send(type: string, object: unknown) {
    for (const w of this.watches) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  async kill() {
    for (const w of this.watches) w.destroy();
    this.server!.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }
}

async function until(cond: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('MappingWatcher on @dot-i/k8s-operator', () => {
  let api: FakeApiServer;
  let watcher: MappingWatcher;
  let exit: jest.SpyInstance;

  beforeEach(async () => {
    exit = jest.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`process.exit(${code}) called`);
    }) as never);
    api = new FakeApiServer();
    api.items = [srm('a', 'secret-a')];
    await api.listen();
  });

  afterEach(async () => {
    watcher?.stop();
    await api.kill().catch(() => undefined);
    exit.mockRestore();
  });

  const start = async (extra: Partial<ConstructorParameters<typeof MappingWatcher>[0]> = {}) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${api.port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const index = new MappingIndex();
    watcher = new MappingWatcher({ namespaces: [], index, log: createLogger('silent'), kubeConfig: kc, ...extra });
    await watcher.startWatching(3600);
    return index;
  };

  it('indexes what the watch delivers, including invalid objects kept out of the index', async () => {
    const index = await start();
    await until(() => api.watches.size === 1, 'watch connected');
    api.send('ADDED', srm('b', 'secret-b'));
    api.send('ADDED', { ...srm('bad', 'secret-c'), spec: { secretId: 'secret-c' } });
    api.send('BOOKMARK', { metadata: { resourceVersion: '1' } });
    api.send('ERROR', { kind: 'Status', code: 410 });
    await until(() => index.size === 2 && watcher.invalidErrors('ns/bad') !== undefined, 'events applied');
    expect(index.lookup(parseSecretId('secret-b')).map((m) => m.key)).toEqual(['ns/b']);
    expect(watcher.invalidErrors('ns/bad')).toEqual([{ field: 'spec.selector', message: expect.stringMatching(/required/) }]);
    api.send('DELETED', srm('b', 'secret-b'));
    await until(() => index.size === 1, 'delete applied');
    expect(watcher.ready).toBe(true);
  });

  it('tells listeners whether a spec or only the status changed, so our own status writes reconcile nothing', async () => {
    await start();
    const seen: string[] = [];
    watcher.onChange((key, kind) => seen.push(`${key} ${kind}`));
    const a = srm('a', 'secret-a');
    const withStatus = { ...a, metadata: { ...a.metadata, resourceVersion: String(++rv) }, status: { observedGeneration: 1 } };
    const newSpec = { ...a, metadata: { ...a.metadata, generation: 2, resourceVersion: String(++rv) }, spec: { ...a.spec, secretId: 'secret-z' } };
    const recreated = { ...a, metadata: { ...a.metadata, uid: 'uid-a-2', resourceVersion: String(++rv) } };
    watcher.apply('MODIFIED', withStatus);
    watcher.apply('MODIFIED', newSpec);
    watcher.apply('DELETED', newSpec);
    watcher.apply('ADDED', recreated);
    watcher.apply('MODIFIED', { ...recreated, metadata: { ...recreated.metadata, uid: 'uid-a-3', resourceVersion: String(++rv) } });
    expect(seen).toEqual(['ns/a status', 'ns/a spec', 'ns/a spec', 'ns/a spec', 'ns/a spec']);
  });

  it('a status write has a deadline: a hung API server does not hold it (or a limiter slot) for ever', async () => {
    await start({ writeTimeoutMs: 300 });
    await until(() => watcher.keys().length === 1, 'listed');
    api.hangWrites = true;
    const t0 = Date.now();
    expect(await watcher.statusWriter.patchStatus('ns/a', () => ({ observedGeneration: 1 }))).toBe(false);
    expect(api.writes).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('status writes and relists go through the shared agent (the framework makes a new one per write)', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const requests = jest.spyOn(agent, 'addRequest' as never);
    const sockets = jest.spyOn(agent, 'createConnection' as never);
    await start({ agent });
    await until(() => watcher.keys().length === 1, 'listed');
    const [requestsBefore, socketsBefore] = [requests.mock.calls.length, sockets.mock.calls.length];
    expect(requestsBefore).toBeGreaterThan(0); // the relist
    for (let i = 1; i <= 3; i++) expect(await watcher.statusWriter.patchStatus('ns/a', () => ({ observedGeneration: i }))).toBe(true);
    expect(api.writes).toHaveLength(3);
    expect(requests.mock.calls.length - requestsBefore).toBe(3);
    expect(sockets.mock.calls.length).toBe(socketsBefore); // the relist's connection, kept alive
    agent.destroy();
  });

  it('a status write is refused before it is sent when this replica may not write', async () => {
    const fence = new Fence({ currentTerm: () => undefined, leaseValid: () => false });
    await start({ fence });
    await until(() => watcher.keys().length === 1, 'listed');
    expect(await watcher.statusWriter.patchStatus('ns/a', () => ({ observedGeneration: 1 }))).toBe(false);
    expect(api.writes).toEqual([]);
  });

  it('a version just recorded is in the index at once, before the watch brings the write back', async () => {
    const index = await start();
    await until(() => watcher.keys().length === 1, 'listed');
    expect(await watcher.statusWriter.patchStatus('ns/a', () => ({ appliedVersion: 'v9', secretId: 'secret-a' }))).toBe(true);
    expect(index.get('ns/a')?.appliedVersion).toBe('v9');
  });

  it('retries a failed first list at once instead of waiting for the resync (a CRD still initialising)', async () => {
    api.failLists = 2;
    const index = await start();
    expect(watcher.ready).toBe(false);
    await until(() => watcher.ready && index.size === 1, 'ready after the list succeeds', 5_000);
  });

  it('survives the API server going away, turns unready, and repairs missed deletes on return', async () => {
    const index = await start();
    await until(() => watcher.ready && index.size === 1, 'initial sync');
    const port = api.port;
    await api.kill();
    await until(() => !watcher.ready, 'unready while the API server is down');
    // While down, "a" was deleted and "c" created: the watch never saw either.
    api = new FakeApiServer();
    api.items = [srm('c', 'secret-c')];
    await api.listen(port);
    await until(() => watcher.ready && index.lookup(parseSecretId('secret-c')).length === 1 && index.lookup(parseSecretId('secret-a')).length === 0, 'recovered', 20_000);
    expect(index.size).toBe(1);
    expect(exit).not.toHaveBeenCalled();
  }, 30_000);
});

describe('dependency overrides keep the framework working', () => {
  const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version.split('.').map(Number);
  const atLeast = (v: number[], min: number[]) => v[0] > min[0] || (v[0] === min[0] && (v[1] > min[1] || (v[1] === min[1] && v[2] >= min[2])));

  it('jsonpath-plus is 10.3.0 or later (CVE-2024-21534, CVE-2025-1302) and client-node still evaluates paths with it', () => {
    expect(atLeast(version('jsonpath-plus'), [10, 3, 0])).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { jsonpath } = require('@kubernetes/client-node/dist/json_path') as { jsonpath: (p: string, j: unknown) => unknown[] };
    expect(jsonpath('$.status.token', { status: { token: 't' } })).toEqual(['t']);
  });

  it('tough-cookie is 4.1.3 or later (CVE-2023-26136) and request still uses it', () => {
    expect(atLeast(version('tough-cookie'), [4, 1, 3])).toBe(true);
    // The request client-node loads: the override installs @cypress/request under client-node's own node_modules.
    const requestPath = require.resolve('request', { paths: [require.resolve('@kubernetes/client-node')] });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect((require(path.join(path.dirname(requestPath), 'package.json')) as { name: string }).name).toBe('@cypress/request');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const request = require(requestPath) as { jar(): { setCookie(c: string, u: string): void; getCookieString(u: string): string } };
    const jar = request.jar();
    jar.setCookie('a=b', 'https://example.test/');
    expect(jar.getCookieString('https://example.test/')).toBe('a=b');
  });
});
