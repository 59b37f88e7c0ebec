/** The sample manifests of examples/ and small helpers the demo's steps share. */
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { formatFieldErrors, KIND, normaliseMapping, selectorToQuery, type SecretsRotationMapping } from '../../operator/src/mappings/model';
import { REPO_ROOT } from '../stack';
import { headerCells, rowCells, shownColumns, type Table } from './kubeTable';
import { prettyLogLine, type LogLine } from './operatorLog';
import { columns, dim, output, println } from './ui';
import { EXAMPLE_FILES } from './state';

// ------------------------------------------------------------------ small helpers

export function statusCode(err: unknown): number | undefined {
  const e = err as { statusCode?: number; response?: { statusCode?: number } };
  return e?.statusCode ?? e?.response?.statusCode;
}

export async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (err) {
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

/** kubectl's name for an object: `deployment.apps/operatortest`. */
export function resourceName(o: k8s.KubernetesObject): string {
  const group = o.apiVersion?.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
  return `${o.kind!.toLowerCase()}${group}`;
}

export function printTable(t: Table<unknown>): void {
  const cols = shownColumns(t);
  const rows = t.rows ?? [];
  if (rows.length === 0) return output('No resources found.');
  output(columns([headerCells(t, cols), ...rows.map((r) => rowCells(r, cols))]).lines.join('\n'));
}

/** A manifest of examples/, its namespace filled in as kubectl would. */
type Manifest = k8s.KubernetesObject & { metadata: { name: string; namespace: string } };

/** The sample manifests and what they name. */
export interface Samples {
  docs: Manifest[];
  namespace: string;
  deployment: string;
  mapping: string;
  secretName: string;
  selector: string;
}

export function readSamples(): Samples {
  const docs = EXAMPLE_FILES.flatMap((f) => k8s.loadAllYaml(fs.readFileSync(path.join(REPO_ROOT, f), 'utf8')) as k8s.KubernetesObject[])
    .filter((d) => d?.kind)
    .map((d): Manifest => ({ ...d, metadata: { ...d.metadata, name: d.metadata?.name ?? '', namespace: d.metadata?.namespace ?? 'default' } }));
  const deployment = docs.find((d) => d.kind === 'Deployment');
  const mapping = docs.find((d) => d.kind === KIND) as SecretsRotationMapping | undefined;
  if (!deployment || !mapping) throw new Error(`${EXAMPLE_FILES.join(' and ')} must hold a Deployment and a ${KIND}`);
  const n = normaliseMapping(mapping);
  if (!n.ok) throw new Error(`${EXAMPLE_FILES[1]}: ${formatFieldErrors(n.errors)}`);
  return {
    docs,
    namespace: n.mapping.namespace,
    deployment: deployment.metadata.name,
    mapping: n.mapping.name,
    secretName: n.mapping.secret.raw,
    selector: selectorToQuery(n.mapping.selector),
  };
}

export function printOperatorLine(l: LogLine): void {
  if (l.level !== 'debug') println(`${dim('[operator]')} ${prettyLogLine(l)}`);
}
