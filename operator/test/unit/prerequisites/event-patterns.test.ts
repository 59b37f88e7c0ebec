import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  PATTERNS_PATH,
  TEMPLATE_PATH,
  loadPatterns,
  readTemplatePatterns,
  renderTemplate,
} from '../../../../scripts/aws/sync-event-pattern';

const FIXTURES = path.resolve(__dirname, '../../fixtures/events');

interface ManifestEntry {
  file: string;
  outcome: 'change' | 'not-a-change' | 'parse-error';
  reason: string;
  secretId: string | null;
  secretIdForm: 'name' | 'partial-arn' | 'full-arn' | null;
  versionId: string | null;
  routed: { default: boolean; withCloudTrail: boolean } | null;
}

const manifest: ManifestEntry[] = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));
const template = readFileSync(TEMPLATE_PATH, 'utf8');

describe('EventBridge patterns: scripts/event-patterns.json is the one source', () => {
  it('cloudformation.yaml carries exactly the patterns of event-patterns.json', () => {
    expect(readTemplatePatterns(template)).toEqual(loadPatterns(PATTERNS_PATH));
  });

  it('cloudformation.yaml is as sync-event-pattern --write would write it', () => {
    expect(renderTemplate(template, loadPatterns())).toBe(template);
  });

  it('the CloudTrail pattern still routes everything the default pattern routes', () => {
    const { default: native, withCloudTrail } = loadPatterns();
    const { source, ...nativeRest } = native;
    expect(withCloudTrail.source).toEqual(source);
    expect(withCloudTrail.$or).toContainEqual(nativeRest);
  });

  it('refuses a template whose markers are missing', () => {
    expect(() => readTemplatePatterns('Resources: {}\n')).toThrow(/missing: default, withCloudTrail/);
  });
});

describe('event fixtures and their manifest', () => {
  const files = readdirSync(FIXTURES).filter((f) => !['README.md', 'manifest.json'].includes(f));

  it('lists every fixture file exactly once', () => {
    expect(manifest.map((e) => e.file).sort()).toEqual([...files].sort());
  });

  it('contains no secret value anywhere', () => {
    for (const f of files) {
      expect(readFileSync(path.join(FIXTURES, f), 'utf8')).not.toMatch(/secretstring|secretbinary/i);
    }
  });

  it.each(manifest.filter((e) => e.file.endsWith('.json')).map((e) => e.file))('%s is valid JSON', (file) => {
    expect(() => JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8'))).not.toThrow();
  });

  it('gives a secret id to every change', () => {
    for (const e of manifest.filter((m) => m.outcome === 'change')) {
      expect({ file: e.file, secretId: e.secretId }).toEqual({ file: e.file, secretId: expect.any(String) });
    }
  });

  // The e2e test (e2e/prerequisites.e2e.test.ts) checks `routed` against moto's
  // EventBridge; these pin that `routed` is what docs/architecture.md asks of the rule.
  it('routes every change that is an EventBridge event with the CloudTrail pattern', () => {
    const unrouted = manifest.filter((e) => e.outcome === 'change' && e.routed && !e.routed.withCloudTrail);
    expect(unrouted.map((e) => e.file)).toEqual([]);
  });

  it('routes no non-change with the default pattern', () => {
    const routed = manifest.filter((e) => e.outcome !== 'change' && e.routed?.default);
    expect(routed.map((e) => e.file)).toEqual([]);
  });

  it('routes the native AWSCURRENT event with the default pattern', () => {
    expect(manifest.find((e) => e.file === 'native-label-updated-awscurrent.json')?.routed).toEqual({
      default: true,
      withCloudTrail: true,
    });
  });
});
