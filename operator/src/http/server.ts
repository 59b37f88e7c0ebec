/** /healthz (the process serves), /readyz (caught up with the API server), /metrics. */
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSources {
  ready(): { ok: boolean; reason: string };
}

export function startHttpServer(port: number, registry: Registry, health: HealthSources): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/readyz') {
      const r = health.ready();
      return send(res, r.ok ? 200 : 503, `${r.reason}\n`);
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (err: Error) => send(res, 500, `${err.message}\n`),
      );
      return;
    }
    send(res, 404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}

function send(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType });
  res.end(body);
}
