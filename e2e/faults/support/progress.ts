/** One progress line on stderr per step of a fault scenario, so a long run shows where it is. */
export function progress(scenario: string, message: string): void {
  process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${scenario}: ${message}\n`);
}
