/**
 * The local stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
 * kwok (fake nodes) and moto (AWS emulator), all on 127.0.0.1, started detached so
 * they outlive the command that started them; and, where the machine allows it, one
 * real node (containerd + kubelet, realnode.ts) on a bridge of ours.
 *
 *   .stack/state.json   what was started (commands, ports, pids, temp data dir)
 *   .stack/pids         "component pid" lines, for people
 *   .stack/logs/*.log   one log per component (kept by stackDown)
 *   .stack/kubeconfig   admin kubeconfig (client certificate, group system:masters)
 *   .stack/env          shell exports (KUBECONFIG, AWS_*, SQS_QUEUE_URL, ...)
 *   .stack/env.json     the same for TypeScript (readStackEnv())
 * Data (etcd, certificates, component kubeconfigs) lives in a mktemp folder.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { deployAwsPrerequisites, FAKE_CREDENTIALS } from './aws';
import { writeKubeconfig } from './kubeconfig';
import { httpGet, httpsHealth, KubeConnection, kubeJson, kubeRequest } from './kubeapi';
import { REPO_ROOT, resolveToolchain, stackPaths, StackPaths, ToolchainPaths } from './paths';
import { createPki, Pki } from './pki';
import { AbortPoll, isRunning, pollUntil, spawnDetached, stopProcessGroup, tailFile, waitReaped } from './process';
import * as realNode from './realnode';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'moto'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export const AWS_REGION = 'us-east-1';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const KWOK_CONFIG = path.join(__dirname, 'kwok.yaml');
const DATA_DIR_PREFIX = 'sro-stack-';
const SERVICE_CIDR = '10.0.0.0/24';
const POD_CIDR = '10.244.0.0/16';
const NODE_IP = '10.1.0.1';
const DEFAULT_GRACE_MS = 10_000;

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
  HELM_PLUGINS: string;
  /** The real node's name, '' when there is none (then STACK_REAL_NODE_SKIP_REASON says why). */
  STACK_REAL_NODE: string;
  STACK_REAL_NODE_SKIP_REASON: string;
  /** containerd's socket on the real node (images are imported there). */
  STACK_CONTAINERD_SOCKET: string;
  /** moto as pods on the real node reach it (the bridge address, DNAT-ed to loopback). */
  STACK_POD_AWS_ENDPOINT_URL: string;
}

export interface StackLogger {
  (line: string): void;
}
const defaultLog: StackLogger = (line) => process.stderr.write(`[stack] ${line}\n`);

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

function readState(p: StackPaths = stackPaths()): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(p.stateFile, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

function writeAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

function saveState(state: StackState, p: StackPaths = stackPaths()): void {
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

function renderEnvFile(env: StackEnv): string {
  const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
  const lines = Object.entries(env).map(([k, v]) => `export ${k}=${quote(String(v))}`);
  return `# Written by npm run stack:up (${new Date().toISOString()}); source it: . .stack/env\n${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------ lock

/**
 * One stackUp/stackDown at a time per .stack/ (developers, jest globalSetup and
 * teardown share it): .stack/lock holds the owner's pid; a dead owner's lock is taken over.
 */
async function withStackLock<T>(p: StackPaths, log: StackLogger, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(p.dir, { recursive: true });
  const lock = path.join(p.dir, 'lock');
  let announced = false;
  await pollUntil(
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

// ------------------------------------------------------------------ ports

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// ------------------------------------------------------------------ moto

function motoCommand(): string {
  const found = whichSync('moto_server');
  if (found) return found;
  throw new ComponentError('moto', "moto_server is not on PATH: install it with pip install 'moto[server]'");
}

function whichSync(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function ensureMotoServer(log: StackLogger): Promise<string> {
  if (whichSync('moto_server')) return motoCommand();
  log("moto_server not found: pip install 'moto[server]'");
  const { execFileSync } = await import('node:child_process');
  const python = whichSync('python3') ?? 'python3';
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', 'moto[server]'], { stdio: 'inherit' });
  return motoCommand();
}

// ------------------------------------------------------------------ component definitions

interface Layout {
  dataDir: string;
  pki: Pki;
  tools: ToolchainPaths;
  ports: { etcd: number; etcdPeer: number; apiserver: number; kcm: number; scheduler: number; kwok: number; moto: number };
  kubeconfigs: { kcm: string; scheduler: string; kwok: string };
  moto: string;
}

function defineComponents(l: Layout, p: StackPaths): Record<ComponentName, ComponentRecord> {
  const need = (bin: string | undefined, what: string): string => {
    if (!bin) throw new ComponentError('toolchain', `build.sh gave no path for ${what}`);
    return bin;
  };
  const log = (c: ComponentName): string => path.join(p.logs, `${c}.log`);
  const etcdUrl = `http://127.0.0.1:${l.ports.etcd}`;
  const peerUrl = `http://127.0.0.1:${l.ports.etcdPeer}`;
  const rec = (name: ComponentName, command: string, port: number, args: string[]): ComponentRecord => ({ name, command, args, port, logFile: log(name) });
  return {
    etcd: rec('etcd', need(l.tools.etcd, 'etcd'), l.ports.etcd, [
      '--name=stack',
      `--data-dir=${path.join(l.dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=stack=${peerUrl}`,
      '--unsafe-no-fsync',
      '--quota-backend-bytes=8589934592',
      '--log-level=warn',
    ]),
    'kube-apiserver': rec('kube-apiserver', need(l.tools.kubeApiserver, 'kube-apiserver'), l.ports.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${l.ports.apiserver}`,
      `--cert-dir=${path.join(l.dataDir, 'apiserver-certs')}`,
      `--tls-cert-file=${l.pki.apiserverCert}`,
      `--tls-private-key-file=${l.pki.apiserverKey}`,
      `--client-ca-file=${l.pki.caCert}`,
      // Aggregation layer (also gives the other components a complete
      // extension-apiserver-authentication ConfigMap).
      `--requestheader-client-ca-file=${l.pki.frontProxyCaCert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${l.pki.frontProxyClient.cert}`,
      `--proxy-client-key-file=${l.pki.frontProxyClient.key}`,
      '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${l.pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${l.pki.serviceAccountKey}`,
      // The loopback address cannot be an endpoint of the `kubernetes` Service.
      '--endpoint-reconciler-type=none',
      // The real node registers InternalIP (the bridge) and a Hostname nothing resolves.
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      '--profiling=false',
      '--v=1',
    ]),
    'kube-controller-manager': rec('kube-controller-manager', need(l.tools.kubeControllerManager, 'kube-controller-manager'), l.ports.kcm, [
      `--kubeconfig=${l.kubeconfigs.kcm}`,
      `--authentication-kubeconfig=${l.kubeconfigs.kcm}`,
      `--authorization-kubeconfig=${l.kubeconfigs.kcm}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${l.ports.kcm}`,
      `--cert-dir=${path.join(l.dataDir, 'kcm-certs')}`,
      '--leader-elect=false',
      '--controllers=*',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${l.pki.serviceAccountKey}`,
      `--root-ca-file=${l.pki.caCert}`,
      `--cluster-signing-cert-file=${l.pki.caCert}`,
      `--cluster-signing-key-file=${l.pki.caKey}`,
      '--cluster-name=stack',
      // Tests make a thousand Deployments at once: the default 20 requests/s took minutes to create their ReplicaSets.
      '--kube-api-qps=200',
      '--kube-api-burst=400',
      '--concurrent-deployment-syncs=20',
      // Fake nodes; a paused/restarted API server must not get them declared lost.
      '--node-monitor-grace-period=5m',
      '--profiling=false',
      '--v=1',
    ]),
    'kube-scheduler': rec('kube-scheduler', need(l.tools.kubeScheduler, 'kube-scheduler'), l.ports.scheduler, [
      `--kubeconfig=${l.kubeconfigs.scheduler}`,
      `--authentication-kubeconfig=${l.kubeconfigs.scheduler}`,
      `--authorization-kubeconfig=${l.kubeconfigs.scheduler}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${l.ports.scheduler}`,
      '--leader-elect=false',
      '--profiling=false',
      '--v=1',
    ]),
    kwok: rec('kwok', need(l.tools.kwok, 'kwok'), l.ports.kwok, [
      `--kubeconfig=${l.kubeconfigs.kwok}`,
      `--config=${KWOK_CONFIG}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      // Made-up addresses, never contacted: pod IPs and the fake nodes' InternalIP.
      `--cidr=${POD_CIDR}`,
      `--node-ip=${NODE_IP}`,
      `--server-address=127.0.0.1:${l.ports.kwok}`,
      // Keep a Lease per node in kube-node-lease, like a kubelet (the node lifecycle
      // controller reads it); kwok.yaml's status heartbeat is then rare.
      '--node-lease-duration-seconds=40',
    ]),
    moto: rec('moto', l.moto, l.ports.moto, ['-H', '127.0.0.1', '-p', String(l.ports.moto)]),
  };
}

// ------------------------------------------------------------------ readiness

async function probe(state: StackState, name: ComponentName): Promise<boolean> {
  const rec = state.components[name];
  switch (name) {
    case 'etcd': {
      const r = await httpGet(`http://127.0.0.1:${rec.port}/health`);
      return r.status === 200 && /"health":\s*"true"/.test(r.body);
    }
    case 'kube-apiserver': {
      const r = await kubeRequest(state.admin, 'GET', '/readyz', undefined, 3000);
      return r.status === 200 && r.body.trim() === 'ok';
    }
    case 'kube-controller-manager':
    case 'kube-scheduler': {
      const r = await httpsHealth(`https://127.0.0.1:${rec.port}/healthz`);
      return r.status === 200 && r.body.trim() === 'ok';
    }
    case 'kwok': {
      const r = await httpGet(`http://127.0.0.1:${rec.port}/healthz`);
      return r.status === 200;
    }
    case 'moto': {
      const r = await httpGet(`http://127.0.0.1:${rec.port}/moto-api/`);
      return r.status > 0;
    }
  }
}

const READY_TIMEOUT_MS: Record<ComponentName, number> = {
  etcd: 30_000,
  'kube-apiserver': 120_000,
  'kube-controller-manager': 90_000,
  'kube-scheduler': 90_000,
  kwok: 60_000,
  moto: 60_000,
};

async function waitComponentReady(state: StackState, name: ComponentName): Promise<void> {
  const rec = state.components[name];
  try {
    await pollUntil(
      `${name} to answer on 127.0.0.1:${rec.port}`,
      async () => {
        if (rec.pid === undefined || !isRunning(rec.pid, rec.startTime)) {
          throw new AbortPoll(new Error(`exited during start-up (see ${displayPath(rec.logFile)})`));
        }
        return probe(state, name);
      },
      { timeoutMs: READY_TIMEOUT_MS[name], intervalMs: 250 },
    );
  } catch (e) {
    throw new ComponentError(name, (e as Error).message, tailFile(rec.logFile, 30));
  }
}

function displayPath(file: string): string {
  const rel = path.relative(REPO_ROOT, file);
  return rel.startsWith('..') ? file : rel;
}

function launch(state: StackState, name: ComponentName, p: StackPaths): void {
  launchRecord(state, state.components[name], p);
}

function launchRecord(state: StackState, rec: ComponentRecord, p: StackPaths): void {
  const env = { ...process.env };
  delete env.KUBECONFIG;
  const proc = spawnDetached(rec.command, rec.args, { logFile: rec.logFile, env, cwd: state.dataDir });
  rec.pid = proc.pid;
  rec.startTime = proc.startTime;
  rec.paused = false;
  saveState(state, p);
}

// ------------------------------------------------------------------ nodes, service accounts

function nodeManifest(name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

interface NodeObj {
  status?: { conditions?: { type: string; status: string }[] };
  spec?: { taints?: { key: string }[] };
}

function nodeIsReady(node: NodeObj): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const blocked = (node.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable');
  return ready && !blocked;
}

async function createNodes(state: StackState): Promise<void> {
  for (const name of state.nodes) {
    const res = await kubeRequest(state.admin, 'POST', '/api/v1/nodes', nodeManifest(name));
    if (res.status !== 201 && res.status !== 409) throw new ComponentError('nodes', `creating node ${name}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  }
}

async function waitNodesReady(state: StackState, timeoutMs = 60_000): Promise<void> {
  for (const name of state.nodes) {
    try {
      await pollUntil(`node ${name} to be Ready (kwok)`, async () => nodeIsReady(await kubeJson<NodeObj>(state.admin, 'GET', `/api/v1/nodes/${name}`)), {
        timeoutMs,
        intervalMs: 250,
      });
    } catch (e) {
      throw new ComponentError('kwok', (e as Error).message, tailFile(state.components.kwok.logFile, 30));
    }
  }
}

async function waitDefaultServiceAccount(state: StackState, timeoutMs = 60_000): Promise<void> {
  try {
    await pollUntil(
      'ServiceAccount default/default (kube-controller-manager)',
      async () => (await kubeRequest(state.admin, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      { timeoutMs, intervalMs: 250 },
    );
  } catch (e) {
    throw new ComponentError('kube-controller-manager', (e as Error).message, tailFile(state.components['kube-controller-manager'].logFile, 30));
  }
}

// ------------------------------------------------------------------ health

export interface StackHealth {
  healthy: boolean;
  problems: string[];
}

/** Checks every recorded process, the API server, the nodes and moto. */
export async function stackHealth(p: StackPaths = stackPaths()): Promise<StackHealth> {
  const state = readState(p);
  if (!state) return { healthy: false, problems: ['no stack state (.stack/state.json)'] };
  const problems: string[] = [];
  for (const name of COMPONENTS) {
    const rec = state.components[name];
    if (rec.pid === undefined || !isRunning(rec.pid, rec.startTime)) problems.push(`${name} is not running`);
    else if (rec.paused) problems.push(`${name} is paused`);
  }
  if (problems.length === 0) {
    for (const name of COMPONENTS) {
      const ok = await probe(state, name).catch(() => false);
      if (!ok) problems.push(`${name} does not answer on 127.0.0.1:${state.components[name].port}`);
    }
  }
  for (const rec of Object.values(state.realNode?.components ?? {})) {
    if (rec.pid === undefined || !isRunning(rec.pid, rec.startTime)) problems.push(`${rec.name} (real node) is not running`);
  }
  if (problems.length === 0) {
    for (const node of [...state.nodes, ...(state.realNode ? [state.realNode.name] : [])]) {
      const ok = await kubeJson<NodeObj>(state.admin, 'GET', `/api/v1/nodes/${node}`).then(nodeIsReady, () => false);
      if (!ok) problems.push(`node ${node} is not Ready`);
    }
  }
  if (!fs.existsSync(p.envJsonFile)) problems.push('.stack/env.json is missing (start-up did not finish)');
  return { healthy: problems.length === 0, problems };
}

// ------------------------------------------------------------------ up

/**
 * Makes the temp data folder, certificates, kubeconfigs and ports, and records the
 * components' command lines in .stack/state.json (nothing is started yet).
 */
async function prepareStack(p: StackPaths, tools: ToolchainPaths, moto: string, nodeCount: number): Promise<{ state: StackState; pki: Pki }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), DATA_DIR_PREFIX));
  try {
    const pkiDir = path.join(dataDir, 'pki');
    fs.mkdirSync(pkiDir);
    const pki = createPki(pkiDir);
    const [etcd, etcdPeer, apiserver, kcm, scheduler, kwok, motoPort] = await freePorts(7);
    const apiserverUrl = `https://127.0.0.1:${apiserver}`;
    const kc = (name: string, client: keyof Pki['clients']): string =>
      writeKubeconfig(path.join(dataDir, `${name}.kubeconfig`), {
        server: apiserverUrl,
        caFile: pki.caCert,
        user: name,
        cert: { certFile: pki.clients[client].cert, keyFile: pki.clients[client].key },
      });
    const layout: Layout = {
      dataDir,
      pki,
      tools,
      ports: { etcd, etcdPeer, apiserver, kcm, scheduler, kwok, moto: motoPort },
      kubeconfigs: { kcm: kc('kube-controller-manager', 'kube-controller-manager'), scheduler: kc('kube-scheduler', 'kube-scheduler'), kwok: kc('kwok', 'kwok') },
      moto,
    };
    writeKubeconfig(p.kubeconfig, {
      server: apiserverUrl,
      caFile: pki.caCert,
      user: 'stack-admin',
      cert: { certFile: pki.clients.admin.cert, keyFile: pki.clients.admin.key },
    });
    const state: StackState = {
      version: 1,
      createdAt: new Date().toISOString(),
      repoRoot: REPO_ROOT,
      dataDir,
      apiserverUrl,
      motoUrl: `http://127.0.0.1:${motoPort}`,
      kubernetesVersion: tools.kubernetesVersion,
      admin: { server: apiserverUrl, caFile: pki.caCert, certFile: pki.clients.admin.cert, keyFile: pki.clients.admin.key },
      nodes: Array.from({ length: Math.max(1, nodeCount) }, (_, i) => `kwok-node-${i}`),
      components: defineComponents(layout, p),
    };
    saveState(state, p);
    return { state, pki };
  } catch (e) {
    removeDataDir(dataDir); // nothing was started yet
    fs.rmSync(p.kubeconfig, { force: true });
    throw e instanceof ComponentError ? e : new ComponentError('stack', `preparing the stack: ${(e as Error).message}`);
  }
}

export interface StackUpOptions {
  /** Number of fake (kwok) nodes; default 1 (env STACK_NODES). */
  nodes?: number;
  log?: StackLogger;
}

/**
 * Brings the stack up (or finds it already healthy) and returns its environment.
 * On failure stops whatever it started and throws a ComponentError naming the
 * component, with the tail of its log.
 */
export async function stackUp(opts: StackUpOptions = {}): Promise<StackEnv> {
  const log = opts.log ?? defaultLog;
  const p = stackPaths();
  return withStackLock(p, log, () => stackUpLocked(p, log, opts));
}

async function stackUpLocked(p: StackPaths, log: StackLogger, opts: StackUpOptions): Promise<StackEnv> {
  const t0 = Date.now();
  if (readState(p)) {
    const health = await stackHealth(p);
    if (health.healthy) {
      log(`a healthy stack is already up (${readState(p)?.apiserverUrl}); nothing to do. Use: . ${displayPath(p.envFile)}`);
      return readStackEnv(p);
    }
    log(`found a stack that is not healthy (${health.problems.join('; ')}): stopping it and starting afresh`);
    await stackDownLocked(p, log, {});
  }

  let tools: ToolchainPaths;
  try {
    tools = await resolveToolchain({ onProgress: (line) => log(line) });
  } catch (e) {
    throw new ComponentError('toolchain', (e as Error).message);
  }
  const moto = await ensureMotoServer(log);

  fs.mkdirSync(p.dir, { recursive: true });
  fs.rmSync(p.logs, { recursive: true, force: true });
  fs.mkdirSync(p.logs, { recursive: true });
  const { state, pki } = await prepareStack(p, tools, moto, opts.nodes ?? Number(process.env.STACK_NODES ?? 1));
  const apiserverUrl = state.apiserverUrl;
  const motoPort = state.components.moto.port;

  try {
    const step = async (name: ComponentName): Promise<void> => {
      const s = Date.now();
      await waitComponentReady(state, name);
      log(`${name} ready on 127.0.0.1:${state.components[name].port} (${((Date.now() - s) / 1000).toFixed(1)}s)`);
    };
    launch(state, 'moto', p); // slow to import: start first, wait later
    launch(state, 'etcd', p);
    await step('etcd');
    launch(state, 'kube-apiserver', p);
    await step('kube-apiserver');
    launch(state, 'kube-controller-manager', p);
    launch(state, 'kube-scheduler', p);
    launch(state, 'kwok', p);
    await Promise.all([step('kube-controller-manager'), step('kube-scheduler'), step('kwok')]);
    await createNodes(state);
    await waitNodesReady(state);
    log(`node(s) ${state.nodes.join(', ')} Ready`);
    await waitDefaultServiceAccount(state);
    log('ServiceAccount default/default exists');
    await step('moto');

    let prereq;
    try {
      prereq = await deployAwsPrerequisites(state.motoUrl, AWS_REGION);
    } catch (e) {
      throw new ComponentError('aws-prerequisites', (e as Error).message, tailFile(state.components.moto.logFile, 30));
    }
    log(`AWS prerequisites (${prereq.source}): queue ${prereq.queueUrl}`);
    await startRealNode(state, pki, p, tools, log);

    const env: StackEnv = {
      STACK_DIR: p.dir,
      KUBECONFIG: p.kubeconfig,
      STACK_APISERVER_URL: apiserverUrl,
      STACK_CA_FILE: pki.caCert,
      STACK_KUBERNETES_VERSION: tools.kubernetesVersion,
      STACK_NODE_NAMES: state.nodes.join(','),
      STACK_SERVICE_ACCOUNT_ISSUER: SERVICE_ACCOUNT_ISSUER,
      STACK_MOTO_PORT: String(motoPort),
      AWS_REGION,
      AWS_DEFAULT_REGION: AWS_REGION,
      AWS_ENDPOINT_URL: state.motoUrl,
      AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      SQS_QUEUE_URL: prereq.queueUrl,
      SQS_QUEUE_ARN: prereq.queueArn,
      SQS_DEAD_LETTER_QUEUE_URL: prereq.deadLetterQueueUrl,
      EVENTBRIDGE_RULE_NAME: prereq.ruleName,
      OPERATOR_ROLE_ARN: prereq.roleArn,
      AWS_PREREQUISITES_SOURCE: prereq.source,
      HELM_BIN: tools.helm ?? '',
      HELM_PLUGINS: tools.helmPlugins ?? '',
      STACK_REAL_NODE: state.realNode?.name ?? '',
      STACK_REAL_NODE_SKIP_REASON: state.realNodeSkipReason ?? '',
      STACK_CONTAINERD_SOCKET: state.realNode?.layout.containerdSocket ?? '',
      STACK_POD_AWS_ENDPOINT_URL: state.realNode ? `http://${realNode.BRIDGE_IP}:${motoPort}` : '',
    };
    writeAtomic(p.envJsonFile, `${JSON.stringify(env, null, 2)}\n`);
    writeAtomic(p.envFile, renderEnvFile(env));
    log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)}s: . ${displayPath(p.envFile)}   (logs: ${displayPath(p.logs)}/)`);
    return env;
  } catch (e) {
    const err = e instanceof ComponentError ? e : new ComponentError('stack', (e as Error).message);
    log(`FAILED: ${err.message}`);
    if (err.logTail) log(`last lines of ${err.component}'s log:\n${err.logTail}`);
    log('stopping what was started');
    await stackDownLocked(p, log, {}).catch((d) => log(`stack:down after failure also failed: ${(d as Error).message}`));
    throw err;
  }
}

// ------------------------------------------------------------------ the real node

const REAL_NODE_READY_TIMEOUT_MS = 120_000;

/**
 * Adds the real node (realnode.ts) when the machine can run it; otherwise records
 * why in one line (STACK_REAL_NODE_SKIP_REASON) and the suites that need it skip.
 */
async function startRealNode(state: StackState, pki: Pki, p: StackPaths, tools: ToolchainPaths, log: StackLogger): Promise<void> {
  const reason = realNode.realNodeUnsupported() ?? (tools.kubelet ? undefined : 'build.sh gave no kubelet');
  if (reason) {
    state.realNodeSkipReason = reason;
    saveState(state, p);
    log(`real node: not started: ${reason}`);
    return;
  }
  const t0 = Date.now();
  const before = realNode.recordHostBefore();
  const layout = realNode.writeRealNodeConfig(state.dataDir, {
    writeKubeconfig: (file) =>
      writeKubeconfig(file, {
        server: state.apiserverUrl,
        caFile: pki.caCert,
        user: `system:node:${realNode.REAL_NODE_NAME}`,
        cert: { certFile: pki.clients['real-node'].cert, keyFile: pki.clients['real-node'].key },
      }),
  });
  const rec = (name: RealNodeComponent, command: string, args: string[], port: number): ComponentRecord => ({ name, command, args, port, logFile: path.join(p.logs, `${name}.log`) });
  const containerd = whichSync('containerd') ?? 'containerd';
  state.realNode = {
    name: realNode.REAL_NODE_NAME,
    layout,
    before,
    components: {
      containerd: rec('containerd', containerd, realNode.containerdArgs(layout), 0),
      kubelet: rec('kubelet', tools.kubelet!, realNode.kubeletArgs(layout), 10250),
    },
  };
  // Recorded before the host is touched: from here on a failure is torn down.
  saveState(state, p);
  const failWith = (component: RealNodeComponent | 'real-node', e: unknown, logFile?: string): never => {
    throw new ComponentError(component, (e as Error).message, logFile ? tailFile(logFile, 30) : '');
  };
  try {
    realNode.setupHostNetwork({ apiserverPort: Number(new URL(state.apiserverUrl).port), motoPort: state.components.moto.port });
  } catch (e) {
    failWith('real-node', e);
  }
  const pause = pauseImageArchive();
  const cd = state.realNode.components.containerd;
  launchRecord(state, cd, p);
  await pollUntil(
    'containerd to answer on its socket',
    () => {
      if (cd.pid === undefined || !isRunning(cd.pid, cd.startTime)) throw new AbortPoll(new Error(`containerd exited during start-up (see ${displayPath(cd.logFile)})`));
      return spawnSyncOk('ctr', ['--address', layout.containerdSocket, 'version']);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  ).catch((e) => failWith('containerd', e, cd.logFile));
  realNode.importImage(layout.containerdSocket, pause);
  // No Node authorizer here (RBAC only): the kubelet gets ClusterRole system:node.
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sro-stack:system:nodes' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }],
  };
  const res = await kubeRequest(state.admin, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding);
  if (res.status !== 201 && res.status !== 409) failWith('real-node', new Error(`ClusterRoleBinding for system:nodes: HTTP ${res.status}: ${res.body.slice(0, 200)}`));
  const kl = state.realNode.components.kubelet;
  launchRecord(state, kl, p);
  await pollUntil(
    `node ${realNode.REAL_NODE_NAME} to be Ready (kubelet)`,
    async () => {
      if (kl.pid === undefined || !isRunning(kl.pid, kl.startTime)) throw new AbortPoll(new Error(`kubelet exited during start-up (see ${displayPath(kl.logFile)})`));
      return nodeIsReady(await kubeJson<NodeObj>(state.admin, 'GET', `/api/v1/nodes/${realNode.REAL_NODE_NAME}`).catch(() => ({})));
    },
    { timeoutMs: REAL_NODE_READY_TIMEOUT_MS, intervalMs: 250 },
  ).catch((e) => failWith('kubelet', e, kl.logFile));
  log(`real node ${realNode.REAL_NODE_NAME} Ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (kubelet ${state.kubernetesVersion} + containerd + runc on bridge ${realNode.BRIDGE} ${realNode.BRIDGE_IP}; tainted ${realNode.REAL_NODE_TAINT.key})`);
}

function spawnSyncOk(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** The sandbox image archive (scripts/image/build.sh --only pause; cached). */
function pauseImageArchive(): string {
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'image', 'build.sh'), '--only', 'pause', '--print-env'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const archive = /^PAUSE_ARCHIVE=(.*)$/m.exec(r.stdout ?? '')?.[1];
  if (r.status !== 0 || !archive) throw new ComponentError('real-node', `building the pause image failed (exit ${r.status})`);
  return archive;
}

/** Imports an image archive into the real node's containerd (throws when there is no real node). */
export function importImageToRealNode(archive: string, p: StackPaths = stackPaths()): void {
  const state = requireState(p);
  if (!state.realNode) throw new Error(`no real node in this stack: ${state.realNodeSkipReason ?? 'unknown reason'}`);
  realNode.importImage(state.realNode.layout.containerdSocket, archive);
}

/** kubelet first, then every container, containerd, its shims, and what was made on the host. */
async function stopRealNode(state: StackState, p: StackPaths, log: StackLogger): Promise<void> {
  const rn = state.realNode!;
  const stop = async (rec: ComponentRecord, graceMs: number): Promise<void> => {
    if (rec.pid === undefined) return;
    await stopProcessGroup(rec.pid, rec.startTime, { name: rec.name, graceMs });
    rec.pid = undefined;
    rec.startTime = undefined;
  };
  await stop(rn.components.kubelet, DEFAULT_GRACE_MS);
  const killed = realNode.killContainers(rn.layout.containerdSocket);
  if (killed) {
    await pollUntil('the real node\'s containers to exit', () => spawnSync('ctr', ['--address', rn.layout.containerdSocket, '-n', 'k8s.io', 'tasks', 'ls', '-q'], { encoding: 'utf8' }).stdout?.trim() === '', { timeoutMs: 20_000, intervalMs: 200 }).catch(() => undefined);
  }
  await stop(rn.components.containerd, DEFAULT_GRACE_MS);
  const shims = realNode.shimPids(rn.layout.containerdSocket);
  for (const pid of shims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await pollUntil('containerd shims to exit', () => realNode.shimPids(rn.layout.containerdSocket).length === 0, { timeoutMs: 10_000, intervalMs: 100 });
  const removed = realNode.teardownHost(rn.before, rn.layout.dataDir);
  saveState(state, p);
  log(`real node: stopped kubelet and containerd, killed ${killed} container(s) and ${shims.length} shim(s); removed ${removed.join(', ') || 'nothing else'}`);
}

// ------------------------------------------------------------------ down

export interface StackDownOptions {
  /** Keep .stack/logs (default true). */
  keepLogs?: boolean;
  log?: StackLogger;
}

/**
 * Stops every process of the stack (SIGTERM, SIGKILL after 10 s; waits until each
 * is gone), removes the temp data folder and .stack/ state (logs are kept unless
 * keepLogs is false).
 */
export async function stackDown(opts: StackDownOptions = {}): Promise<void> {
  const log = opts.log ?? defaultLog;
  const p = stackPaths();
  await withStackLock(p, log, () => stackDownLocked(p, log, opts));
  try {
    fs.rmdirSync(p.dir); // only when empty (logs removed too)
  } catch {
    /* logs kept */
  }
}

async function stackDownLocked(p: StackPaths, log: StackLogger, opts: StackDownOptions): Promise<void> {
  const state = readState(p);
  const t0 = Date.now();
  if (!state) {
    log('no stack state (.stack/state.json): nothing to stop');
  } else {
    // Clients first, then the API server, then its storage.
    const waves: ComponentName[][] = [['kwok', 'kube-scheduler', 'kube-controller-manager', 'moto'], ['kube-apiserver'], ['etcd']];
    const failures: string[] = [];
    if (state.realNode) {
      try {
        await stopRealNode(state, p, log);
      } catch (e) {
        failures.push(`real node: ${(e as Error).message}`);
      }
    }
    const pidsBefore = Object.fromEntries(COMPONENTS.map((c) => [c, state.components[c].pid])) as Record<ComponentName, number | undefined>;
    const pids = Object.values(pidsBefore).filter((pid): pid is number => pid !== undefined);
    for (const wave of waves) {
      await Promise.all(
        wave.map(async (name) => {
          try {
            await stopRecorded(state, name);
          } catch (e) {
            failures.push(`${name}: ${(e as Error).message}`);
          }
        }),
      );
    }
    saveState(state, p);
    if (failures.length) throw new Error(`could not stop: ${failures.join('; ')}`);
    await waitReaped(pids);
    const stopped = COMPONENTS.filter((c) => pidsBefore[c] !== undefined);
    log(`stopped ${stopped.join(', ') || 'nothing (no process was running)'} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    removeDataDir(state.dataDir);
  }
  for (const f of [p.stateFile, p.envFile, p.envJsonFile, p.kubeconfig, path.join(p.dir, 'pids')]) fs.rmSync(f, { force: true });
  // ServiceAccount tokens minted for tests and the demo (e2e/support/chart.ts).
  fs.rmSync(path.join(p.dir, 'tokens'), { recursive: true, force: true });
  if (opts.keepLogs === false) fs.rmSync(p.logs, { recursive: true, force: true });
}

function removeDataDir(dir: string): void {
  // Only ever remove a folder this module made.
  const resolved = path.resolve(dir);
  if (path.dirname(resolved) === path.resolve(os.tmpdir()) && path.basename(resolved).startsWith(DATA_DIR_PREFIX)) {
    fs.rmSync(resolved, { recursive: true, force: true });
  }
}

async function stopRecorded(state: StackState, name: ComponentName, graceMs = DEFAULT_GRACE_MS): Promise<void> {
  const rec = state.components[name];
  if (rec.pid === undefined) return;
  if (rec.paused) signalRecorded(rec, 'SIGCONT');
  await stopProcessGroup(rec.pid, rec.startTime, { name, graceMs });
  rec.pid = undefined;
  rec.startTime = undefined;
  rec.paused = false;
}

function signalRecorded(rec: ComponentRecord, signal: NodeJS.Signals): void {
  if (rec.pid === undefined || !isRunning(rec.pid, rec.startTime)) throw new Error(`${rec.name} is not running`);
  process.kill(-rec.pid, signal);
}

// ------------------------------------------------------------------ single components (fault injection)

function requireState(p: StackPaths): StackState {
  const state = readState(p);
  if (!state) throw new Error('no local stack (.stack/state.json missing): run npm run stack:up');
  return state;
}

export interface StopComponentOptions {
  /**
   * SIGTERM, then SIGKILL after this many ms (default 10 000). 0 = SIGKILL at once
   * (a crash). Note: kube-apiserver's graceful shutdown waits for its open watches,
   * so with clients connected a graceful stop takes the whole grace period.
   */
  graceMs?: number;
}

/** Stops one component and waits until its processes are gone; its port, arguments and data are kept for startComponent. */
export async function stopComponent(name: ComponentName, opts: StopComponentOptions = {}): Promise<void> {
  const p = stackPaths();
  const state = requireState(p);
  await stopRecorded(state, name, opts.graceMs);
  saveState(state, p);
}

export interface StartComponentOptions {
  /**
   * moto keeps everything in memory: a restarted moto is empty. By default its
   * queues are made again (same names, so SQS_QUEUE_URL stays valid); secrets and
   * other resources made by tests are gone.
   */
  redeployAwsPrerequisites?: boolean;
}

/** Starts a stopped component again with the same command line, port and data; waits until it answers. */
export async function startComponent(name: ComponentName, opts: StartComponentOptions = {}): Promise<void> {
  const p = stackPaths();
  const state = requireState(p);
  const rec = state.components[name];
  if (rec.pid !== undefined && isRunning(rec.pid, rec.startTime)) return;
  launch(state, name, p);
  await waitComponentReady(state, name);
  if (name === 'moto' && opts.redeployAwsPrerequisites !== false) {
    await deployAwsPrerequisites(state.motoUrl, AWS_REGION);
  }
}

export async function restartComponent(name: ComponentName, opts: StartComponentOptions & StopComponentOptions = {}): Promise<void> {
  await stopComponent(name, opts);
  await startComponent(name, opts);
}

/** Freezes a component (SIGSTOP): its port stays open but nothing answers; state is kept. */
export function pauseComponent(name: ComponentName): void {
  const p = stackPaths();
  const state = requireState(p);
  signalRecorded(state.components[name], 'SIGSTOP');
  state.components[name].paused = true;
  saveState(state, p);
}

/** Resumes a component frozen by pauseComponent (SIGCONT). */
export function resumeComponent(name: ComponentName): void {
  const p = stackPaths();
  const state = requireState(p);
  signalRecorded(state.components[name], 'SIGCONT');
  state.components[name].paused = false;
  saveState(state, p);
}

/** Waits until a component answers its health check (e.g. after resumeComponent). */
export async function waitForComponent(name: ComponentName): Promise<void> {
  await waitComponentReady(requireState(stackPaths()), name);
}
