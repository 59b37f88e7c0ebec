import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { kubeAgent, type KubeAgent } from '../../../src/kube/connections';
import { ServedCache, servesResource } from '../../../src/kube/discovery';
import { ROLLOUT_API } from '../../../src/workloads/workload';
import { loopbackCertificate } from '../../../../scripts/stack/pki';

const tls = loopbackCertificate('test');

describe('servesResource', () => {
  /** An HTTPS "API server" whose discovery answers are set per test; it records what it was asked. */
  let answer: { status: number; body?: unknown; delayMs?: number };
  let asked: { url?: string; authorization?: string }[];
  let server: https.Server;
  let kc: k8s.KubeConfig;
  let agent: KubeAgent;

  beforeEach(async () => {
    asked = [];
    server = https.createServer(tls, (req, res) => {
      asked.push({ url: req.url, authorization: req.headers.authorization });
      const send = () => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body ?? {}));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: Buffer.from(tls.cert).toString('base64') }],
      users: [{ name: 'u', token: 'the-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    agent = await kubeAgent(kc);
  });

  afterEach(async () => {
    agent.destroy();
    await new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  });

  const resourceList = (...names: string[]) => ({ kind: 'APIResourceList', groupVersion: 'argoproj.io/v1alpha1', resources: names.map((name) => ({ name, namespaced: true })) });

  it('asks the group/version discovery document with the kubeconfig credentials, and finds rollouts there', async () => {
    answer = { status: 200, body: resourceList('rollouts', 'rollouts/status', 'analysisruns') };
    expect(await servesResource(kc, agent, ROLLOUT_API, 2000)).toBe(true);
    expect(asked).toEqual([{ url: '/apis/argoproj.io/v1alpha1', authorization: 'Bearer the-token' }]);
  });

  it('the group served without rollouts (Argo CD alone) is not served', async () => {
    answer = { status: 200, body: resourceList('applications', 'appprojects') };
    expect(await servesResource(kc, agent, ROLLOUT_API, 2000)).toBe(false);
  });

  it('a 404 (no such group/version) is not served', async () => {
    answer = { status: 404 };
    expect(await servesResource(kc, agent, ROLLOUT_API, 2000)).toBe(false);
  });

  it('any other answer is an error, not an answer', async () => {
    answer = { status: 503 };
    await expect(servesResource(kc, agent, ROLLOUT_API, 2000)).rejects.toThrow('discovery of argoproj.io/v1alpha1 answered HTTP 503');
  });

  it('has a deadline', async () => {
    answer = { status: 200, body: resourceList('rollouts'), delayMs: 5000 };
    const t0 = Date.now();
    await expect(servesResource(kc, agent, ROLLOUT_API, 200)).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('ServedCache', () => {
  function cache(answers: (boolean | Error)[]) {
    let t = 0;
    const asks: number[] = [];
    const changes: boolean[] = [];
    const c = new ServedCache(
      async () => {
        asks.push(t);
        const a = answers.shift();
        if (a instanceof Error) throw a;
        return a ?? true;
      },
      { presentMaxAgeMs: 60_000, absentMaxAgeMs: 5_000, now: () => t, onChange: (s) => changes.push(s) },
    );
    return { c, asks, changes, at: (ms: number) => void (t = ms) };
  }

  it('keeps a present answer for its long age and an absent one only briefly', async () => {
    const k = cache([false, false, true]);
    expect(await k.c.served()).toBe(false);
    k.at(4_999);
    expect(await k.c.served()).toBe(false);
    k.at(5_000);
    expect(await k.c.served()).toBe(false);
    k.at(10_000);
    expect(await k.c.served()).toBe(true);
    k.at(69_999);
    expect(await k.c.served()).toBe(true);
    expect(k.asks).toEqual([0, 5_000, 10_000]);
    expect(k.changes).toEqual([false, true]);
  });

  it('concurrent asks share one request', async () => {
    const k = cache([true]);
    expect(await Promise.all([k.c.served(), k.c.served(), k.c.served()])).toEqual([true, true, true]);
    expect(k.asks).toHaveLength(1);
  });

  it('a failed ask is not kept: the next one asks again', async () => {
    const k = cache([new Error('down'), true]);
    await expect(k.c.served()).rejects.toThrow('down');
    expect(await k.c.served()).toBe(true);
    expect(k.asks).toHaveLength(2);
  });

  it('forget makes the next ask go to the API server, and a changed answer is told', async () => {
    const k = cache([true, false]);
    expect(await k.c.served()).toBe(true);
    k.c.forget();
    expect(await k.c.served()).toBe(false);
    expect(k.asks).toEqual([0, 0]);
    expect(k.changes).toEqual([true, false]);
  });
});
