/**
 * The fault suite's report: every scenario appends one row (JSON lines) to
 * `<STACK_DIR>/faults-report.jsonl`; the suite's globalTeardown prints the table, and
 * so does this file run on its own:
 *
 *     STACK_DIR=/tmp/faults-stack npx tsx e2e/faults/support/report.ts [--markdown]
 */
import fs from 'node:fs';
import path from 'node:path';
import { stackDir } from '../../../scripts/stack/paths';

export interface ReportRow {
  scenario: string;
  /** Messages put into the queue (EventBridge events and raw bodies). */
  eventsSent: number;
  restartsExpected: number;
  /** Set when a range of restarts is right: restartsExpected to this. */
  restartsAtMost?: number;
  restartsObserved: number;
  lost: number;
  doubled: number;
  durationMs: number;
  /** Highest VmHWM (KiB) of the operator process(es) of the scenario. */
  peakRssKiB?: number;
  passed: boolean;
  /** Scenario-specific figures (takeover time, receive calls, ...). */
  notes?: string;
}

export function reportFile(): string {
  return process.env.FAULTS_REPORT_FILE ?? path.join(stackDir(), 'faults-report.jsonl');
}

export function resetReport(): void {
  fs.mkdirSync(path.dirname(reportFile()), { recursive: true });
  fs.writeFileSync(reportFile(), '');
}

export function appendRow(row: ReportRow): void {
  fs.mkdirSync(path.dirname(reportFile()), { recursive: true });
  fs.appendFileSync(reportFile(), `${JSON.stringify(row)}\n`);
  process.stderr.write(`[faults] ${row.passed ? 'PASS' : 'FAIL'} ${formatRowInline(row)}\n`);
}

export function readRows(file = reportFile()): ReportRow[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ReportRow);
}

const HEADERS = ['scenario', 'result', 'events sent', 'restarts exp/obs', 'lost', 'doubled', 'duration', 'peak RSS', 'notes'];

function cells(r: ReportRow): string[] {
  return [
    r.scenario,
    r.passed ? 'pass' : 'FAIL',
    String(r.eventsSent),
    `${r.restartsAtMost === undefined ? r.restartsExpected : `${r.restartsExpected}-${r.restartsAtMost}`}/${r.restartsObserved}`,
    String(r.lost),
    String(r.doubled),
    `${(r.durationMs / 1000).toFixed(1)} s`,
    r.peakRssKiB ? `${(r.peakRssKiB / 1024).toFixed(0)} MiB` : '-',
    r.notes ?? '',
  ];
}

function formatRowInline(r: ReportRow): string {
  return HEADERS.map((h, i) => `${h}=${cells(r)[i]}`).join('  ');
}

export function formatTable(rows: readonly ReportRow[], markdown = false): string {
  const body = rows.map(cells);
  if (markdown) {
    const line = (c: string[]) => `| ${c.join(' | ')} |`;
    return [line(HEADERS), line(HEADERS.map(() => '---')), ...body.map(line)].join('\n');
  }
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((c) => (i === HEADERS.length - 1 ? 0 : c[i].length))));
  const fmt = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join('  ');
  return [fmt(HEADERS), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

export function printReport(markdown = false): void {
  const rows = readRows();
  if (rows.length === 0) {
    process.stderr.write(`[faults] no rows in ${reportFile()}\n`);
    return;
  }
  process.stderr.write(`\n[faults] reliability report (${reportFile()})\n${formatTable(rows, markdown)}\n\n`);
}

if (require.main === module) printReport(process.argv.includes('--markdown'));
