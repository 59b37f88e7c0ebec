/**
 * The command line of `srm` (`kubectl srm` as a kubectl plugin), pure: argv → what to do,
 * or the one line that says what is wrong with it (the shell exits 2 with it).
 */
import type { RestartWindowSpec } from '../mappings/model';
import { compileWindow } from '../rollout/windows';
import { isValidSecretId } from '../secrets/secretId';

export type Output = 'table' | 'json';

export type Command =
  | { readonly command: 'preview'; readonly secret: string; readonly output: Output; readonly maxConcurrent?: number; readonly windows?: readonly RestartWindowSpec[] }
  | { readonly command: 'status'; readonly namespace?: string; readonly mapping?: string; readonly output: Output }
  | { readonly command: 'help' }
  | { readonly command: 'error'; readonly message: string };

export const USAGE = `Usage: kubectl srm <command> [flags]   (or: srm <command> [flags])

Answers from the cluster's current state (your kubeconfig, its current context), without any AWS access.

Commands:
  preview <secret name or ARN>   which workloads a change to the secret would restart, through which
                                 mapping or discovered source (ExternalSecret, SecretProviderClass), in
                                 which order (canaries, then waves), and whether suspend, a restart
                                 window or a halted rollout would hold them now
  status [mapping]               the rollouts recorded in the mappings' status.rollout: phase, what is
                                 rolling, healthy, waiting, failed, and why a rollout is held

Flags:
  -o, --output table|json        table (default) for people, json for scripts
  -n, --namespace NS             status: only the mappings of NS (default: every namespace)
      --max-concurrent N         preview: the chart's rollouts.maxConcurrent, for mappings that do not
                                 set spec.rollout.maxConcurrent (default: the operator's default)
      --windows JSON             preview: the chart's rollouts.windows, for mappings without their own
                                 and discovered sources, e.g. '[{"kind":"allow","schedule":"0 2 * * 6",
                                 "duration":"4h","timeZone":"Europe/Paris"}]' (default: none)
  -h, --help                     this text

Exit codes: 0 answered, 1 the cluster could not be read, 2 bad arguments.`;

const FLAGS_WITH_VALUE: Readonly<Record<string, string>> = { '-o': 'output', '--output': 'output', '-n': 'namespace', '--namespace': 'namespace', '--max-concurrent': 'maxConcurrent', '--windows': 'windows' };

export function parseArgs(argv: readonly string[]): Command {
  if (argv.length === 0 || argv.some((a) => a === '-h' || a === '--help')) return { command: 'help' };
  const [command, ...rest] = argv;
  if (command !== 'preview' && command !== 'status') return error(`unknown command ${JSON.stringify(command)}`);
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const key = FLAGS_WITH_VALUE[name];
    if (!key) return error(`unknown flag ${name}`);
    const value = name !== arg ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '') return error(`${name} needs a value`);
    flags[key] = value;
  }
  const output = flags.output ?? 'table';
  if (output !== 'table' && output !== 'json') return error(`-o must be table or json, got ${JSON.stringify(output)}`);

  if (command === 'preview') {
    if (flags.namespace !== undefined) return error('preview looks in every namespace: -n is for status');
    if (positional.length === 0) return error('preview needs a secret name or ARN');
    if (positional.length > 1) return error(`preview takes one secret, got a second: ${JSON.stringify(positional[1])}`);
    const secret = positional[0];
    if (!isValidSecretId(secret)) return error(`${JSON.stringify(secret)} is not a Secrets Manager secret name or ARN`);
    let maxConcurrent: number | undefined;
    if (flags.maxConcurrent !== undefined) {
      maxConcurrent = /^\d+$/.test(flags.maxConcurrent) ? Number(flags.maxConcurrent) : NaN;
      if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) return error(`--max-concurrent must be a whole number of at least 1, got ${JSON.stringify(flags.maxConcurrent)}`);
    }
    let windows: RestartWindowSpec[] | undefined;
    if (flags.windows !== undefined) {
      const parsed = parseWindows(flags.windows);
      if (typeof parsed === 'string') return error(`--windows: ${parsed}`);
      windows = parsed;
    }
    return { command, secret, output, ...(maxConcurrent !== undefined ? { maxConcurrent } : {}), ...(windows ? { windows } : {}) };
  }
  if (flags.maxConcurrent !== undefined || flags.windows !== undefined) return error('--max-concurrent and --windows are for preview');
  if (positional.length > 1) return error(`status takes at most one mapping, got a second: ${JSON.stringify(positional[1])}`);
  return { command, ...(flags.namespace ? { namespace: flags.namespace } : {}), ...(positional[0] ? { mapping: positional[0] } : {}), output };
}

/** A JSON list of windows, each checked as the chart's schema and the CRD check them; or what is wrong. */
function parseWindows(text: string): RestartWindowSpec[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'is not JSON (a list of windows: kind, schedule, duration, timeZone)';
  }
  if (!Array.isArray(parsed)) return 'must be a JSON list of windows';
  for (const [i, w] of parsed.entries()) {
    const c = typeof w === 'object' && w !== null ? compileWindow(w as RestartWindowSpec) : { problem: 'is not an object' };
    if ('problem' in c) return `window ${i}: ${c.problem}`;
  }
  return parsed as RestartWindowSpec[];
}

function error(message: string): Command {
  return { command: 'error', message };
}
