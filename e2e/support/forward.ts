/**
 * The forwarding core of the test proxies in front of the AWS emulators (moto,
 * ElasticMQ): each request is read whole, so a proxy can look at its operation and
 * input before deciding to forward it, hold it, or answer it itself, and an answer it
 * forwards is read whole too, so it can be rewritten before the client sees it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call of the AWS JSON protocol (Secrets Manager, SQS): its operation is in X-Amz-Target. */
export interface AwsCall {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** e.g. `secretsmanager.DescribeSecret`, `AmazonSQS.ReceiveMessage`; '' when absent. */
  readonly target: string;
  /** The parsed JSON input; {} when the body is not a JSON object. */
  readonly input: Record<string, unknown>;
}

export interface Answer {
  readonly status: number;
  readonly headers: http.OutgoingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Sends the call to `upstream`, with `body` in place of its own and, with `target`, as
 * another operation (e.g. a proxy's own DescribeSecret before a write it forwards).
 */
export type Forward = (upstream: string, body?: Buffer, target?: string) => Promise<Answer>;

/** Decides what a call gets: usually `forward`'s answer, possibly rewritten, delayed or replaced. */
export type Handler = (call: AwsCall, forward: Forward) => Promise<Answer>;

export interface ForwardingProxy {
  /** http://127.0.0.1:<port>: an endpoint for the SDK (AWS_ENDPOINT_URL_*). */
  readonly url: string;
  close(): Promise<void>;
}

/** A JSON answer as the AWS JSON protocol sends one. */
export function jsonAnswer(status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): Answer {
  return { status, headers: { 'content-type': 'application/x-amz-json-1.1', ...headers }, body: Buffer.from(JSON.stringify(value)) };
}

function parseInput(body: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * An answer's headers without the hop-by-hop ones and the length (the proxy sends its
 * own, as the body may have been rewritten).
 */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, 'content-length': _l, ...rest } = headers;
  return rest;
}

/** Sends `call` to `upstream` (see Forward) and reads the whole answer; a transport error is a 502. */
function forwardTo(upstream: string, call: AwsCall, body: Buffer = call.body, target = call.target): Promise<Answer> {
  const up = new URL(upstream);
  return new Promise((resolve) => {
    const { 'content-length': _l, ...headers } = call.headers;
    const req = http.request({ host: up.hostname, port: up.port, path: call.url, method: call.method, headers: { ...headers, ...(target ? { 'x-amz-target': target } : {}), host: up.host, 'content-length': body.length } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: endToEnd(r.headers), body: Buffer.concat(chunks) }));
      r.on('error', (err) => resolve({ status: 502, headers: {}, body: Buffer.from(String(err)) }));
    });
    req.on('error', (err) => resolve({ status: 502, headers: {}, body: Buffer.from(String(err)) }));
    req.end(body);
  });
}

export async function startForwardingProxy(handle: Handler): Promise<ForwardingProxy> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call: AwsCall = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body, target: String(req.headers['x-amz-target'] ?? ''), input: parseInput(body) };
      handle(call, (upstream, b, t) => forwardTo(upstream, call, b, t)).then(
        (a) => {
          res.writeHead(a.status, { ...a.headers, 'content-length': a.body.length });
          res.end(a.body);
        },
        (err: unknown) => {
          res.writeHead(502);
          res.end(String(err));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
