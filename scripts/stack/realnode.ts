/**
 * One real node beside the kwok nodes: containerd (Debian's, with runc) and a kubelet
 * built from the same k8s.io/kubernetes module as the control plane, on a bridge of
 * ours. Tainted: only pods that tolerate REAL_NODE_TAINT (and select REAL_NODE_LABEL)
 * land there. See ../../../shared/notes/real-node.md for the settings that mattered.
 *
 * What it makes on the host, and what teardownRealNode removes again:
 *   - the bridge sro0 (10.85.0.1/24): the node IP, the pods' gateway;
 *   - nat chain SRO-STACK (hooked from PREROUTING and OUTPUT): the `kubernetes`
 *     Service address and moto, as seen from pods, DNAT-ed to their loopback ports;
 *   - iptables chains the kubelet makes (KUBE-FIREWALL, KUBE-KUBELET-CANARY, ...):
 *     every chain that did not exist before stack:up;
 *   - nothing for images: containerd pulls them from the stack's registry (TLS,
 *     trusted through a hosts.toml naming the stack CA), the sandbox image included;
 *   - mounts under the data folder and /run/sro-stack, pod network namespaces
 *     (/var/run/netns/cni-*), and the host folders the kubelet insists on that did
 *     not exist before (device-plugins, /var/log/containers, /var/lib/cni/results).
 * One real node per machine: the kubelet's ports 10250/10248 and those paths are fixed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REAL_NODE_NAME = 'sro-real-node';
export const REAL_NODE_LABEL = { key: 'secrets-rotation-operator.dev/real-node', value: 'true' } as const;
export const REAL_NODE_TAINT = { key: 'secrets-rotation-operator.dev/real-node', value: 'true', effect: 'NoSchedule' } as const;
export const BRIDGE = 'sro0';
export const BRIDGE_IP = '10.85.0.1';
const BRIDGE_CIDR = '10.85.0.0/24';
const NAT_CHAIN = 'SRO-STACK';
/** The `kubernetes` Service's ClusterIP (first address of the service range). */
const KUBERNETES_SERVICE_IP = '10.0.0.1';
const RUN_DIR = '/run/sro-stack';
const NETNS_DIR = '/var/run/netns';
const KUBELET_PORTS = [10250, 10248];
const IPT_TABLES = ['filter', 'nat', 'mangle'];
/** Host folders the kubelet/CNI use whatever their configured roots. */
const HOST_DIRS = ['/var/lib/kubelet', '/var/log/containers', '/var/log/pods', '/var/lib/cni', '/run/containerd'];
/** The sandbox image's repository and tag in the stack's registry (nodes.ts pushes it there). */
export const PAUSE_REPOSITORY = 'sro-pause';
export const PAUSE_TAG = '1';

/** What teardown needs to know about the host as stack:up found it. */
export interface HostBefore {
  chains: Record<string, string[]>; // "iptables:filter" -> chains
  netns: string[];
  hostDirs: string[]; // those that existed
}

export interface RealNodeLayout {
  dataDir: string;
  containerdConfig: string;
  containerdSocket: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeletRoot: string;
  cniConfDir: string;
  /** containerd's registry hosts folder: <host:port>/hosts.toml. */
  registryHostsDir: string;
}

/** Why this machine cannot run the real node (one line), or undefined. */
export function realNodeUnsupported(): string | undefined {
  if (process.env.STACK_REAL_NODE === '0') return 'STACK_REAL_NODE=0';
  if (process.getuid?.() !== 0) return 'not root (the kubelet and containerd need root)';
  const missing = ['containerd', 'ctr', 'runc', 'iptables', 'ip', 'buildah', 'skopeo'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (!fs.existsSync('/usr/lib/cni/bridge')) missing.push('containernetworking-plugins');
  if (missing.length) return `missing ${missing.join(', ')} (bash scripts/setup.sh demo installs them)`;
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status === 0) return `the bridge ${BRIDGE} exists already (another real node on this machine? npm run stack:down there)`;
  const busy = KUBELET_PORTS.filter((p) => portInUse(p));
  if (busy.length) return `port(s) ${busy.join(', ')} in use (another kubelet on this machine?)`;
  return undefined;
}

function portInUse(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
    if (text.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`) && l.trim().split(/\s+/)[3] === '0A')) return true;
  }
  return false;
}

function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout ?? '';
}

function iptablesChains(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const bin of ['iptables', 'ip6tables']) {
    for (const t of IPT_TABLES) {
      const text = sh(bin, ['-w', '5', '-t', t, '-S'], { allowFail: true });
      out[`${bin}:${t}`] = text.split('\n').filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim());
    }
  }
  return out;
}

const listNetns = (): string[] => (fs.existsSync(NETNS_DIR) ? fs.readdirSync(NETNS_DIR) : []);

export function recordHostBefore(): HostBefore {
  return { chains: iptablesChains(), netns: listNetns(), hostDirs: HOST_DIRS.filter((d) => fs.existsSync(d)) };
}

// ------------------------------------------------------------------ configuration

/**
 * containerd's hosts.toml for one registry: pull and resolve over TLS verified with
 * `caFile` (no skip_verify, no plain HTTP). Pure.
 */
export function registryHostsToml(host: string, caFile: string): string {
  return `server = "https://${host}"

[host."https://${host}"]
  capabilities = ["pull", "resolve"]
  ca = "${caFile}"
`;
}

export function writeRealNodeConfig(dataDir: string, o: { writeKubeconfig: (file: string) => void; registry: { host: string; caFile: string } }): RealNodeLayout {
  const d = (...p: string[]): string => path.join(dataDir, 'real-node', ...p);
  for (const dir of [d('containerd', 'certs.d', o.registry.host), d('cni', 'net.d'), d('cni', 'ipam'), d('kubelet'), d('pod-logs')]) fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const socket = path.join(RUN_DIR, 'containerd.sock');
  const layout: RealNodeLayout = {
    dataDir: d(),
    containerdConfig: d('containerd', 'config.toml'),
    containerdSocket: socket,
    kubeletConfig: d('kubelet-config.yaml'),
    kubeletKubeconfig: d('kubelet.kubeconfig'),
    kubeletRoot: d('kubelet'),
    cniConfDir: d('cni', 'net.d'),
    registryHostsDir: d('containerd', 'certs.d'),
  };
  fs.writeFileSync(path.join(layout.registryHostsDir, o.registry.host, 'hosts.toml'), registryHostsToml(o.registry.host, o.registry.caFile));
  fs.writeFileSync(
    layout.containerdConfig,
    `version = 2
root = "${d('containerd', 'root')}"
state = "${path.join(RUN_DIR, 'containerd')}"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${d('containerd', 'opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${o.registry.host}/${PAUSE_REPOSITORY}:${PAUSE_TAG}"
  disable_apparmor = true
  enable_selinux = false
  # No CAP_SYS_RESOURCE here: a negative oom_score_adj (sandboxes get -998) fails
  # runc's init ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${layout.cniConfDir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${layout.registryHostsDir}"
`,
  );
  fs.writeFileSync(
    path.join(layout.cniConfDir, '10-sro-stack.conflist'),
    `${JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: 'sro-stack',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            isDefaultGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: BRIDGE_CIDR, gateway: BRIDGE_IP }]], dataDir: d('cni', 'ipam') },
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
  const resolvConf = d('resolv.conf');
  // Pods reach nothing by name here; keep the host's resolver out of them.
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions ndots:1\n');
  fs.writeFileSync(
    layout.kubeletConfig,
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${BRIDGE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://${socket}
resolvConf: ${resolvConf}
podLogsDir: ${d('pod-logs')}
clusterDomain: cluster.local
registerNode: true
registerWithTaints:
  - key: ${REAL_NODE_TAINT.key}
    value: "${REAL_NODE_TAINT.value}"
    effect: ${REAL_NODE_TAINT.effect}
maxPods: 30
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
shutdownGracePeriod: 0s
rotateCertificates: false
`,
  );
  o.writeKubeconfig(layout.kubeletKubeconfig);
  return layout;
}

export function containerdArgs(l: RealNodeLayout): string[] {
  return ['--config', l.containerdConfig, '--log-level', 'warn'];
}

export function kubeletArgs(l: RealNodeLayout): string[] {
  return [
    `--config=${l.kubeletConfig}`,
    `--kubeconfig=${l.kubeletKubeconfig}`,
    `--root-dir=${l.kubeletRoot}`,
    `--cert-dir=${path.join(l.dataDir, 'kubelet-pki')}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    `--node-ip=${BRIDGE_IP}`,
    `--node-labels=${REAL_NODE_LABEL.key}=${REAL_NODE_LABEL.value}`,
    '--v=1',
  ];
}

// ------------------------------------------------------------------ host network

/** The bridge, route_localnet on it, and the DNAT chain for the API server and moto. */
export function setupHostNetwork(o: { apiserverPort: number; motoPort: number }): void {
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  fs.writeFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/route_localnet`, '1');
  const ipt = (...a: string[]): string => sh('iptables', ['-w', '5', '-t', 'nat', ...a]);
  ipt('-N', NAT_CHAIN);
  ipt('-A', NAT_CHAIN, '-d', `${KUBERNETES_SERVICE_IP}/32`, '-p', 'tcp', '--dport', '443', '-j', 'DNAT', '--to-destination', `127.0.0.1:${o.apiserverPort}`);
  ipt('-A', NAT_CHAIN, '-d', `${BRIDGE_IP}/32`, '-p', 'tcp', '--dport', String(o.motoPort), '-j', 'DNAT', '--to-destination', `127.0.0.1:${o.motoPort}`);
  ipt('-A', 'PREROUTING', '-j', NAT_CHAIN);
  ipt('-A', 'OUTPUT', '-j', NAT_CHAIN);
}

// ------------------------------------------------------------------ teardown

/**
 * Kills every container of the node (tasks, then shims), then removes mounts,
 * network namespaces, iptables chains, the bridge and host folders made since
 * `before`. Call after the kubelet has stopped; containerd may be running or not.
 * Returns what it removed, for the log.
 */
export function killContainers(socket: string): number {
  if (!fs.existsSync(socket)) return 0;
  const ctr = (...a: string[]): string => sh('ctr', ['--address', socket, '-n', 'k8s.io', ...a], { allowFail: true });
  const ids = ctr('tasks', 'ls', '-q').split('\n').filter(Boolean);
  for (const id of ids) ctr('tasks', 'kill', '-s', 'SIGKILL', id);
  return ids.length;
}

/** containerd shims started for our socket (they outlive containerd by design). */
export function shimPids(socket: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let cmd: string[];
    try {
      cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (path.basename(cmd[0] ?? '').startsWith('containerd-shim') && cmd.includes(socket)) out.push(Number(e));
  }
  return out;
}

/** /var/run is usually a link to /run: mountinfo shows the resolved path. */
function resolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function mountsUnder(prefixes: string[]): string[] {
  prefixes = [...new Set([...prefixes, ...prefixes.map(resolved)])];
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '));
  return [...new Set(points.filter((m) => prefixes.some((p) => m === p || m.startsWith(`${p}/`))))].sort((a, b) => b.length - a.length);
}

export function teardownHost(before: HostBefore, dataDir: string): string[] {
  const done: string[] = [];
  const newNetns = listNetns().filter((n) => !before.netns.includes(n));
  const prefixes = [dataDir, RUN_DIR, ...newNetns.map((n) => path.join(NETNS_DIR, n)), ...HOST_DIRS.filter((d) => !before.hostDirs.includes(d))];
  // /run/containerd and /var/lib/kubelet may hold mounts of ours even when they existed.
  prefixes.push('/run/containerd/io.containerd.runtime.v2.task/k8s.io', path.join('/var/lib/kubelet', 'pods'));
  let mounts = mountsUnder(prefixes);
  for (const m of mounts) sh('umount', [m], { allowFail: true });
  mounts = mountsUnder(prefixes);
  for (const m of mounts) sh('umount', ['-l', m], { allowFail: true }); // still busy: detach
  if (mounts.length) done.push(`${mounts.length} busy mount(s) detached`);
  let removedNetns = 0;
  for (const n of newNetns) {
    try {
      fs.rmSync(path.join(NETNS_DIR, n), { force: true });
      removedNetns++;
    } catch (e) {
      done.push(`netns ${n} NOT removed: ${(e as Error).message}`);
    }
  }
  if (removedNetns) done.push(`${removedNetns} network namespace(s)`);

  // iptables: every chain that was not there before, references first.
  const after = iptablesChains();
  let chains = 0;
  for (const [key, list] of Object.entries(after)) {
    const [bin, table] = key.split(':');
    const fresh = list.filter((c) => !(before.chains[key] ?? []).includes(c));
    if (!fresh.length) continue;
    const rules = sh(bin, ['-w', '5', '-t', table, '-S'], { allowFail: true }).split('\n');
    for (const rule of rules) {
      if (!rule.startsWith('-A ')) continue;
      const target = /-j (\S+)/.exec(rule)?.[1];
      const chain = rule.split(' ')[1];
      if (target && fresh.includes(target) && !fresh.includes(chain)) sh(bin, ['-w', '5', '-t', table, ...splitRule(rule.replace(/^-A /, '-D '))], { allowFail: true });
    }
    for (const c of fresh) sh(bin, ['-w', '5', '-t', table, '-F', c], { allowFail: true });
    for (const c of fresh) sh(bin, ['-w', '5', '-t', table, '-X', c], { allowFail: true });
    chains += fresh.length;
  }
  if (chains) done.push(`${chains} iptables chain(s)`);
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status === 0) {
    sh('ip', ['link', 'del', BRIDGE], { allowFail: true });
    done.push(`bridge ${BRIDGE}`);
  }
  for (const d of HOST_DIRS.filter((x) => !before.hostDirs.includes(x))) {
    if (fs.existsSync(d)) {
      fs.rmSync(d, { recursive: true, force: true });
      done.push(d);
    }
  }
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
  return done;
}

/** iptables -S prints rules with quoted comments; split like a shell would. */
function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rule))) out.push(m[1] !== undefined ? m[1] : m[2]);
  return out;
}
