/**
 * Whether the API server serves a resource, from its discovery document
 * (`/apis/<group>/<version>`), which every authenticated client may read: no RBAC. The
 * operator asks it before listing a custom resource that may not be installed (Argo
 * Rollouts' Rollout): where its CRD is absent no Rollout exists, so nothing is listed.
 * Asking the group alone would not do: Argo CD serves argoproj.io/v1alpha1 too.
 */
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import type { KubeAgent } from './connections';

export interface ResourceName {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** Whether `resource` is in the discovery document of its group and version. A 404: the group/version is not served at all. */
export async function servesResource(kc: k8s.KubeConfig, agent: KubeAgent, resource: ResourceName, timeoutMs: number): Promise<boolean> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig names no current cluster');
  const url = new URL(`/apis/${resource.group}/${resource.version}`, server);
  const options: { headers: http.OutgoingHttpHeaders } = { headers: { Accept: 'application/json' } };
  // The token (re-read per request in a cluster) or other credentials, as client-node sends them.
  await kc.applyToHTTPSOptions(options);
  const { status, body } = await get(url, { headers: options.headers, agent, signal: AbortSignal.timeout(timeoutMs) });
  if (status === 404) return false;
  if (status !== 200) throw new Error(`discovery of ${resource.group}/${resource.version} answered HTTP ${status}`);
  const resources = (JSON.parse(body) as { resources?: { name?: string }[] }).resources ?? [];
  return resources.some((r) => r.name === resource.plural);
}

function get(url: URL, options: { headers?: http.OutgoingHttpHeaders; agent: KubeAgent; signal: AbortSignal }): Promise<{ status: number; body: string }> {
  const request = url.protocol === 'http:' ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A `served` answer kept for a while: a present resource is taken as present for
 * `presentMaxAgeMs`; an absent one is asked again after `absentMaxAgeMs`, short, so a
 * CRD installed after the operator started is found before a Rollout of it can be
 * missed. Concurrent asks share one request; a failed ask is shared only by those
 * waiting on it. `onChange` hears each change of the answer (the first included).
 */
export class ServedCache {
  private answer?: { at: number; served: boolean };
  private pending?: Promise<boolean>;

  constructor(
    private readonly ask: () => Promise<boolean>,
    private readonly opts: { presentMaxAgeMs: number; absentMaxAgeMs: number; now?: () => number; onChange?: (served: boolean) => void },
  ) {}

  served(): Promise<boolean> {
    const now = (this.opts.now ?? Date.now)();
    const a = this.answer;
    if (a && now - a.at < (a.served ? this.opts.presentMaxAgeMs : this.opts.absentMaxAgeMs)) return Promise.resolve(a.served);
    if (this.pending) return this.pending;
    const p = this.ask().then(
      (served) => {
        if (this.answer?.served !== served) this.opts.onChange?.(served);
        this.answer = { at: (this.opts.now ?? Date.now)(), served };
        this.pending = undefined;
        return served;
      },
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
    this.pending = p;
    return p;
  }

  /** The next ask goes to the API server. */
  forget(): void {
    this.answer = undefined;
  }
}
