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

export type ToolFamily =
  | 'etcd' | 'k8s' | 'kubelet' | 'kwok' | 'helm' | 'helm-unittest'
  | 'eso' | 'promtool' | 'registry' | 'argo-rollouts' | 'elasticmq';

/**
 * What `stack:up` builds, and so the demo and the e2e/faults setups that bring the
 * stack up: the control plane, kwok, helm, the registry, and the kubelet when the real
 * node will run. The tools only the tests use are built by what uses them: ESO, Argo
 * Rollouts and ElasticMQ by the e2e/faults globalSetup (SUITE_TOOL_FAMILIES; ESO also by
 * `demo -- --eso` on its first run), helm-unittest and promtool by scripts/test-chart.sh.
 */
export function stackToolFamilies(opts: { realNode: boolean }): ToolFamily[] {
  return ['etcd', 'k8s', ...(opts.realNode ? (['kubelet'] as const) : []), 'kwok', 'helm', 'registry'];
}

/**
 * What the e2e and faults suites start beside the stack: built by their globalSetup,
 * with progress lines and outside any test's timeout (a cold ESO build takes minutes,
 * longer than a beforeAll may wait), before the first file runs.
 */
export const SUITE_TOOL_FAMILIES: readonly ToolFamily[] = ['eso', 'argo-rollouts', 'elasticmq'];

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
      const raw = parseEnvLines(stdout);
      resolve({
        cacheDir: raw.TOOLCHAIN_CACHE_DIR,
        kubernetesVersion: raw.KUBERNETES_VERSION,
        etcd: raw.ETCD_BIN,
        kubeApiserver: raw.KUBE_APISERVER_BIN,
        kubeControllerManager: raw.KUBE_CONTROLLER_MANAGER_BIN,
        kubeScheduler: raw.KUBE_SCHEDULER_BIN,
        kubelet: raw.KUBELET_BIN,
        kwok: raw.KWOK_BIN,
        helm: raw.HELM_BIN,
        helmPlugins: raw.HELM_PLUGINS,
        helmUnittest: raw.HELM_UNITTEST_BIN,
        elasticmqClasspath: raw.ELASTICMQ_CLASSPATH,
        eso: raw.ESO_BIN,
        esoCrdsDir: raw.ESO_CRDS_DIR,
        promtool: raw.PROMTOOL_BIN,
        registry: raw.REGISTRY_BIN,
        argoRolloutsController: raw.ARGO_ROLLOUTS_CONTROLLER_BIN,
        argoRolloutsCrdsDir: raw.ARGO_ROLLOUTS_CRDS_DIR,
        raw,
      });
    });
  });
}
