/**
 * An HTTP proxy in front of moto's Secrets Manager that can hold DescribeSecret calls
 * for chosen secret ids and release them together: how a test makes two code paths of
 * the operator (an SQS event and a drift pass) reach the same secret at the same
 * instant, rather than hoping a timer lines up.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DescribeGate {
  /** Use as AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  readonly url: string;
  /** The SecretId of every DescribeSecret, in order of arrival. */
  readonly describes: { secretId: string; at: number }[];
  /**
   * From now on, holds every DescribeSecret whose SecretId is in `ids`; releases them all
   * at once when `ready(held)` says so, or `timeoutMs` after this call, and then stops
   * holding. Resolves to the ids held and whether `ready` was met.
   */
  hold(ids: readonly string[], ready: (held: readonly string[]) => boolean, timeoutMs: number): Promise<{ held: string[]; met: boolean }>;
  close(): Promise<void>;
}

export async function startDescribeGate(upstream: string): Promise<DescribeGate> {
  const up = new URL(upstream);
  const describes: { secretId: string; at: number }[] = [];
  let gate: { ids: Set<string>; held: { id: string; go: () => void }[]; consider: () => void } | undefined;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = () => {
        const fwd = http.request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: { ...req.headers, host: up.host } }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        fwd.on('error', (err) => {
          res.writeHead(502);
          res.end(String(err));
        });
        fwd.end(body);
      };
      if (!String(req.headers['x-amz-target'] ?? '').endsWith('.DescribeSecret')) return forward();
      let secretId = '';
      try {
        secretId = String((JSON.parse(body.toString('utf8')) as { SecretId?: unknown }).SecretId ?? '');
      } catch {
        /* not JSON: forwarded as it is */
      }
      describes.push({ secretId, at: Date.now() });
      if (!gate || !gate.ids.has(secretId)) return forward();
      gate.held.push({ id: secretId, go: forward });
      gate.consider();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    describes,
    hold(ids, ready, timeoutMs) {
      return new Promise((resolve) => {
        const g = {
          ids: new Set(ids),
          held: [] as { id: string; go: () => void }[],
          consider: () => {
            if (ready(g.held.map((h) => h.id))) release(true);
          },
        };
        const timer = setTimeout(() => release(false), timeoutMs);
        const release = (met: boolean) => {
          clearTimeout(timer);
          if (gate !== g) return;
          gate = undefined;
          for (const h of g.held) h.go();
          resolve({ held: g.held.map((h) => h.id), met });
        };
        gate = g;
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
