/**
 * Where things are: the repository, the stack's state folder, and the toolchain
 * binaries (resolved by running scripts/toolchain/build.sh --print-env, which
 * builds whatever is not cached yet).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TOOLCHAIN_SCRIPT = path.join(REPO_ROOT, 'scripts', 'toolchain', 'build.sh');
export const VERSIONS_FILE = path.join(REPO_ROOT, 'scripts', 'toolchain', 'versions.env');
export const CHART_DIR = path.join(REPO_ROOT, 'charts', 'secrets-rotation-operator');
export const CRD_FILE = path.join(CHART_DIR, 'files', 'crds', 'secretsrotationmappings.yaml');
/** Chart.yaml's `name`: the demo installs its release of that name into a namespace of that name. */
export const CHART_NAME = /^name:\s*(\S+)\s*$/m.exec(fs.readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8'))![1];

/** The stack's state folder: `.stack/` at the repository root (override: STACK_DIR). */
export function stackDir(): string {
  return path.resolve(process.env.STACK_DIR ?? path.join(REPO_ROOT, '.stack'));
}

export interface StackPaths {
  dir: string;
  logs: string;
  stateFile: string;
  envFile: string;
  envJsonFile: string;
  kubeconfig: string;
  /** What was pushed to the stack's registry (publish.ts). */
  publishedFile: string;
}

export function stackPaths(dir: string = stackDir()): StackPaths {
  return {
    dir,
    logs: path.join(dir, 'logs'),
    stateFile: path.join(dir, 'state.json'),
    envFile: path.join(dir, 'env'),
    envJsonFile: path.join(dir, 'env.json'),
    kubeconfig: path.join(dir, 'kubeconfig'),
    publishedFile: path.join(dir, 'published.json'),
  };
}

export function logFile(component: string, dir: string = stackDir()): string {
  return path.join(stackPaths(dir).logs, `${component}.log`);
}

/** The pinned versions (scripts/toolchain/versions.env) as a plain record. */
export function readVersions(file: string = VERSIONS_FILE): Record<string, string> {
  return parseEnvLines(fs.readFileSync(file, 'utf8'));
}

/** Parses KEY=VALUE lines (comments and blank lines ignored, optional quotes stripped). */
export function parseEnvLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.length >= 2 && ((value.startsWith("'") && value.endsWith("'")) || (value.startsWith('"') && value.endsWith('"')))) {
      value = value.slice(1, -1);
    }
    out[m[1]] = value;
  }
  return out;
}

export const TOOL_TABLE_FILE = path.join(REPO_ROOT, 'scripts', 'toolchain', 'families.txt');
export const TOOL_TABLE_COLUMNS = ['family', 'needed by', 'version', 'cache', 'module', 'builds', 'tags', 'ldflags', 'check', 'outputs', 'hooks'] as const;

/** A family of the toolchain: the first column of scripts/toolchain/families.txt. */
export type ToolFamily = string;

/** Which entry point builds a family (families.txt's "needed by" column). */
export const NEEDED_BY = ['stack', 'real-node', 'suite', 'chart'] as const;
export type NeededBy = (typeof NEEDED_BY)[number];

/** What paths.ts reads of a row of families.txt; the other columns only build.sh uses. */
export interface ToolRow {
  family: ToolFamily;
  neededBy: NeededBy[];
  /** Its key in versions.env. */
  versionKey: string;
  /** FIELD:ENV=PATH: build.sh --print-env prints ENV, resolveToolchain returns it as FIELD. */
  outputs: { field: string; env: string; path: string }[];
  /** Every column, as written (`-` read as empty), by its name in TOOL_TABLE_COLUMNS. */
  cells: Record<(typeof TOOL_TABLE_COLUMNS)[number], string>;
}

/**
 * Parses families.txt (as build.sh reads it: `|` between columns, `#` comments, `-`
 * for empty). A row with another number of columns, an unknown "needed by" or a
 * malformed output is an error naming the row.
 */
export function parseToolTable(text: string): ToolRow[] {
  const rows: ToolRow[] = [];
  for (const raw of text.split('\n')) {
    if (/^\s*(#|$)/.test(raw)) continue;
    const parts = raw.split('|').map((c) => c.trim()).map((c) => (c === '-' ? '' : c));
    const fail = (why: string): never => {
      throw new Error(`families.txt: ${why}: ${raw.trim()}`);
    };
    if (parts.length !== TOOL_TABLE_COLUMNS.length) fail(`${parts.length} columns where ${TOOL_TABLE_COLUMNS.length} are expected (${TOOL_TABLE_COLUMNS.join(', ')})`);
    const cells = Object.fromEntries(TOOL_TABLE_COLUMNS.map((c, i) => [c, parts[i]])) as ToolRow['cells'];
    const neededBy = cells['needed by'].split(',').filter(Boolean);
    for (const n of neededBy) if (!(NEEDED_BY as readonly string[]).includes(n)) fail(`"needed by" ${n} is none of ${NEEDED_BY.join(', ')}`);
    const outputs = cells.outputs.split(/\s+/).filter(Boolean).map((o) => {
      const m = /^([A-Za-z]\w*):([A-Z][A-Z0-9_]*)=(\S+)$/.exec(o) ?? fail(`output ${o} is not FIELD:ENV=PATH`);
      return { field: m[1], env: m[2], path: m[3] };
    });
    rows.push({ family: cells.family, neededBy: neededBy as NeededBy[], versionKey: cells.version, outputs, cells });
  }
  return rows;
}

export function readToolTable(file: string = TOOL_TABLE_FILE): ToolRow[] {
  return parseToolTable(fs.readFileSync(file, 'utf8'));
}

/** The families one entry point builds, in the table's order. */
export function familiesNeededBy(needed: NeededBy[], table: ToolRow[] = readToolTable()): ToolFamily[] {
  return table.filter((r) => r.neededBy.some((n) => needed.includes(n))).map((r) => r.family);
}

/**
 * What `stack:up` builds, and so the demo and the e2e/faults setups that bring the
 * stack up: the rows needed by `stack`, and by `real-node` when the real node will run.
 * The tools only the tests use are built by what uses them: the `suite` rows by the
 * e2e/faults globalSetup (SUITE_TOOL_FAMILIES; ESO also by `demo -- --eso` on its first
 * run), the `chart` rows by scripts/test-chart.sh.
 */
export function stackToolFamilies(opts: { realNode: boolean }): ToolFamily[] {
  return familiesNeededBy(opts.realNode ? ['stack', 'real-node'] : ['stack']);
}

/**
 * What the e2e and faults suites start beside the stack: built by their globalSetup,
 * with progress lines and outside any test's timeout (a cold ESO build takes minutes,
 * longer than a beforeAll may wait), before the first file runs.
 */
export const SUITE_TOOL_FAMILIES: readonly ToolFamily[] = familiesNeededBy(['suite']);

/**
 * The toolchain's paths. Each optional field is an output of a row of families.txt
 * (FIELD:ENV=PATH), filled from build.sh's ENV line (toolchainPathsFromEnv).
 */
export interface ToolchainPaths {
  /** Root of the binary cache (~/.cache/secrets-rotation-operator). */
  cacheDir: string;
  kubernetesVersion: string;
  etcd?: string;
  kubeApiserver?: string;
  kubeControllerManager?: string;
  kubeScheduler?: string;
  kubelet?: string;
  kwok?: string;
  helm?: string;
  /** A folder to use as HELM_PLUGINS: holds unittest/{plugin.yaml,untt}. */
  helmPlugins?: string;
  helmUnittest?: string;
  /** ElasticMQ's Java classpath (`<cache>/elasticmq-<version>/lib/*`). */
  elasticmqClasspath?: string;
  /** The External Secrets Operator controller, and a folder holding only its CRD files. */
  eso?: string;
  esoCrdsDir?: string;
  /** Prometheus's promtool (rule unit tests). */
  promtool?: string;
  /** The CNCF distribution registry (`registry serve <config>`). */
  registry?: string;
  /** Argo Rollouts' controller, and a folder holding only its CRD files. */
  argoRolloutsController?: string;
  argoRolloutsCrdsDir?: string;
  /** Every KEY=VALUE line build.sh printed. */
  raw: Record<string, string>;
}

export interface ResolveToolchainOptions {
  /** Restrict to some tool families (build.sh --only). Default: all. */
  only?: ToolFamily[];
  /** Receives build.sh's progress lines (stderr). Default: written to process.stderr. */
  onProgress?: (line: string) => void;
}

/**
 * Runs `scripts/toolchain/build.sh --print-env` (building what is not cached yet;
 * a warm run takes a second or two) and returns the binaries' paths.
 */
export function resolveToolchain(opts: ResolveToolchainOptions = {}): Promise<ToolchainPaths> {
  const known = readToolTable().map((r) => r.family);
  const unknown = (opts.only ?? []).filter((f) => !known.includes(f));
  if (unknown.length > 0) return Promise.reject(new Error(`unknown tool famil${unknown.length > 1 ? 'ies' : 'y'} ${unknown.join(', ')} (families.txt has ${known.join(', ')})`));
  const args = [TOOLCHAIN_SCRIPT, '--print-env'];
  if (opts.only && opts.only.length > 0) args.push('--only', opts.only.join(','));
  const onProgress = opts.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let errBuf = '';
    const tail: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      errBuf += d;
      let nl: number;
      while ((nl = errBuf.indexOf('\n')) >= 0) {
        const line = errBuf.slice(0, nl);
        errBuf = errBuf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 40) tail.shift();
        onProgress(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (errBuf) onProgress(errBuf);
      if (code !== 0) {
        reject(new Error(`scripts/toolchain/build.sh failed (exit ${code}):\n${tail.join('\n')}`));
        return;
      }
      resolve(toolchainPathsFromEnv(parseEnvLines(stdout)));
    });
  });
}

/** build.sh --print-env's lines as ToolchainPaths: every table output under its FIELD. */
export function toolchainPathsFromEnv(raw: Record<string, string>, table: ToolRow[] = readToolTable()): ToolchainPaths {
  const paths: Record<string, unknown> = { cacheDir: raw.TOOLCHAIN_CACHE_DIR, kubernetesVersion: raw.KUBERNETES_VERSION };
  for (const o of table.flatMap((r) => r.outputs)) paths[o.field] = raw[o.env];
  paths.raw = raw;
  return paths as unknown as ToolchainPaths;
}
