import type { SecretChange } from '../../src/events/interpret';
import { normaliseMapping, type Mapping } from '../../src/mappings/model';
import type { Rollout, WorkloadKind, WorkloadState } from '../../src/workloads/workload';
import type { ResolvedChange } from '../../src/rotation/plan';
import { parseSecretId } from '../../src/secrets/secretId';

export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbC123';
export const SECRET_KEY = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app';

export function mapping(name: string, opts: { namespace?: string; secretId?: string; kinds?: WorkloadKind[]; appliedVersion?: string; labels?: Record<string, string> } = {}): Mapping {
  const n = normaliseMapping({
    metadata: { name, namespace: opts.namespace ?? 'ns', uid: `uid-${name}`, generation: 1 },
    spec: { secretId: opts.secretId ?? 'app', selector: { matchLabels: opts.labels ?? { app: name } }, ...(opts.kinds ? { workloadKinds: opts.kinds } : {}) },
  });
  if (!n.ok) throw new Error(JSON.stringify(n.errors));
  return opts.appliedVersion ? { ...n.mapping, appliedVersion: opts.appliedVersion } : n.mapping;
}

export function secretChange(eventId: string, versionId?: string, eventTime = '2025-03-11T09:14:27Z', secret = SECRET_ARN): SecretChange {
  return { kind: 'SecretLabelUpdated', eventId, eventTime, region: 'us-east-1', account: '123456789012', secret: parseSecretId(secret, 'full'), ...(versionId ? { versionId } : {}) };
}

export function resolved(changeId: string, version: string, eventTime?: string): ResolvedChange {
  return { changeId, change: secretChange(`ev-${changeId}`, version, eventTime), secretKey: SECRET_KEY, version };
}

export function workload(name: string, opts: { kind?: WorkloadKind; namespace?: string; rollout?: Rollout; applied?: Record<string, string> } = {}): WorkloadState {
  return { kind: opts.kind ?? 'Deployment', namespace: opts.namespace ?? 'ns', name, rollout: opts.rollout ?? 'Rolling', appliedVersions: opts.applied ?? {} };
}
