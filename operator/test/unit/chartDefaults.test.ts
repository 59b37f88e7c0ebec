/**
 * The chart and the binary state some facts twice: values.yaml's defaults (the chart
 * passes them to the container even when the user sets nothing) and the CRD's
 * workload kinds; the admission policies name the annotations a restart writes. These
 * tests hold each copy to the operator's own source.
 */
import fs from 'node:fs';
import path from 'node:path';
import { load, loadAll } from 'js-yaml';
import { DEFAULTS } from '../../src/config';
import { ALLOWED_SECRET_PREFIXES_ANNOTATION, SOURCE_ROLLOUT_ANNOTATION } from '../../src/core/names';
import { RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION, WORKLOAD_KINDS } from '../../src/workloads/workload';
import { FORCE_SYNC_ANNOTATION } from '../../src/discovery/model';

const CHART = path.join(__dirname, '..', '..', '..', 'charts', 'secrets-rotation-operator');
const read = (file: string) => fs.readFileSync(path.join(CHART, file), 'utf8');

/** Env var → values path, for every `- name: VAR` whose `value:` is `{{ .Values.<path> ... }}` in the Deployment. */
function envToValues(template: string): Map<string, string> {
  const pairs = [...template.matchAll(/- name: ([A-Z_]+)\n\s+value: \{\{ \.Values\.([\w.]+)[ |}]/g)];
  return new Map(pairs.map((m) => [m[1], m[2]]));
}

function at(values: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], values);
}

/** Every schema a property of this name has, anywhere in the document. */
function propertySchemas(node: unknown, name: string): Record<string, unknown>[] {
  if (node === null || typeof node !== 'object') return [];
  const own = (node as { properties?: Record<string, Record<string, unknown>> }).properties?.[name];
  return [...(own ? [own] : []), ...Object.values(node).flatMap((child) => propertySchemas(child, name))];
}

describe("the chart's values.yaml", () => {
  const values = load(read('values.yaml'));
  const mapped = envToValues(read('templates/deployment.yaml'));
  /** DEFAULTS the chart does not pass as a plain value: the Lease's name is the release's full name unless set. */
  const setOtherwise = new Set(['LEASE_NAME']);

  it("defaults every setting it passes to the operator as config.ts's DEFAULTS do", () => {
    const both = Object.keys(DEFAULTS).filter((k) => mapped.has(k));
    expect(both.length).toBeGreaterThanOrEqual(14);
    const chart = Object.fromEntries(both.map((k) => [k, String(at(values, mapped.get(k)!))]));
    const operator = Object.fromEntries(both.map((k) => [k, String(DEFAULTS[k as keyof typeof DEFAULTS])]));
    expect(chart).toEqual(operator);
  });

  it('passes every setting DEFAULTS has (or says why not)', () => {
    expect(Object.keys(DEFAULTS).filter((k) => !mapped.has(k) && !setOtherwise.has(k))).toEqual([]);
  });
});

describe("the CRD's workloadKinds", () => {
  it('allows exactly the WORKLOAD_KINDS the operator has adapters for', () => {
    const schemas = loadAll(read('files/crds/secretsrotationmappings.yaml')).flatMap((doc) => propertySchemas(doc, 'workloadKinds'));
    expect(schemas.length).toBeGreaterThan(0);
    for (const s of schemas) {
      const items = s.items as { enum?: string[] };
      expect({ enum: [...(items.enum ?? [])].sort(), maxItems: s.maxItems }).toEqual({ enum: [...WORKLOAD_KINDS].sort(), maxItems: WORKLOAD_KINDS.length });
    }
  });
});

/** The body of `{{- define "<name>" -}} ... {{- end }}` in _helpers.tpl. */
function helper(name: string): string {
  const m = new RegExp(`\\{\\{- define "${name.replace(/\./g, '\\.')}" -\\}\\}\\n([\\s\\S]*?)\\n\\{\\{- end \\}\\}`).exec(read('templates/_helpers.tpl'));
  if (!m) throw new Error(`_helpers.tpl has no define "${name}"`);
  return m[1];
}

describe("the chart's admission policies", () => {
  it('let the operator write exactly the pod-template annotations a restart writes', () => {
    const annotations = load(helper('sro.restartAnnotations')) as string[];
    expect([...annotations].sort()).toEqual([RESTARTED_AT_ANNOTATION, SECRET_VERSIONS_ANNOTATION].sort());
  });

  it("read the namespace's allowed secret prefixes from the annotation names.ts declares", () => {
    expect(helper('sro.allowedSecretPrefixesAnnotation')).toBe(ALLOWED_SECRET_PREFIXES_ANNOTATION);
  });

  it('let the operator write on an ExternalSecret only the annotation discovery sets', () => {
    expect(helper('sro.esoForceSyncAnnotation')).toBe(FORCE_SYNC_ANNOTATION);
  });

  it("let the operator write on a discovered source the annotation its rollout's record lives in", () => {
    expect(helper('sro.sourceRolloutAnnotation')).toBe(SOURCE_ROLLOUT_ANNOTATION);
  });
});
