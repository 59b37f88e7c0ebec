/**
 * One pool of kept-alive connections for every Kubernetes request the operator makes
 * (rotation, status writes, Lease renewals, relists; watches keep their own long-lived
 * connection each). client-node 0.20 sends each request through `request` with a fresh,
 * non-keep-alive agent per TLS configuration, and the framework's status writes build a
 * new HTTPS agent per call: in a cluster that is a TCP connection and a TLS handshake
 * per request. Deadlines stay per request (kube/timeout.ts); the pool needs no bound of
 * its own, since the Limiter already bounds the requests in flight (kube/limit.ts) and
 * Lease renewals must never wait behind them for a socket.
 */
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import type { KubeApi } from './timeout';

/**
 * An idle connection is closed after this long: well inside the API server's own idle
 * timeout (90 s), so a request is not sent on a connection the server is closing.
 */
export const IDLE_CONNECTION_MS = 15_000;

export type KubeAgent = http.Agent;

/**
 * The agent for the kubeconfig's current cluster, holding its TLS material (CA, client
 * certificate). Read once: a kubeconfig whose CA or client certificate changes needs a
 * restart (in a cluster the service account token, the only credential that rotates,
 * is still read per request by client-node and sent as a header).
 */
export async function kubeAgent(kc: k8s.KubeConfig): Promise<KubeAgent> {
  const common = { keepAlive: true, scheduling: 'lifo' as const, timeout: IDLE_CONNECTION_MS };
  if (kc.getCurrentCluster()?.server.startsWith('http:')) return new http.Agent(common);
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  return new https.Agent({ ...common, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized });
}

/** `api` (a client-node API class) sending every request through `agent`. */
export function withAgent<T extends KubeApi>(api: T, agent: KubeAgent): T {
  api.addInterceptor((opts) => {
    opts.agent = agent;
  });
  return api;
}
