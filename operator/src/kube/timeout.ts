/**
 * Every call to the API server gets a deadline: a hung connection must not stall a loop.
 * client-node 0.20 sends through `request`, whose `timeout` is a connect and idle timeout
 * only: an answer that trickles a byte now and then is never idle, and would hold its
 * request (and its Limiter slot) for ever. So the deadline is also enforced on the whole
 * exchange, through the agent that sends it: at the deadline the request is destroyed,
 * and its caller gets the error.
 */
import http from 'node:http';
import https from 'node:https';

/** Default deadline for one call to the API server. */
export const K8S_TIMEOUT_MS = 30_000;

/** A client-node API class, as far as its request options are set here (timeout, agent) and in kube/connections.ts (agent). */
export interface KubeApi {
  addInterceptor(i: (o: { timeout?: number; agent?: unknown; uri?: unknown }) => void): void;
}

/**
 * Every call of `api` fails `ms` after it is sent, whatever arrives meanwhile. Applied
 * after withAgent (kube/connections.ts): it wraps the agent that interceptor set.
 */
export function withTimeout<T extends KubeApi>(api: T, ms = K8S_TIMEOUT_MS): T {
  api.addInterceptor((opts) => {
    opts.timeout = ms;
    const agent = (opts.agent as http.Agent | undefined) ?? (String(opts.uri).startsWith('http:') ? http.globalAgent : https.globalAgent);
    opts.agent = withDeadline(agent, ms);
  });
  return api;
}

/** Node's hook where an agent is handed each request it sends (not in its public types). */
type Sending = { addRequest(req: http.ClientRequest, options: unknown): void };

/** `agent` (its pool, its TLS material) with every request it sends destroyed `ms` after it is handed over. */
function withDeadline(agent: http.Agent, ms: number): http.Agent {
  const timed = Object.create(agent) as http.Agent & Sending;
  timed.addRequest = (req, options) => {
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer from the API server within its deadline (${ms} ms)`)), ms);
    timer.unref();
    req.once('close', () => clearTimeout(timer));
    (agent as http.Agent & Sending).addRequest(req, options);
  };
  return timed;
}
