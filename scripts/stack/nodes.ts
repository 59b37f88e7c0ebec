/**
 * The stack's nodes: the fake (kwok) Node objects and their readiness, the default
 * ServiceAccount, and, where the machine allows it, one real node (containerd +
 * kubelet, realnode.ts) started and stopped with the stack; its images come from the
 * stack's registry.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { writeKubeconfig } from './kubeconfig';
import { kubeJson, kubeRequest } from './kubeapi';
import { REPO_ROOT, StackPaths, ToolchainPaths } from './paths';
import { Pki } from './pki';
import { ComponentError, displayPath, saveState, type ComponentRecord, type RealNodeComponent, type StackLogger, type StackState } from './state';
import { DEFAULT_GRACE_MS, launchRecord, whichSync } from './components';
import { isRunning, stopProcessGroup, tailFile } from './process';
import { AbortPoll, waitFor } from '../kit/wait';
import * as realNode from './realnode';
import { pushImage, type RegistryEnv } from './registry';

// ------------------------------------------------------------------ nodes, service accounts

/** A fake node kwok manages, with room for `pods` pods (the bench adds a larger one for its scenario F). */
export function nodeManifest(name: string, pods = 110): Record<string, unknown> {
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
      allocatable: { cpu: '32', memory: '256Gi', pods: String(pods) },
      capacity: { cpu: '32', memory: '256Gi', pods: String(pods) },
    },
  };
}

export interface NodeObj {
  status?: { conditions?: { type: string; status: string }[] };
  spec?: { taints?: { key: string }[] };
}

export function nodeIsReady(node: NodeObj): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const blocked = (node.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable');
  return ready && !blocked;
}

export async function createNodes(state: StackState): Promise<void> {
  for (const name of state.nodes) {
    const res = await kubeRequest(state.admin, 'POST', '/api/v1/nodes', nodeManifest(name));
    if (res.status !== 201 && res.status !== 409) throw new ComponentError('nodes', `creating node ${name}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  }
}

export async function waitNodesReady(state: StackState, timeoutMs = 60_000): Promise<void> {
  for (const name of state.nodes) {
    try {
      await waitFor(`node ${name} to be Ready (kwok)`, async () => nodeIsReady(await kubeJson<NodeObj>(state.admin, 'GET', `/api/v1/nodes/${name}`)), {
        timeoutMs,
        intervalMs: 250,
      });
    } catch (e) {
      throw new ComponentError('kwok', (e as Error).message, tailFile(state.components.kwok.logFile, 30));
    }
  }
}

export async function waitDefaultServiceAccount(state: StackState, timeoutMs = 60_000): Promise<void> {
  try {
    await waitFor(
      'ServiceAccount default/default (kube-controller-manager)',
      async () => (await kubeRequest(state.admin, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      { timeoutMs, intervalMs: 250 },
    );
  } catch (e) {
    throw new ComponentError('kube-controller-manager', (e as Error).message, tailFile(state.components['kube-controller-manager'].logFile, 30));
  }
}

// ------------------------------------------------------------------ the real node

const REAL_NODE_READY_TIMEOUT_MS = 120_000;

/**
 * Adds the real node (realnode.ts) when the machine can run it; otherwise records
 * why in one line (STACK_REAL_NODE_SKIP_REASON) and the suites that need it skip.
 */
export async function startRealNode(state: StackState, pki: Pki, p: StackPaths, tools: ToolchainPaths, log: StackLogger): Promise<void> {
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
    registry: state.registry,
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
  // The sandbox image goes to the registry like every other image: containerd pulls it at the first pod.
  const pause = await pushImage(registryEnv(state), `docker-archive:${pauseImageArchive()}`, realNode.PAUSE_REPOSITORY, realNode.PAUSE_TAG).catch((e) => failWith('real-node', e));
  log(`real node: sandbox image pushed to ${pause.ref} in ${pause.seconds.toFixed(1)}s`);
  const cd = state.realNode.components.containerd;
  launchRecord(state, cd, p);
  await waitFor(
    'containerd to answer on its socket',
    () => {
      if (cd.pid === undefined || !isRunning(cd.pid, cd.startTime)) throw new AbortPoll(new Error(`containerd exited during start-up (see ${displayPath(cd.logFile)})`));
      return spawnSyncOk('ctr', ['--address', layout.containerdSocket, 'version']);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  ).catch((e) => failWith('containerd', e, cd.logFile));
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
  await waitFor(
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

/** The registry's coordinates as pushImage takes them. */
export function registryEnv(state: StackState): RegistryEnv {
  return { STACK_REGISTRY: state.registry.host, STACK_REGISTRY_CA_FILE: state.registry.caFile, STACK_REGISTRY_CERT_DIR: state.registry.layout.certDir };
}

/** kubelet first, then every container, containerd, its shims, and what was made on the host. */
export async function stopRealNode(state: StackState, p: StackPaths, log: StackLogger): Promise<void> {
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
    await waitFor('the real node\'s containers to exit', () => spawnSync('ctr', ['--address', rn.layout.containerdSocket, '-n', 'k8s.io', 'tasks', 'ls', '-q'], { encoding: 'utf8' }).stdout?.trim() === '', { timeoutMs: 20_000, intervalMs: 200 }).catch(() => undefined);
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
  await waitFor('containerd shims to exit', () => realNode.shimPids(rn.layout.containerdSocket).length === 0, { timeoutMs: 10_000, intervalMs: 100 });
  const removed = realNode.teardownHost(rn.before, rn.layout.dataDir);
  saveState(state, p);
  log(`real node: stopped kubelet and containerd, killed ${killed} container(s) and ${shims.length} shim(s); removed ${removed.join(', ') || 'nothing else'}`);
}
