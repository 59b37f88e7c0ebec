/** The tables `srm` prints by default (kubectl's style: upper-case headers, padded columns). Pure. */
import type { PreviewAnswer, StatusAnswer } from './answer';

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 2))).join('')).join('\n');
}

export function renderPreview(answer: PreviewAnswer): string {
  if (answer.sources.length === 0) return `No mapping or discovered source names ${answer.secret}: a change to it restarts nothing.`;
  const rows: string[][] = [['SOURCE', 'NAMESPACE', 'WAVE', 'WORKLOAD', 'HELD']];
  for (const s of answer.sources) {
    const held = s.hold ? `${s.hold.reason}: ${s.hold.message}` : '-';
    const source = `${s.via}/${s.name}`;
    if (s.waves.length === 0) rows.push([source, s.namespace, '-', '(no workload selected)', held]);
    let canary = 0;
    let wave = 0;
    for (const w of s.waves) {
      const label = w.canary ? `canary ${++canary}` : `wave ${++wave}`;
      for (const id of w.workloads) rows.push([source, s.namespace, label, id, held]);
    }
  }
  return `A change to ${answer.secret} would restart ${answer.workloads} workload(s):\n${table(rows)}`;
}

export function renderStatus(answer: StatusAnswer): string {
  if (answer.rollouts.length === 0) return 'No rollout recorded.';
  const rows: string[][] = [['NAMESPACE', 'MAPPING', 'PHASE', 'ROLLING', 'HEALTHY', 'WAITING', 'FAILED', 'REASON']];
  for (const r of answer.rollouts) {
    const why = r.reason ? `${r.reason}${r.message ? `: ${r.message}` : ''}` : '-';
    rows.push([r.namespace, r.mapping, r.summary, String(r.rolling.length), String(r.healthy.length), String(r.waiting.length), String(r.failed.length), why]);
  }
  return table(rows);
}
