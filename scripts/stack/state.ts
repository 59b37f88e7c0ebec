/**
 * The local stack's records: what was started (.stack/state.json, .stack/pids), the
 * environment it exports (.stack/env, .stack/env.json), and the lock that lets one
 * stackUp/stackDown run at a time per .stack/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubeConnection } from './kubeapi';
import { REPO_ROOT, stackPaths, StackPaths } from './paths';
import { isRunning } from './process';
import { AbortPoll, waitFor } from '../kit/wait';
import * as realNode from './realnode';
import type { RegistryLayout } from './registry';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'moto', 'registry'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export const AWS_REGION = 'us-east-1';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ComponentRecord {
  name: ComponentName | RealNodeComponent;
  command: string;
  args: string[];
  logFile: string;
  /** Port it serves on (health/API). */
  port: number;
  pid?: number;
  /** /proc start time of pid, to never signal a reused pid. */
  startTime?: string;
  /** Set by pauseComponent (SIGSTOP), cleared by resumeComponent. */
  paused?: boolean;
  /** Added to the environment it is started with. */
  env?: Record<string, string>;
}

export type RealNodeComponent = 'containerd' | 'kubelet';

/** The real node as stack:up made it; absent when the machine could not run one. */
export interface RealNodeState {
  name: string;
  layout: realNode.RealNodeLayout;
  /** The host as found before anything was made: teardown removes only what is new. */
  before: realNode.HostBefore;
  components: Record<RealNodeComponent, ComponentRecord>;
}

export interface StackState {
  version: 1;
  createdAt: string;
  repoRoot: string;
  dataDir: string;
  apiserverUrl: string;
  motoUrl: string;
  /** The OCI registry, host:port on loopback (registry.ts). */
  registry: { host: string; caFile: string; layout: RegistryLayout };
  kubernetesVersion: string;
  admin: KubeConnection;
  nodes: string[];
  components: Record<ComponentName, ComponentRecord>;
  realNode?: RealNodeState;
  /** Why there is no real node (one line), when there is none. */
  realNodeSkipReason?: string;
}

/** What .stack/env exports (and .stack/env.json holds). */
export interface StackEnv {
  STACK_DIR: string;
  KUBECONFIG: string;
  STACK_APISERVER_URL: string;
  STACK_CA_FILE: string;
  STACK_KUBERNETES_VERSION: string;
  STACK_NODE_NAMES: string;
  STACK_SERVICE_ACCOUNT_ISSUER: string;
  STACK_MOTO_PORT: string;
  AWS_REGION: string;
  AWS_DEFAULT_REGION: string;
  AWS_ENDPOINT_URL: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_EC2_METADATA_DISABLED: string;
  SQS_QUEUE_URL: string;
  SQS_QUEUE_ARN: string;
  SQS_DEAD_LETTER_QUEUE_URL: string;
  /** '' when the prerequisites were made by the plain-SQS fallback. */
  EVENTBRIDGE_RULE_NAME: string;
  OPERATOR_ROLE_ARN: string;
  /** 'cloudformation' or 'sqs-fallback'. */
  AWS_PREREQUISITES_SOURCE: string;
  HELM_BIN: string;
  /** The real node's name, '' when there is none (then STACK_REAL_NODE_SKIP_REASON says why). */
  STACK_REAL_NODE: string;
  STACK_REAL_NODE_SKIP_REASON: string;
  /** containerd's socket on the real node (images are imported there). */
  STACK_CONTAINERD_SOCKET: string;
  /** moto as pods on the real node reach it (the bridge address, DNAT-ed to loopback). */
  STACK_POD_AWS_ENDPOINT_URL: string;
  /** The OCI registry (host:port, TLS): oci://$STACK_REGISTRY/charts/<chart> and $STACK_REGISTRY/<image>. */
  STACK_REGISTRY: string;
  /** The CA its certificate is signed by (the stack's): helm --ca-file. */
  STACK_REGISTRY_CA_FILE: string;
  /** A folder holding that CA as ca.crt: skopeo --dest-cert-dir. */
  STACK_REGISTRY_CERT_DIR: string;
}

export interface StackLogger {
  (line: string): void;
}
export const defaultLog: StackLogger = (line) => process.stderr.write(`[stack] ${line}\n`);

/** A failure of one component: names it and carries the tail of its log. */
export class ComponentError extends Error {
  constructor(
    readonly component: ComponentName | RealNodeComponent | 'real-node' | 'aws-prerequisites' | 'toolchain' | 'nodes' | 'stack',
    message: string,
    readonly logTail: string = '',
  ) {
    super(`${component}: ${message}`);
  }
}

// ------------------------------------------------------------------ state files

export function readState(p: StackPaths = stackPaths()): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(p.stateFile, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

export function writeAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

export function saveState(state: StackState, p: StackPaths = stackPaths()): void {
  fs.mkdirSync(p.dir, { recursive: true });
  writeAtomic(p.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  const pids = [...COMPONENTS.map((c) => state.components[c]), ...Object.values(state.realNode?.components ?? {})]
    .filter((r) => r.pid !== undefined)
    .map((r) => `${r.name} ${r.pid}`);
  writeAtomic(path.join(p.dir, 'pids'), pids.length ? `${pids.join('\n')}\n` : '');
}

/** The stack's environment (.stack/env.json); throws if the stack is not up. */
export function readStackEnv(p: StackPaths = stackPaths()): StackEnv {
  let text: string;
  try {
    text = fs.readFileSync(p.envJsonFile, 'utf8');
  } catch {
    throw new Error(`no local stack: ${p.envJsonFile} is missing (run: npm run stack:up)`);
  }
  return JSON.parse(text) as StackEnv;
}

/** The recorded state (.stack/state.json), or undefined when no stack was started. */
export function readStackState(p: StackPaths = stackPaths()): StackState | undefined {
  return readState(p);
}

export function renderEnvFile(env: StackEnv): string {
  const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
  const lines = Object.entries(env).map(([k, v]) => `export ${k}=${quote(String(v))}`);
  return `# Written by npm run stack:up (${new Date().toISOString()}); source it: . .stack/env\n${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------ lock

/**
 * One stackUp/stackDown at a time per .stack/ (developers, jest globalSetup and
 * teardown share it): .stack/lock holds the owner's pid; a dead owner's lock is taken over.
 */
export async function withStackLock<T>(p: StackPaths, log: StackLogger, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(p.dir, { recursive: true });
  const lock = path.join(p.dir, 'lock');
  let announced = false;
  await waitFor(
    `the stack lock ${lock}`,
    () => {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AbortPoll(e);
      }
      const owner = Number(fs.readFileSync(lock, 'utf8').trim() || 'NaN');
      if (!Number.isInteger(owner) || owner === process.pid || !isRunning(owner)) {
        fs.rmSync(lock, { force: true }); // stale: its owner is gone
        return false;
      }
      if (!announced) log(`waiting for another stack:up/stack:down (pid ${owner}) to finish`);
      announced = true;
      return false;
    },
    { timeoutMs: 15 * 60_000, intervalMs: 250 },
  );
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

export function displayPath(file: string): string {
  const rel = path.relative(REPO_ROOT, file);
  return rel.startsWith('..') ? file : rel;
}

export function requireState(p: StackPaths): StackState {
  const state = readState(p);
  if (!state) throw new Error('no local stack (.stack/state.json missing): run npm run stack:up');
  return state;
}
