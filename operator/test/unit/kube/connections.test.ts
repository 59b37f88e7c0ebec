import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { kubeAgent, withAgent } from '../../../src/kube/connections';
import { withTimeout } from '../../../src/kube/timeout';
import { loopbackCertificate } from '../../../../scripts/stack/pki';

const tls = loopbackCertificate('test');

/**
 * An HTTPS "API server", reached as in a cluster (a CA to trust, a bearer token), that
 * answers every request with an empty namespace list and counts connections.
 */
async function apiServer(): Promise<{ kc: k8s.KubeConfig; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = https.createServer(tls, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items: [] }));
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: Buffer.from(tls.cert).toString('base64') }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

describe('one pool of kept-alive connections', () => {
  let s: Awaited<ReturnType<typeof apiServer>>;
  let agent: Awaited<ReturnType<typeof kubeAgent>> | undefined;

  beforeEach(async () => {
    s = await apiServer();
  });

  afterEach(async () => {
    agent?.destroy();
    agent = undefined;
    await s.close();
  });

  it('sends a client\'s requests, one after another and at once, over kept-alive connections', async () => {
    agent = await kubeAgent(s.kc);
    const core = withTimeout(withAgent(s.kc.makeApiClient(k8s.CoreV1Api), agent), 5_000);
    for (let i = 0; i < 10; i++) await core.listNamespace();
    await Promise.all(Array.from({ length: 3 }, () => core.listNamespace()));
    expect(s.connections()).toBeLessThanOrEqual(3);
  });

  it('is shared by every client given the agent', async () => {
    agent = await kubeAgent(s.kc);
    const a = withAgent(s.kc.makeApiClient(k8s.CoreV1Api), agent);
    const b = withAgent(s.kc.makeApiClient(k8s.CoreV1Api), agent);
    for (let i = 0; i < 5; i++) await (i % 2 ? a : b).listNamespace();
    expect(s.connections()).toBe(1);
  });

  it('a deadline without the shared agent still reaches the server with the kubeconfig\'s TLS material (the bench\'s clients)', async () => {
    const core = withTimeout(s.kc.makeApiClient(k8s.CoreV1Api), 5_000);
    await expect(core.listNamespace()).resolves.toMatchObject({ body: { kind: 'NamespaceList' } });
  });

  it('without it, client-node opens a connection (and TLS handshake) per request: what it replaces', async () => {
    const core = s.kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 5; i++) await core.listNamespace();
    expect(s.connections()).toBe(5);
  });
});

describe('a deadline per request', () => {
  it('fails a request at its deadline even while the answer keeps trickling in on a kept-alive connection', async () => {
    let requests = 0;
    const trickles = new Set<NodeJS.Timeout>();
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (++requests === 1) return void res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items: [] }));
      // A byte every 50 ms, for ever: never idle long enough for a socket timeout.
      res.write('{"kind":"NamespaceList","items":[');
      const t = setInterval(() => res.write(' '), 50);
      trickles.add(t);
      res.on('close', () => clearInterval(t));
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const agent = await kubeAgent(kc);
    try {
      const core = withTimeout(withAgent(kc.makeApiClient(k8s.CoreV1Api), agent), 400);
      await core.listNamespace();
      const started = Date.now();
      const outcome = await Promise.race([
        core.listNamespace().then(
          () => 'answered',
          (err: unknown) => `failed: ${err instanceof Error ? err.message : JSON.stringify(err)}`,
        ),
        new Promise((r) => setTimeout(() => r('still waiting after 3 s'), 3_000)),
      ]);
      expect(outcome).toMatch(/^failed: .*deadline/);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      for (const t of trickles) clearInterval(t);
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
