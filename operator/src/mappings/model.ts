/**
 * The SecretsRotationMapping API (v1) and its one internal form. Pure.
 * The CRD (charts/secrets-rotation-operator/files/crds/) refuses bad input at the API
 * server; validation here repeats it so objects stored before a CRD upgrade, or a
 * CRD installed without CEL support, still get a clear status instead of a crash.
 */
import type { Origin } from '../core/origin';
import { isRecord } from '../core/json';
import { GROUP } from '../core/names';
import { isValidSecretId, parseSecretId, type SecretRef } from '../secrets/secretId';
import { APPS_KINDS, WORKLOAD_KINDS, type WorkloadKind } from '../workloads/workload';

/** The API group's one home is names.ts (it prefixes the workload annotations too). */
export { GROUP };
export const VERSION = 'v1';
export const PLURAL = 'secretsrotationmappings';
export const KIND = 'SecretsRotationMapping';
export const API_VERSION = `${GROUP}/${VERSION}`;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface SecretsRotationMappingSpec {
  secretId?: string;
  /** Proof-of-concept alias of secretId. */
  SecretID?: string;
  selector?: LabelSelector;
  /** Proof-of-concept alias of selector.matchLabels. */
  Labels?: Record<string, string>;
  workloadKinds?: WorkloadKind[];
  /** Record changes, restart nothing (docs/rollouts.md). */
  suspend?: boolean;
  rollout?: RolloutPolicySpec;
}

/** spec.rollout as the CRD admits it; unset fields take the chart's rollouts.* values. */
export interface RolloutPolicySpec {
  maxConcurrent?: number;
  /** Exactly one of count or percent (the CRD refuses both or neither). */
  canary?: { count?: number; percent?: number; selector?: LabelSelector };
  healthTimeoutSeconds?: number;
  settleSeconds?: number;
  windows?: RestartWindowSpec[];
}

/** A restart window in the shape of Argo CD's sync windows (rollout/windows.ts reads it). */
export interface RestartWindowSpec {
  kind: 'allow' | 'deny';
  /** Cron, 5 fields. */
  schedule: string;
  /** Go-style: 1h, 30m, 1h30m. */
  duration: string;
  /** IANA, or UTC. */
  timeZone: string;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * Restarted: the pods roll now. Deferred: a paused Deployment was stamped; it rolls when
 * resumed. Pending: an OnDelete StatefulSet/DaemonSet was stamped; each pod takes the new
 * version when it is deleted. Skipped: already at the version. WouldRestart: dry run.
 */
export const WORKLOAD_RESULTS = ['Restarted', 'Deferred', 'Pending', 'Skipped', 'Failed', 'WouldRestart'] as const;
export type WorkloadResult = (typeof WORKLOAD_RESULTS)[number];
export interface WorkloadRecord {
  kind: WorkloadKind;
  name: string;
  result: WorkloadResult;
  reason?: string;
}
export interface RotationRecord {
  secretVersion?: string;
  eventId: string;
  eventTime?: string;
  completionTime: string;
  dryRun?: boolean;
  /** How many workloads had each result (every one of them, however many are listed). */
  summary?: Partial<Record<WorkloadResult, number>>;
  /** How many workloads the rotation handled; `workloads` lists at most a bounded number. */
  workloadCount?: number;
  workloads: WorkloadRecord[];
}

export interface SecretsRotationMappingStatus {
  observedGeneration?: number;
  secretId?: string;
  matchedWorkloads?: number;
  appliedVersion?: string;
  lastRotation?: RotationRecord;
  conditions?: Condition[];
  /**
   * The rollout of the last change: the rollout engine's record (rollout/engine.ts,
   * RolloutRecord) and its summary. Kept loose here, read back through a check
   * (rotation/rolloutState.ts): a hand-edited status must not stop the operator.
   */
  rollout?: Readonly<Record<string, unknown>>;
}

/** A JSON merge patch of the status: null removes a field (a version recorded for another secret). */
export type SecretsRotationMappingStatusPatch = Omit<SecretsRotationMappingStatus, 'appliedVersion'> & { appliedVersion?: string | null };

export interface SecretsRotationMapping {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: SecretsRotationMappingSpec;
  status?: SecretsRotationMappingStatus;
}

/** The one internal form every other module works with. */
export interface Mapping {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly secret: SecretRef;
  readonly selector: LabelSelector;
  readonly workloadKinds: readonly WorkloadKind[];
  /** From status: the version the mapping's workloads are known to run (drift recovery's baseline). */
  readonly appliedVersion?: string;
  /**
   * From status: when `appliedVersion` became current, as far as known (the time of the
   * change that brought it, lastRotation.eventTime; unknown for a baseline). Orders it
   * against a version Secrets Manager reads back (secrets/versionOrder.ts).
   */
  readonly appliedSince?: string;
  /**
   * Set for what discovery found (discovery/model.ts): an ExternalSecret or a
   * SecretProviderClass planned as a mapping. It has no status of its own; it selects the
   * workloads whose pod template consumes it, and its Events go on its object.
   */
  readonly origin?: Origin;
}

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export type Normalised =
  | { readonly ok: true; readonly mapping: Mapping }
  | { readonly ok: false; readonly key: string; readonly errors: readonly FieldError[] };

export function mappingKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const OPERATORS: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/**
 * `served`: the kinds this operator serves (workloads/workload.ts servedKinds): a
 * mapping without workloadKinds means them all; one naming a kind outside them is
 * refused, so its status says why instead of the kind being skipped in silence. The
 * default is the operator's own default (Argo Rollouts support off).
 */
export function normaliseMapping(obj: SecretsRotationMapping, served: readonly WorkloadKind[] = APPS_KINDS): Normalised {
  const namespace = obj.metadata?.namespace ?? '';
  const name = obj.metadata?.name ?? '';
  const key = mappingKey(namespace, name);
  const errors: FieldError[] = [];
  const spec = isRecord(obj.spec) ? (obj.spec as SecretsRotationMappingSpec) : undefined;
  if (!namespace || !name) errors.push({ field: 'metadata', message: 'name and namespace are required' });
  if (!spec) {
    errors.push({ field: 'spec', message: 'is required' });
    return { ok: false, key, errors };
  }

  const secretId = pickAlias(spec, 'secretId', 'SecretID', errors);
  if (secretId !== undefined && !isValidSecretId(secretId)) {
    errors.push({
      field: spec.secretId !== undefined ? 'spec.secretId' : 'spec.SecretID',
      message: 'must be a Secrets Manager secret name or ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
    });
  }

  const selector = normaliseSelector(spec, errors);
  const workloadKinds = normaliseKinds(spec.workloadKinds, served, errors);

  if (errors.length > 0 || secretId === undefined || selector === undefined) return { ok: false, key, errors };
  return {
    ok: true,
    mapping: {
      key,
      namespace,
      name,
      uid: obj.metadata.uid ?? '',
      generation: obj.metadata.generation ?? 0,
      secret: parseSecretId(secretId),
      selector,
      workloadKinds,
    },
  };
}

function pickAlias(spec: SecretsRotationMappingSpec, field: 'secretId', alias: 'SecretID', errors: FieldError[]): string | undefined {
  const value = spec[field];
  const legacy = spec[alias];
  if (value !== undefined && legacy !== undefined) {
    errors.push({ field: `spec.${field}`, message: `set spec.${field} or the legacy spec.${alias}, not both` });
    return undefined;
  }
  const chosen = value ?? legacy;
  const where = value !== undefined ? field : alias;
  if (chosen === undefined) {
    errors.push({ field: `spec.${field}`, message: `is required (or the legacy spec.${alias})` });
    return undefined;
  }
  if (typeof chosen !== 'string' || chosen === '') {
    errors.push({ field: `spec.${where}`, message: 'must be a non-empty string' });
    return undefined;
  }
  return chosen;
}

function normaliseSelector(spec: SecretsRotationMappingSpec, errors: FieldError[]): LabelSelector | undefined {
  if (spec.selector !== undefined && spec.Labels !== undefined) {
    errors.push({ field: 'spec.selector', message: 'set spec.selector or the legacy spec.Labels, not both' });
    return undefined;
  }
  if (spec.selector === undefined && spec.Labels === undefined) {
    errors.push({ field: 'spec.selector', message: 'is required (or the legacy spec.Labels)' });
    return undefined;
  }
  const field = spec.selector !== undefined ? 'spec.selector' : 'spec.Labels';
  const raw: unknown = spec.selector ?? { matchLabels: spec.Labels };
  if (!isRecord(raw)) {
    errors.push({ field, message: 'must be an object' });
    return undefined;
  }
  const before = errors.length;
  const matchLabels = raw.matchLabels;
  const matchExpressions = raw.matchExpressions;
  const labelsField = field === 'spec.Labels' ? field : `${field}.matchLabels`;
  if (matchLabels !== undefined) {
    if (!isRecord(matchLabels)) errors.push({ field: labelsField, message: 'must be a map of label keys to values' });
    else
      for (const [k, v] of Object.entries(matchLabels)) {
        if (!LABEL_KEY.test(k)) errors.push({ field: `${labelsField}`, message: `${JSON.stringify(k)} is not a valid label key` });
        if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
          errors.push({ field: `${labelsField}.${k}`, message: `${JSON.stringify(v)} is not a valid label value` });
        }
      }
  }
  if (matchExpressions !== undefined) {
    if (!Array.isArray(matchExpressions)) errors.push({ field: `${field}.matchExpressions`, message: 'must be a list' });
    else matchExpressions.forEach((e, i) => checkRequirement(e, `${field}.matchExpressions[${i}]`, errors));
  }
  const count = (isRecord(matchLabels) ? Object.keys(matchLabels).length : 0) + (Array.isArray(matchExpressions) ? matchExpressions.length : 0);
  if (errors.length === before && count === 0) {
    errors.push({ field, message: 'must not be empty: an empty selector would match every workload in the namespace' });
  }
  if (errors.length > before) return undefined;
  return {
    ...(isRecord(matchLabels) && Object.keys(matchLabels).length > 0 ? { matchLabels: { ...(matchLabels as Record<string, string>) } } : {}),
    ...(Array.isArray(matchExpressions) && matchExpressions.length > 0 ? { matchExpressions: matchExpressions as LabelSelectorRequirement[] } : {}),
  };
}

function checkRequirement(e: unknown, field: string, errors: FieldError[]): void {
  if (!isRecord(e)) {
    errors.push({ field, message: 'must be an object' });
    return;
  }
  if (typeof e.key !== 'string' || !LABEL_KEY.test(e.key)) errors.push({ field: `${field}.key`, message: 'must be a valid label key' });
  if (typeof e.operator !== 'string' || !OPERATORS.includes(e.operator)) {
    errors.push({ field: `${field}.operator`, message: `must be one of ${OPERATORS.join(', ')}` });
    return;
  }
  const values = e.values;
  const hasValues = Array.isArray(values) && values.length > 0;
  if ((e.operator === 'In' || e.operator === 'NotIn') && !hasValues) {
    errors.push({ field: `${field}.values`, message: `must not be empty for operator ${e.operator}` });
  }
  if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && hasValues) {
    errors.push({ field: `${field}.values`, message: `must be empty for operator ${e.operator}` });
  }
  if (values !== undefined && (!Array.isArray(values) || values.some((v) => typeof v !== 'string' || !LABEL_VALUE.test(v)))) {
    errors.push({ field: `${field}.values`, message: 'must be a list of valid label values' });
  }
}

function normaliseKinds(kinds: unknown, served: readonly WorkloadKind[], errors: FieldError[]): readonly WorkloadKind[] {
  if (kinds === undefined) return served;
  if (!Array.isArray(kinds) || kinds.length === 0) {
    errors.push({ field: 'spec.workloadKinds', message: `must be a non-empty list of ${WORKLOAD_KINDS.join(', ')}` });
    return served;
  }
  const bad = kinds.filter((k) => !(WORKLOAD_KINDS as readonly unknown[]).includes(k));
  if (bad.length > 0) {
    errors.push({ field: 'spec.workloadKinds', message: `unsupported kind ${JSON.stringify(bad[0])}; supported: ${WORKLOAD_KINDS.join(', ')}` });
  }
  const unserved = WORKLOAD_KINDS.filter((k) => kinds.includes(k) && !served.includes(k));
  if (unserved.length > 0) {
    errors.push({ field: 'spec.workloadKinds', message: `${unserved.join(', ')} is not served by this operator: its Argo Rollouts support is off (chart value argoRollouts.enabled, ARGO_ROLLOUTS_ENABLED)` });
  }
  // Keep the table's order so plans are deterministic whatever order the user wrote.
  return served.filter((k) => kinds.includes(k));
}

/** The selector in the API server's `labelSelector` query syntax. */
export function selectorToQuery(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/**
 * The version the mapping's workloads are known to run, if the status holds one for
 * `secretId` (the spec's secret): a version recorded while the mapping named another
 * secret does not count. Pure.
 */
export function appliedVersionOf(status: SecretsRotationMappingStatus | undefined, secretId: string): string | undefined {
  return status?.appliedVersion && (status.secretId === undefined || status.secretId === secretId) ? status.appliedVersion : undefined;
}
