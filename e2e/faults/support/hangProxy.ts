/**
 * A TCP proxy in front of kube-apiserver (TLS passes through untouched, so the
 * operator's kubeconfig only changes its server URL) that can:
 * - hang: accept connections and stop answering. From `hang()` on, no byte is
 *   forwarded in either direction, on connections that were open and on those made
 *   during the hang. A connection the hang caught stays silent for good, also after
 *   `recover()` (a load balancer or conntrack table that lost the flow): only a
 *   client's own deadline gets its caller out. Connections made after `recover()`
 *   are forwarded normally.
 * - add latency: every chunk from the API server reaches the client `latencyMs`
 *   later (order kept), as from a remote control plane.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface HangProxy {
  /** https://127.0.0.1:<port>: the server URL for a kubeconfig (the API server's certificate names 127.0.0.1). */
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections the current or a past hang caught (never answered again). */
  readonly caught: () => number;
  hang(): void;
  recover(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  caught: boolean;
}

export async function startHangProxy(upstreamUrl: string, opts: { latencyMs?: number } = {}): Promise<HangProxy> {
  const up = new URL(upstreamUrl);
  const upstreamPort = Number(up.port || 443);
  const latencyMs = opts.latencyMs ?? 0;
  const pairs = new Set<Pair>();
  let hung = false;
  let accepted = 0;

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: up.hostname, port: upstreamPort });
    const pair: Pair = { client, upstream, caught: hung };
    pairs.add(pair);
    let lastDelivery = 0;
    client.on('data', (chunk) => {
      if (hung) pair.caught = true;
      if (!pair.caught) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (hung) pair.caught = true;
      if (pair.caught) return;
      if (latencyMs === 0) {
        client.write(chunk);
        return;
      }
      // Each chunk is due latencyMs after it came, and never before the one ahead of it.
      const due = Math.max(Date.now() + latencyMs, lastDelivery);
      lastDelivery = due;
      setTimeout(() => {
        if (!pair.caught && !client.destroyed) client.write(chunk);
      }, due - Date.now());
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // The client giving up ends both sides; the API server closing a caught connection is not passed on (it never answers).
    client.on('close', end);
    client.on('error', end);
    upstream.on('close', () => {
      if (pair.caught) return;
      if (latencyMs === 0) end();
      else setTimeout(end, Math.max(0, lastDelivery - Date.now()) + 1);
    });
    upstream.on('error', () => {
      if (!pair.caught) end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    accepted: () => accepted,
    caught: () => [...pairs].filter((p) => p.caught).length,
    hang() {
      hung = true;
      for (const p of pairs) p.caught = true;
    },
    recover() {
      hung = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      }),
  };
}
