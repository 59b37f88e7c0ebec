#!/usr/bin/env node
/**
 * `srm` — `kubectl srm` as a kubectl plugin (docs/rollouts.md, Preview): the imperative
 * shell of the command. It reads the cluster with the user's kubeconfig (their own
 * rights, never the operator's service account), read-only, every request with a
 * deadline, and no AWS access at all; what it answers is answer.ts's, how it is shown
 * render.ts's. Nothing imports this file.
 */
import * as k8s from '@kubernetes/client-node';
import { DEFAULTS } from '../config';
import { DiscoveredSources } from '../discovery/sources';
import { Limiter, withLimit } from '../kube/limit';
import { ServedCache, servesResource, type ResourceName } from '../kube/discovery';
import { kubeAgent, withAgent, type KubeAgent } from '../kube/connections';
import { withTimeout, type KubeApi } from '../kube/timeout';
import { createLogger, errorMessage } from '../core/log';
import { listSelectedWorkloads } from '../mappings/selected';
import { GROUP, PLURAL, VERSION, type LabelSelector, type Mapping, type SecretsRotationMapping } from '../mappings/model';
import { WorkloadClient, type CustomResourceAccess } from '../workloads/adapters';
import { customResourceKinds } from '../workloads/kinds';
import { WORKLOAD_KINDS, type WorkloadState } from '../workloads/workload';
import { matchingSources, previewAnswer, statusAnswer, type Found } from './answer';
import { parseArgs, USAGE, type Command } from './args';
import { renderPreview, renderStatus } from './render';

/** Each request's deadline: the operator's own default (KUBE_REQUEST_TIMEOUT_SECONDS). */
const REQUEST_MS = DEFAULTS.KUBE_REQUEST_TIMEOUT_SECONDS * 1000;
/** Requests in flight at once: a preview over many mappings must not flood the API server. */
const CONCURRENCY = DEFAULTS.MAX_CONCURRENT_API_REQUESTS;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Runs one command; the exit code: 0 answered, 1 the cluster could not be read, 2 bad arguments. */
export async function run(argv: readonly string[], io: Io, kubeConfig?: k8s.KubeConfig): Promise<number> {
  const cmd = parseArgs(argv);
  if (cmd.command === 'help') {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (cmd.command === 'error') {
    io.stderr(`srm: ${cmd.message} (see kubectl srm --help)\n`);
    return 2;
  }
  let kc: k8s.KubeConfig;
  try {
    kc = kubeConfig ?? defaultKubeConfig();
  } catch (err) {
    io.stderr(`srm: cannot read the kubeconfig: ${oneLine(err)}\n`);
    return 1;
  }
  try {
    const cluster = await connect(kc);
    const text = await answer(cmd, cluster);
    io.stdout(`${text}\n`);
    return 0;
  } catch (err) {
    io.stderr(`srm: cannot read the cluster at ${kc.getCurrentCluster()?.server ?? '(no current cluster in the kubeconfig)'}: ${oneLine(err)}\n`);
    return 1;
  }
}

function defaultKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}

interface Cluster {
  readonly custom: k8s.CustomObjectsApi;
  readonly workloads: WorkloadClient;
}

async function connect(kc: k8s.KubeConfig): Promise<Cluster> {
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no current cluster');
  const agent: KubeAgent = await kubeAgent(kc);
  const limiter = new Limiter(CONCURRENCY);
  const client = <T extends KubeApi>(api: T): T => withLimit(withTimeout(withAgent(api, agent), REQUEST_MS), limiter);
  const custom = client(kc.makeApiClient(k8s.CustomObjectsApi));
  // Each custom resource kind of the table (workloads/kinds.ts), asked whether it is served
  // through the operator's own cache; one command's answer does not age.
  const access = (resource: ResourceName): CustomResourceAccess => {
    const served = new ServedCache(() => limiter.run(() => servesResource(kc, agent, resource, REQUEST_MS)), { presentMaxAgeMs: Infinity, absentMaxAgeMs: Infinity });
    return { api: custom, served: () => served.served(), forget: () => served.forget() };
  };
  const workloads = new WorkloadClient(
    client(kc.makeApiClient(k8s.AppsV1Api)),
    Object.fromEntries(customResourceKinds(WORKLOAD_KINDS).map(([kind, resource]) => [kind, access(resource)])),
  );
  return { custom, workloads };
}

async function answer(cmd: Exclude<Command, { command: 'help' | 'error' }>, cluster: Cluster): Promise<string> {
  const mappings = await listMappings(cluster.custom);
  if (cmd.command === 'status') {
    const a = statusAnswer(mappings, cmd);
    return cmd.output === 'json' ? JSON.stringify(a, null, 2) : renderStatus(a);
  }
  const sources = await new DiscoveredSources({ api: cluster.custom, namespaces: [], externalSecrets: true, providerClasses: true, log: createLogger('silent'), maxAgeMs: 0 }).snapshot();
  const found = matchingSources(cmd.secret, mappings, sources);
  const matches = await Promise.all(found.map((f) => withWorkloads(f, cluster.workloads)));
  const a = previewAnswer({ secret: cmd.secret, matches, defaults: { maxConcurrent: cmd.maxConcurrent ?? DEFAULTS.ROLLOUT_MAX_CONCURRENT, windows: cmd.windows ?? [] }, now: new Date() });
  return cmd.output === 'json' ? JSON.stringify(a, null, 2) : renderPreview(a);
}

async function listMappings(api: k8s.CustomObjectsApi): Promise<SecretsRotationMapping[]> {
  try {
    return ((await api.listClusterCustomObject(GROUP, VERSION, PLURAL)).body as { items?: SecretsRotationMapping[] }).items ?? [];
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) throw new Error(`${PLURAL}.${GROUP} is not served: the chart's CRD is not installed in this cluster`);
    throw err;
  }
}

/** A mapping's workloads by its selector (those its canary selector also names apart); a discovered source's, every one of its namespace. */
async function withWorkloads(f: Found, client: WorkloadClient): Promise<Found & { workloads: WorkloadState[]; canaries?: WorkloadState[] }> {
  if (f.mapping.origin) {
    const all = (await Promise.all(WORKLOAD_KINDS.map((kind) => client.list(kind, f.mapping.namespace, '')))).flat();
    return { ...f, workloads: all };
  }
  const canarySelector = f.object?.spec?.rollout?.canary?.selector;
  const [workloads, canaries] = await Promise.all([
    listSelectedWorkloads(client, f.mapping),
    canarySelector ? listSelectedWorkloads(client, { ...f.mapping, selector: both(f.mapping.selector, canarySelector) } satisfies Mapping) : undefined,
  ]);
  return { ...f, workloads, ...(canaries ? { canaries } : {}) };
}

/**
 * Workloads both selectors select: the API server then does the matching, as it does for
 * the operator. b's labels become requirements, so a key both name is not overwritten.
 */
function both(a: LabelSelector, b: LabelSelector): LabelSelector {
  const required = Object.entries(b.matchLabels ?? {}).map(([key, value]) => ({ key, operator: 'In' as const, values: [value] }));
  return { ...(a.matchLabels ? { matchLabels: a.matchLabels } : {}), matchExpressions: [...(a.matchExpressions ?? []), ...required, ...(b.matchExpressions ?? [])] };
}

function oneLine(err: unknown): string {
  const body = (err as { body?: { message?: string } }).body;
  return (body?.message ?? errorMessage(err)).split('\n')[0];
}

if (require.main === module) {
  // client-node's HTTP library calls url.parse: Node's deprecation warning about it would be
  // the only stderr of a good answer, and is nothing the user can act on.
  process.noDeprecation = true;
  void run(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }).then((code) => {
    process.exitCode = code;
  });
}
