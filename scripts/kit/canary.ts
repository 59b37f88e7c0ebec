/**
 * A bad secret meets a canary, on the real node (issue 25): a fleet of fingerprint-app
 * Deployments that share one secret and refuse readiness unless its value is JSON with
 * `"ok": true` (READY_ONLY_IF_OK, examples/fingerprint-app/server.mjs), one of them the
 * mapping's canary. Shared by the e2e test (e2e/canary-realnode.e2e.test.ts) and the demo
 * (`npm run demo -- --bad-secret`).
 */
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { StackEnvFile } from './context';
import { fingerprintAppManifest } from './realnode';

/** A value the app accepts, and one it refuses (valid JSON, but not "ok"): what a rotation that wrote a wrong password looks like to it. */
export function goodSecretValue(): string {
  return JSON.stringify({ ok: true, password: `good-${randomUUID()}` });
}
export function badSecretValue(): string {
  return JSON.stringify({ ok: false, password: `bad-${randomUUID()}` });
}

export const CANARY_LABEL = { key: 'rollout-role', value: 'canary' };

export interface CanaryFleet {
  /** The fleet's label (`fleet: <name>`): the mapping and the Service select it. */
  name: string;
  canary: string;
  others: string[];
  deployments: k8s.V1Deployment[];
  /** One Service in front of the whole fleet: only ready pods are its endpoints. */
  service: k8s.V1Service;
  /** The mapping's spec: the canary goes first, alone, and has `healthTimeoutSeconds` to become healthy. */
  mappingSpec: Record<string, unknown>;
}

/**
 * `<fleet>-canary` and `<fleet>-0..n-2`: the sample app's Deployment (two replicas,
 * maxUnavailable 0, readiness on /readyz) each, reading `secretId`, in READY_ONLY_IF_OK mode.
 */
export function canaryFleet(env: StackEnvFile, namespace: string, fleet: string, secretId: string, opts: { size?: number; healthTimeoutSeconds?: number } = {}): CanaryFleet {
  const canary = `${fleet}-canary`;
  const others = Array.from({ length: (opts.size ?? 4) - 1 }, (_, i) => `${fleet}-${i}`);
  const deployments = [canary, ...others].map((name) => {
    const dep = fingerprintAppManifest(env, namespace, secretId);
    const labels = { app: name, fleet, ...(name === canary ? { [CANARY_LABEL.key]: CANARY_LABEL.value } : {}) };
    dep.metadata = { ...dep.metadata, name, labels };
    dep.spec!.selector = { matchLabels: { app: name } };
    dep.spec!.template.metadata = { ...dep.spec!.template.metadata, labels: { app: name, fleet } };
    const c = dep.spec!.template.spec!.containers[0];
    c.env = [...(c.env ?? []), { name: 'READY_ONLY_IF_OK', value: 'true' }];
    return dep;
  });
  return {
    name: fleet,
    canary,
    others,
    deployments,
    service: { metadata: { name: fleet, namespace }, spec: { selector: { fleet }, ports: [{ port: 80, targetPort: 8080 as unknown as k8s.IntOrString }] } },
    mappingSpec: {
      secretId,
      selector: { matchLabels: { fleet } },
      workloadKinds: ['Deployment'],
      rollout: { canary: { count: 1, selector: { matchLabels: { [CANARY_LABEL.key]: CANARY_LABEL.value } } }, healthTimeoutSeconds: opts.healthTimeoutSeconds ?? 30 },
    },
  };
}
