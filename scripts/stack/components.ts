/**
 * The stack's processes: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, kwok (fake nodes), moto (AWS emulator) and the OCI registry, each with its command
 * line, port and log on 127.0.0.1; how each is launched detached, checked for
 * readiness, signalled and stopped. The components a test file starts for itself (ESO,
 * Argo Rollouts, ElasticMQ, a moto of its own) go through the same launch, readiness
 * wait and stop: startProcessComponent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { httpGet, httpsHealth, kubeRequest } from './kubeapi';
import { StackPaths, ToolchainPaths } from './paths';
import { Pki } from './pki';
import { REGISTRY_ENV, registryAnswers, registryArgs, type RegistryLayout } from './registry';
import { ComponentError, SERVICE_ACCOUNT_ISSUER, displayPath, saveState, type ComponentName, type ComponentRecord, type StackState } from './state';
import { isRunning, spawnDetached, stopProcessGroup, tailFile } from './process';
import { AbortPoll, waitFor } from '../kit/wait';

const KWOK_CONFIG = path.join(__dirname, 'kwok.yaml');

const SERVICE_CIDR = '10.0.0.0/24';
const POD_CIDR = '10.244.0.0/16';
const NODE_IP = '10.1.0.1';
export const DEFAULT_GRACE_MS = 10_000;

// ------------------------------------------------------------------ ports

// ------------------------------------------------------------------ moto

/** moto's server; scripts/setup.sh installs it (npm run stack:up / demo / test run that first). */
export function motoCommand(): string {
  const found = whichSync('moto_server');
  if (found) return found;
  throw new ComponentError('moto', 'moto_server is not on PATH: bash scripts/setup.sh demo installs it');
}

/** moto_server's command line: loopback only, on `port`. */
export function motoArgs(port: number): string[] {
  return ['-H', '127.0.0.1', '-p', String(port)];
}

/** moto answers any HTTP status once its server is up. */
export async function motoAnswers(port: number): Promise<boolean> {
  return (await httpGet(`http://127.0.0.1:${port}/moto-api/`)).status > 0;
}

export function whichSync(cmd: string): string | undefined {
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

// ------------------------------------------------------------------ component definitions

export interface Layout {
  dataDir: string;
  pki: Pki;
  tools: ToolchainPaths;
  ports: { etcd: number; etcdPeer: number; apiserver: number; kcm: number; scheduler: number; kwok: number; moto: number; registry: number };
  kubeconfigs: { kcm: string; scheduler: string; kwok: string };
  moto: string;
  registry: RegistryLayout;
}

export function defineComponents(l: Layout, p: StackPaths): Record<ComponentName, ComponentRecord> {
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
    moto: rec('moto', l.moto, l.ports.moto, motoArgs(l.ports.moto)),
    registry: { ...rec('registry', need(l.tools.registry, 'registry'), l.ports.registry, registryArgs(l.registry)), env: REGISTRY_ENV },
  };
}

// ------------------------------------------------------------------ readiness

export async function probe(state: StackState, name: ComponentName): Promise<boolean> {
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
    case 'moto':
      return motoAnswers(rec.port);
    case 'registry':
      return registryAnswers(state.registry.host, state.registry.caFile);
  }
}

const READY_TIMEOUT_MS: Record<ComponentName, number> = {
  etcd: 30_000,
  'kube-apiserver': 120_000,
  'kube-controller-manager': 90_000,
  'kube-scheduler': 90_000,
  kwok: 60_000,
  moto: 60_000,
  registry: 30_000,
};

export async function waitComponentReady(state: StackState, name: ComponentName): Promise<void> {
  const rec = state.components[name];
  try {
    await waitProcessReady(rec, `${name} to answer on 127.0.0.1:${rec.port}`, () => probe(state, name), READY_TIMEOUT_MS[name]);
  } catch (e) {
    throw new ComponentError(name, (e as Error).message, tailFile(rec.logFile, 30));
  }
}

/**
 * Waits until `ready` answers true for a process started detached; stops at once if the
 * process exits first. The one readiness wait of the control plane and of the
 * components a test file starts for itself.
 */
export async function waitProcessReady(
  proc: { pid?: number; startTime?: string; logFile: string },
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (proc.pid === undefined || !isRunning(proc.pid, proc.startTime)) {
        throw new AbortPoll(new Error(`exited during start-up (see ${displayPath(proc.logFile)})`));
      }
      return ready();
    },
    { timeoutMs, intervalMs },
  );
}

/**
 * A component a test file (or the demo) starts for itself beside the stack, on ports
 * the caller chose (freePorts): ESO, Argo Rollouts' controller, ElasticMQ, a moto of its
 * own. Same life as the control plane's: spawn detached with its log under .stack/logs,
 * wait until it answers, stop its process group.
 */
export interface ProcessComponent {
  /** Names it in messages. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** What the readiness wait waits for, for its timeout message. */
  readonly readyWhat: string;
  /** True once it answers; false or a throw while it does not. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs: number;
  readonly intervalMs?: number;
}

export interface RunningComponent {
  readonly pid: number;
  readonly startTime: string;
  readonly logFile: string;
  /** Stops its process group and waits until it is gone. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a ProcessComponent and waits until it answers; if it does not, stops it and throws with the last lines of its log. */
export async function startProcessComponent(c: ProcessComponent): Promise<RunningComponent> {
  fs.mkdirSync(path.dirname(c.logFile), { recursive: true });
  const proc = spawnDetached(c.command, [...c.args], { logFile: c.logFile, env: c.env });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopProcessGroup(proc.pid, proc.startTime, { graceMs: DEFAULT_GRACE_MS, name: c.name });
  };
  try {
    await waitProcessReady({ ...proc, logFile: c.logFile }, c.readyWhat, c.ready, c.readyTimeoutMs, c.intervalMs);
  } catch (err) {
    await stop();
    throw new Error(`${c.name}: ${(err as Error).message}\n${tailFile(c.logFile, 20)}`);
  }
  return { pid: proc.pid, startTime: proc.startTime, logFile: c.logFile, stop };
}

export function launch(state: StackState, name: ComponentName, p: StackPaths): void {
  launchRecord(state, state.components[name], p);
}

export function launchRecord(state: StackState, rec: ComponentRecord, p: StackPaths): void {
  const env = { ...process.env, ...rec.env };
  delete env.KUBECONFIG;
  const proc = spawnDetached(rec.command, rec.args, { logFile: rec.logFile, env, cwd: state.dataDir });
  rec.pid = proc.pid;
  rec.startTime = proc.startTime;
  rec.paused = false;
  saveState(state, p);
}

export async function stopRecorded(state: StackState, name: ComponentName, graceMs = DEFAULT_GRACE_MS): Promise<void> {
  const rec = state.components[name];
  if (rec.pid === undefined) return;
  if (rec.paused) signalRecorded(rec, 'SIGCONT');
  await stopProcessGroup(rec.pid, rec.startTime, { name, graceMs });
  rec.pid = undefined;
  rec.startTime = undefined;
  rec.paused = false;
}

export function signalRecorded(rec: ComponentRecord, signal: NodeJS.Signals): void {
  if (rec.pid === undefined || !isRunning(rec.pid, rec.startTime)) throw new Error(`${rec.name} is not running`);
  process.kill(-rec.pid, signal);
}
