/**
 * What `kubectl get` and `kubectl get --watch` print, without kubectl: the API
 * server's own Table rendering (Accept: as=Table), the same columns kubectl shows
 * (printer columns of the CRD included), listed or streamed from a watch.
 */
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';

const ACCEPT_TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json';

export interface TableColumn {
  name: string;
  priority: number;
}

export interface TableRow<T> {
  cells: unknown[];
  /** The full object (includeObject=Object). */
  object: T;
}

export interface Table<T> {
  columnDefinitions?: TableColumn[];
  rows?: TableRow<T>[];
  metadata?: { resourceVersion?: string };
}

async function open(kc: k8s.KubeConfig, path: string, query: Record<string, string>): Promise<https.RequestOptions & { url: URL }> {
  const url = new URL(path, kc.getCurrentCluster()!.server);
  for (const [k, v] of Object.entries({ ...query, includeObject: 'Object' })) url.searchParams.set(k, v);
  const opts: https.RequestOptions = { headers: { Accept: ACCEPT_TABLE } };
  await kc.applyToHTTPSOptions(opts);
  return { ...opts, url };
}

export async function getTable<T>(kc: k8s.KubeConfig, path: string, query: Record<string, string> = {}): Promise<Table<T>> {
  const { url, ...opts } = await open(kc, path, query);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...opts, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`));
        else resolve(JSON.parse(body) as Table<T>);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 15 s`)));
    req.on('error', reject);
  });
}

export interface TableWatch {
  stop(): void;
}

/**
 * Streams watch events from `resourceVersion` on, one Table row each (type ADDED,
 * MODIFIED or DELETED). A broken stream or an ERROR event goes to `onError`.
 */
export async function watchTable<T>(
  kc: k8s.KubeConfig,
  path: string,
  query: Record<string, string>,
  onEvent: (type: string, row: TableRow<T>) => void,
  onError: (err: Error) => void,
): Promise<TableWatch> {
  const { url, ...opts } = await open(kc, path, { ...query, watch: '1' });
  let stopped = false;
  const fail = (err: Error) => {
    if (!stopped) onError(err);
  };
  const req = https.get(url, opts, (res) => {
    if ((res.statusCode ?? 0) >= 300) {
      fail(new Error(`watch ${path}: HTTP ${res.statusCode}`));
      res.resume();
      return;
    }
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line) as { type: string; object: Table<T> & { message?: string } };
        if (ev.type === 'ERROR') fail(new Error(`watch ${path}: ${ev.object.message ?? line}`));
        else for (const row of ev.object.rows ?? []) onEvent(ev.type, row);
      }
    });
    res.on('end', () => fail(new Error(`watch ${path}: the API server closed the stream`)));
  });
  req.on('error', fail);
  return {
    stop() {
      stopped = true;
      req.destroy();
    },
  };
}

/** Indices of the columns a plain `kubectl get` shows (priority 0). */
export function shownColumns(t: Table<unknown>): number[] {
  return (t.columnDefinitions ?? []).flatMap((c, i) => (c.priority === 0 ? [i] : []));
}

export function headerCells(t: Table<unknown>, shown: number[]): string[] {
  return shown.map((i) => t.columnDefinitions![i].name.toUpperCase());
}

export function rowCells(row: TableRow<unknown>, shown: number[]): string[] {
  return shown.map((i) => (row.cells[i] === null || row.cells[i] === undefined ? '<none>' : String(row.cells[i])));
}
