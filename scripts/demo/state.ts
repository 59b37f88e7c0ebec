/** What the demo made (recorded in $STACK_DIR/demo.json as it goes, so --cleanup can finish the job), and the names it uses. */
import fs from 'node:fs';
import path from 'node:path';
import { GROUP, PLURAL } from '../../operator/src/mappings/model';
import { REPO_ROOT, stackDir } from '../stack';
import { CHART_NAME } from '../stack/paths';

export const RELEASE = CHART_NAME;
export const OPERATOR_NAMESPACE = CHART_NAME;
export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const EXAMPLE_FILES = ['examples/deployment.yaml', 'examples/secretsrotationmapping.yaml'];
export const POC_EXAMPLE = 'examples/poc/secretsrotationmapping.yaml';
export const FINGERPRINT_EXAMPLE = 'examples/fingerprint-app/deployment.yaml';
/** Lifetime of the operator's ServiceAccount token: long enough for a kept demo. */
export const TOKEN_SECONDS = 24 * 3600;

// ------------------------------------------------------------------ what the demo made

export interface DemoState {
  startedAt: string;
  /** The demo brought the stack up, so it takes it (and its prerequisites) down. */
  stackStarted: boolean;
  releaseInstalled?: boolean;
  namespaceCreated?: boolean;
  crdCreated?: boolean;
  serviceAccountKubeconfig?: string;
  /** The local operator process, or (in-cluster) the `kubectl logs -f` that follows the pod. */
  operator?: { pid: number; startTime: string; logFile: string; httpPort: number; inCluster?: boolean };
  secretCreated?: boolean;
  examplesApplied?: boolean;
  fingerprintApplied?: boolean;
  /** --eso: External Secrets Operator's controller process (its CRDs go with it), the demo's namespace and AWS secret. */
  eso?: { pid: number; startTime: string; logFile: string };
  esoNamespace?: string;
  esoSecret?: string;
  /** --bad-secret: the demo's namespace (its four Deployments, Service and mapping) and AWS secret. */
  canaryNamespace?: string;
  canarySecret?: string;
}

const stateFile = (): string => path.join(stackDir(), 'demo.json');

export function loadState(): DemoState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(), 'utf8')) as DemoState;
  } catch {
    return undefined;
  }
}

export function saveState(s: DemoState): void {
  fs.mkdirSync(stackDir(), { recursive: true });
  fs.writeFileSync(stateFile(), `${JSON.stringify(s, null, 2)}\n`);
}

/** Everything the demo made is gone: nothing left for --cleanup. */
export function forgetState(): void {
  fs.rmSync(stateFile(), { force: true });
}

/** A path as the user can type it from the repository root. */
export function shown(p: string): string {
  const rel = path.relative(REPO_ROOT, p);
  return rel && !rel.startsWith('..') ? rel : p;
}

/** `STACK_DIR=… ` when the stack is not in the default place, so printed commands work as they are. */
export function stackDirPrefix(): string {
  return stackDir() === path.join(REPO_ROOT, '.stack') ? '' : `STACK_DIR=${stackDir()} `;
}
