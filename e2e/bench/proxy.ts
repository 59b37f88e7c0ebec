/**
 * Counting proxies between the operator and what it calls, so the benchmark measures
 * the operator's requests from outside it: every Kubernetes API request (by verb and
 * resource, with the peak number in flight) and every AWS call (by operation), and
 * every new connection the operator opens to either.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { loopbackCertificate } from '../../scripts/stack/pki';

export interface KubeCounts {
  /** `GET deployments`, `PATCH secretsrotationmappings/status`, `WATCH ...`, ... */
  readonly byKind: Record<string, number>;
  readonly total: number;
  /** Most requests in flight at once, watches excluded. */
  readonly peakInFlight: number;
  /** The same without Lease renewals (the rotation's own requests). */
  readonly peakInFlightWithoutLeases: number;
  /** TCP connections the operator opened (each also a TLS handshake). */
  readonly connections: number;
}

/** `/apis/apps/v1/namespaces/x/deployments/y` → `deployments`; `.../mappings/y/status` → `mappings/status`. */
export function resourceOf(pathname: string): string {
  const parts = pathname.split('?')[0].split('/').filter(Boolean);
  const base = parts[0] === 'api' ? 2 : 3; // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts.slice(base);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  if (rest.length === 0) return parts.join('/');
  return rest.length >= 3 ? `${rest[0]}/${rest[2]}` : rest[0];
}

function verbOf(method: string, url: string): string {
  return method === 'GET' && /[?&]watch=(true|1)/.test(url) ? 'WATCH' : method;
}

/**
 * An upstream answer's headers without the hop-by-hop ones: whether the operator's
 * connection to the proxy is kept alive is between the two of them (moto answers
 * `Connection: close`, which would otherwise close every connection the operator keeps).
 */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...rest } = headers;
  return rest;
}

abstract class CountingProxy {
  protected server!: http.Server;
  protected counts = new Map<string, number>();
  /** Milliseconds each request took (the upstream's answer, fully sent back), by kind. */
  protected durations = new Map<string, number[]>();
  /** Connections accepted since the last reset. */
  protected connections = 0;
  port = 0;

  /** `tls`: serve HTTPS with this certificate, as an API server does. */
  constructor(private readonly tls?: { cert: string; key: string }) {}

  async listen(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    this.server = this.tls ? https.createServer(this.tls, handler) : http.createServer(handler);
    // As long as kube-apiserver's (90 s): a client's idle connection is not cut under it.
    this.server.keepAliveTimeout = 90_000;
    this.server.on('connection', () => this.connections++);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }

  protected count(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  protected timed(kind: string, startedAt: number): void {
    const list = this.durations.get(kind) ?? [];
    list.push(performance.now() - startedAt);
    this.durations.set(kind, list);
  }

  /** Total milliseconds spent in requests of each kind since the last reset. */
  timeByKind(): Record<string, number> {
    return Object.fromEntries([...this.durations.entries()].sort().map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)]));
  }

  protected clear(): void {
    this.counts.clear();
    this.durations.clear();
    this.connections = 0;
  }

  protected byKind(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort());
  }

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): void;
}

/**
 * TLS in, as a cluster's API server is reached (a CA to trust, a bearer token), the
 * stack's API server (TLS, admin credentials) out: the operator's connections and
 * handshakes are those it would make in a cluster.
 */
export class KubeProxy extends CountingProxy {
  private inFlight = 0;
  private inFlightNoLease = 0;
  private peak = 0;
  private peakNoLease = 0;
  private readonly agent: https.Agent;
  private readonly target: URL;
  private readonly cert: string;

  constructor(kc: k8s.KubeConfig, tls = loopbackCertificate('bench-proxy')) {
    super(tls);
    this.cert = tls.cert;
    const opts: https.RequestOptions = {};
    void kc.applyToHTTPSOptions(opts);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: opts.ca, cert: opts.cert, key: opts.key });
    this.target = new URL(kc.getCurrentCluster()!.server);
  }

  /** A kubeconfig that sends the operator through this proxy (a placeholder token: the proxy authenticates upstream). */
  kubeconfig(): string {
    const ca = Buffer.from(this.cert).toString('base64');
    return ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: bench', '  cluster:', `    server: ${this.url}`, `    certificate-authority-data: ${ca}`, 'users:', '- name: bench', '  user:', '    token: bench', 'contexts:', '- name: bench', '  context:', '    cluster: bench', '    user: bench', 'current-context: bench', ''].join('\n');
  }

  /** Counts from now on start at zero (peaks too). */
  reset(): void {
    this.clear();
    this.peak = this.inFlight;
    this.peakNoLease = this.inFlightNoLease;
  }

  snapshot(): KubeCounts {
    const byKind = this.byKind();
    return { byKind, total: Object.values(byKind).reduce((a, b) => a + b, 0), peakInFlight: this.peak, peakInFlightWithoutLeases: this.peakNoLease, connections: this.connections };
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const verb = verbOf(req.method ?? 'GET', req.url ?? '/');
    const resource = resourceOf(req.url ?? '/');
    const kind = `${verb} ${resource}`;
    this.count(kind);
    const startedAt = performance.now();
    const tracked = verb !== 'WATCH';
    const lease = resource.startsWith('leases');
    if (tracked) {
      this.inFlight++;
      this.peak = Math.max(this.peak, this.inFlight);
      if (!lease) {
        this.inFlightNoLease++;
        this.peakNoLease = Math.max(this.peakNoLease, this.inFlightNoLease);
      }
    }
    let done = false;
    const finish = () => {
      if (done || !tracked) return;
      done = true;
      this.timed(kind, startedAt);
      this.inFlight--;
      if (!lease) this.inFlightNoLease--;
    };
    const { authorization: _placeholder, ...rest } = req.headers;
    const headers = { ...rest, host: this.target.host };
    const up = https.request({ protocol: 'https:', hostname: this.target.hostname, port: this.target.port, path: req.url, method: req.method, headers, agent: this.agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
      ur.pipe(res);
      ur.on('end', finish);
      ur.on('error', finish);
    });
    up.on('error', (err) => {
      finish();
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bench proxy: ${err.message}`);
    });
    res.on('close', () => {
      finish();
      // The operator went away mid-request (a watch it closed): end the upstream request too.
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }
}

/** Plain HTTP in and out: in front of moto. Counts by operation (X-Amz-Target). */
export class AwsProxy extends CountingProxy {
  private readonly target: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly arrivals: { kind: string; at: number }[] = [];

  constructor(endpoint: string) {
    super();
    this.target = new URL(endpoint);
  }

  reset(): void {
    this.clear();
    this.arrivals.length = 0;
    this.deliveries = [];
  }

  /** When each call whose operation starts with `prefix` (e.g. `SecretsManager.`) arrived since the last reset, in ms. */
  arrivalsOf(prefix: string): number[] {
    return this.arrivals.filter((a) => a.kind.startsWith(prefix)).map((a) => a.at);
  }

  /** performance.now() of each receive that handed the operator messages, since the last reset. */
  deliveries: number[] = [];

  /** Connections the operator opened to AWS since the last reset. */
  get newConnections(): number {
    return this.connections;
  }

  /** Calls by operation, e.g. `{ 'SQS.ReceiveMessage': 12, 'SecretsManager.DescribeSecret': 3 }`. */
  snapshot(): Record<string, number> {
    return this.byKind();
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, op] = target.includes('.') ? target.split('.', 2) : ['query', 'unknown'];
    const kind = `${service === 'AmazonSQS' ? 'SQS' : service === 'secretsmanager' ? 'SecretsManager' : service}.${op}`;
    this.count(kind);
    this.arrivals.push({ kind, at: Date.now() });
    const startedAt = performance.now();
    const up = http.request({ hostname: this.target.hostname, port: this.target.port, path: req.url, method: req.method, headers: req.headers, agent: this.agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
      // A receive that delivers messages is told apart from an empty long poll by its body.
      let delivered = false;
      if (kind === 'SQS.ReceiveMessage') ur.on('data', (chunk: Buffer) => (delivered ||= chunk.includes('"Messages"')));
      ur.on('end', () => {
        this.timed(kind, startedAt);
        if (delivered) this.deliveries.push(performance.now());
      });
      ur.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bench proxy: ${err.message}`);
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }
}
