/**
 * How the demo prints: a shell transcript. `$ command` lines, their output indented,
 * `# notes`, and section rules. Colour only on a terminal (and never with NO_COLOR).
 */

const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const sgr =
  (code: string) =>
  (s: string): string =>
    colour ? `\x1b[${code}m${s}\x1b[0m` : s;

export const bold = sgr('1');
export const dim = sgr('2');
export const red = sgr('31');
export const green = sgr('32');
export const cyan = sgr('36');

export function println(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function section(title: string): void {
  println();
  println(bold(`── ${title} ${'─'.repeat(Math.max(3, 74 - title.length))}`));
}

/** A command as the user would type it; continuation lines are indented. */
export function command(line: string, ...continuation: string[]): void {
  println(`${cyan('$')} ${line}${continuation.length ? ' \\' : ''}`);
  continuation.forEach((c, i) => println(`      ${c}${i < continuation.length - 1 ? ' \\' : ''}`));
}

/** Output of the command above, indented. */
export function output(text: string): void {
  for (const line of text.replace(/\n+$/, '').split('\n')) println(`  ${line}`);
}

/** A comment line (or several: long text is wrapped at about 90 columns). */
export function note(text: string): void {
  const words = text.split(' ');
  let line = '#';
  for (const w of words) {
    if (line.length > 1 && line.length + 1 + w.length > 90) {
      println(dim(line));
      line = '#';
    }
    line += ` ${w}`;
  }
  println(dim(line));
}

/** Left-aligned columns separated by three spaces, like kubectl's tables. */
export function columns(rows: readonly (readonly string[])[], widths?: number[]): { lines: string[]; widths: number[] } {
  const w = widths ?? rows.reduce<number[]>((acc, r) => r.map((c, i) => Math.max(acc[i] ?? 0, c.length)), []);
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] ?? 0))).join('   ').trimEnd());
  return { lines, widths: w };
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
