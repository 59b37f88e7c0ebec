/**
 * The local stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
 * kwok (fake nodes), moto (AWS emulator) and an OCI registry (registry.ts), all on 127.0.0.1, started detached so
 * they outlive the command that started them; and, where the machine allows it, one
 * real node (containerd + kubelet, realnode.ts) on a bridge of ours.
 *
 *   .stack/state.json   what was started (commands, ports, pids, temp data dir)
 *   .stack/pids         "component pid" lines, for people
 *   .stack/logs/*.log   one log per component (kept by stackDown)
 *   .stack/kubeconfig   admin kubeconfig (client certificate, group system:masters)
 *   .stack/env          shell exports (KUBECONFIG, AWS_*, SQS_QUEUE_URL, ...)
 *   .stack/env.json     the same for TypeScript (readStackEnv())
 *   .stack/published.json  what publish.ts pushed to the registry (refs, digests)
 * Data (etcd, certificates, component kubeconfigs, the registry's storage) lives in a
 * mktemp folder.
 *
 * This module brings the stack up and down and checks its health; state.ts holds its
 * records and lock, components.ts its processes, nodes.ts its nodes, control.ts the
 * one-component operations of fault injection. index.ts is the public entry.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deployAwsPrerequisites, FAKE_CREDENTIALS } from './aws';
import { writeKubeconfig } from './kubeconfig';
import { kubeJson } from './kubeapi';
import { REPO_ROOT, resolveToolchain, stackPaths, stackToolFamilies, StackPaths, ToolchainPaths } from './paths';
import { createPki, Pki } from './pki';
import { AWS_REGION, COMPONENTS, ComponentError, SERVICE_ACCOUNT_ISSUER, defaultLog, displayPath, readState, readStackEnv, renderEnvFile, saveState, withStackLock, writeAtomic, type ComponentName, type StackEnv, type StackLogger, type StackState } from './state';
import { defineComponents, launch, motoCommand, probe, stopRecorded, waitComponentReady, type Layout } from './components';
import { createNodes, nodeIsReady, startRealNode, stopRealNode, waitDefaultServiceAccount, waitNodesReady, type NodeObj } from './nodes';
import { isRunning, tailFile, waitReaped } from './process';
import { freePorts } from '../kit/net';
import { writeRegistryConfig } from './registry';
import * as realNode from './realnode';

const DATA_DIR_PREFIX = 'sro-stack-';

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
    const [etcd, etcdPeer, apiserver, kcm, scheduler, kwok, motoPort, registryPort] = await freePorts(8);
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
      ports: { etcd, etcdPeer, apiserver, kcm, scheduler, kwok, moto: motoPort, registry: registryPort },
      kubeconfigs: { kcm: kc('kube-controller-manager', 'kube-controller-manager'), scheduler: kc('kube-scheduler', 'kube-scheduler'), kwok: kc('kwok', 'kwok') },
      moto,
      registry: writeRegistryConfig(path.join(dataDir, 'registry'), { port: registryPort, cert: pki.registry.cert, key: pki.registry.key, caCert: pki.caCert }),
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
      registry: { host: `127.0.0.1:${registryPort}`, caFile: pki.caCert, layout: layout.registry },
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

  const moto = motoCommand(); // before any build: missing, it says how to install it
  let tools: ToolchainPaths;
  try {
    // The kubelet is built only when the real node will run (startRealNode asks again, and says why not).
    const only = stackToolFamilies({ realNode: realNode.realNodeUnsupported() === undefined });
    tools = await resolveToolchain({ only, onProgress: (line) => log(line) });
  } catch (e) {
    throw new ComponentError('toolchain', (e as Error).message);
  }

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
    launch(state, 'registry', p);
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
    await step('registry');

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
      STACK_REAL_NODE: state.realNode?.name ?? '',
      STACK_REAL_NODE_SKIP_REASON: state.realNodeSkipReason ?? '',
      STACK_CONTAINERD_SOCKET: state.realNode?.layout.containerdSocket ?? '',
      STACK_POD_AWS_ENDPOINT_URL: state.realNode ? `http://${realNode.BRIDGE_IP}:${motoPort}` : '',
      STACK_REGISTRY: state.registry.host,
      STACK_REGISTRY_CA_FILE: state.registry.caFile,
      STACK_REGISTRY_CERT_DIR: state.registry.layout.certDir,
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
    const waves: ComponentName[][] = [['kwok', 'kube-scheduler', 'kube-controller-manager', 'moto', 'registry'], ['kube-apiserver'], ['etcd']];
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
  for (const f of [p.stateFile, p.envFile, p.envJsonFile, p.kubeconfig, path.join(p.dir, 'pids'), p.publishedFile]) fs.rmSync(f, { force: true });
  // ServiceAccount tokens minted for tests and the demo (scripts/kit/chart.ts).
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
