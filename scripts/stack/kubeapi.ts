/**
 * A very small HTTPS client for the local API server (client-certificate auth),
 * enough for the stack's own checks: readyz, nodes, service accounts.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';

export interface KubeConnection {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface KubeResponse {
  status: number;
  body: string;
}

export function kubeRequest(conn: KubeConnection, method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<KubeResponse> {
  const url = new URL(path, conn.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: fs.readFileSync(conn.caFile),
        cert: fs.readFileSync(conn.certFile),
        key: fs.readFileSync(conn.keyFile),
        headers: {
          Accept: 'application/json',
          ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function kubeJson<T = Record<string, unknown>>(conn: KubeConnection, method: string, path: string, body?: unknown): Promise<T> {
  const res = await kubeRequest(conn, method, path, body);
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${method} ${path}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  }
  return JSON.parse(res.body) as T;
}

/** GET an https health endpoint of a local component (self-signed: not verified). */
export function httpsHealth(url: string, timeoutMs = 2000): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET over plain http (etcd, kwok, moto). */
export async function httpGet(url: string, timeoutMs = 2000): Promise<KubeResponse> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { signal: ctl.signal });
    return { status: res.status, body: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}
