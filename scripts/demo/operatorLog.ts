/**
 * Follows the operator's log file (JSON lines, winston) like `kubectl logs -f`, and
 * renders a line for people: time, message, and the few fields that say what
 * happened to which secret and workload.
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export interface LogLine {
  level: string;
  message: string;
  timestamp: string;
  [field: string]: unknown;
}

/** Fields worth showing, in this order (see operator/src/core/log.ts for their spelling). */
const SHOWN = ['mapping', 'secret', 'workload', 'workloads', 'version', 'result', 'reason', 'lease', 'queueUrl', 'watchNamespaces', 'error'] as const;

export function clock(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function prettyLogLine(l: LogLine): string {
  const level = l.level === 'info' ? '' : `${l.level.toUpperCase()} `;
  const fields = SHOWN.filter((k) => l[k] !== undefined && l[k] !== '').map((k) => {
    const v = String(l[k]);
    return `${k}=${/\s/.test(v) ? JSON.stringify(v) : v}`;
  });
  return `${clock(new Date(l.timestamp))}  ${level}${l.message}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** Reads the lines appended to `file` after construction, polling every 25 ms (so its lines interleave with a watch in time order). */
export class LogFollower {
  /** The JSON log lines read so far. */
  readonly lines: LogLine[] = [];
  /** Every line read so far, JSON or not (a start-up failure is plain text). */
  readonly raw: string[] = [];
  private offset: number;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly file: string,
    private readonly onLine: (l: LogLine) => void = () => undefined,
  ) {
    this.offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
  }

  start(): this {
    this.timer = setInterval(() => this.poll(), 25);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  /** The last `n` lines read, as they are in the file. */
  tail(n: number): string {
    return this.raw.slice(-n).join('\n');
  }

  /** Reads what was appended since the last call. */
  poll(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      let n: number;
      while ((n = fs.readSync(fd, buf, 0, buf.length, this.offset)) > 0) {
        this.offset += n;
        this.partial += this.decoder.write(buf.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const raw = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      if (raw.trim()) this.raw.push(raw);
      if (!raw.startsWith('{')) continue; // the starter's header, Node's warnings, a fatal error
      try {
        const l = JSON.parse(raw) as LogLine;
        this.lines.push(l);
        this.onLine(l);
      } catch {
        /* not a log line */
      }
    }
  }
}
