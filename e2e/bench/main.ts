/**
 * `npm run bench [-- --json] [--smoke] [--only A,C] [--cpu-prof]`: the benchmark
 * scenarios against the local stack (brought up, and down again, when not already up).
 * stdout: the table, or with --json the JSON document (the table then goes to stderr).
 * Both are also written to .bench/last.{txt,json}; operator logs and profiles beside them.
 */
import '../../scripts/quiet-sdk-warning';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stackDown, stackHealth, stackUp } from '../../scripts/stack';
import { REPO_ROOT } from '../support/kube';
import { say } from './harness';
import { SCENARIOS, runBench, type ScenarioId } from './run';

function parseArgs(argv: readonly string[]): { json: boolean; smoke: boolean; cpuProf: boolean; only: ScenarioId[] } {
  const out = { json: false, smoke: false, cpuProf: false, only: [] as ScenarioId[] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--smoke') out.smoke = true;
    else if (a === '--cpu-prof') out.cpuProf = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i] ?? '';
      for (const id of v.split(',').map((x) => x.trim().toUpperCase())) {
        if (!(SCENARIOS as readonly string[]).includes(id)) throw new Error(`--only: unknown scenario ${JSON.stringify(id)} (have ${SCENARIOS.join(', ')})`);
        out.only.push(id as ScenarioId);
      }
    } else throw new Error(`unknown argument ${JSON.stringify(a)}; usage: npm run bench -- [--json] [--smoke] [--only A,B,C,D,E,F] [--cpu-prof]`);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const outDir = path.join(REPO_ROOT, '.bench');
  say('building the operator (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const started = !(await stackHealth()).healthy;
  if (started) {
    say('bringing the local stack up (first run builds the toolchain: see docs/local-stack.md)');
    await stackUp();
  } else say('using the stack that is already up');
  try {
    const { report, table } = await runBench({ smoke: args.smoke, only: args.only, cpuProf: args.cpuProf, outDir });
    const json = JSON.stringify(report, null, 2);
    fs.writeFileSync(path.join(outDir, 'last.json'), `${json}\n`);
    fs.writeFileSync(path.join(outDir, 'last.txt'), `${table}\n`);
    if (args.json) {
      process.stderr.write(`${table}\n`);
      process.stdout.write(`${json}\n`);
    } else process.stdout.write(`${table}\n`);
  } finally {
    if (started) await stackDown();
  }
}

main().catch((err) => {
  const body = (err as { body?: { message?: string } }).body?.message;
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}${body ? `: ${body}` : ''}\n${err instanceof Error ? err.stack : ''}\n`);
  process.exit(1);
});
