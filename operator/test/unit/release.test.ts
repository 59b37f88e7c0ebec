/**
 * One release version (package.json's) for the chart and both images, and Chart.yaml's
 * Artifact Hub annotations held to the files they describe.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { APP_DEPLOYMENT, CHART_YAML, SITES, releaseVersion, versionMismatches, withVersion } from '../../../scripts/version';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CHART = path.dirname(CHART_YAML);
const read = (file: string): string => fs.readFileSync(file, 'utf8');
const texts = (): Record<string, string> => ({ [CHART_YAML]: read(CHART_YAML), [APP_DEPLOYMENT]: read(APP_DEPLOYMENT) });

describe("the release version is package.json's", () => {
  const version = releaseVersion();

  it('every copy helm and kubectl read states it (Chart.yaml version, appVersion, image annotation; the sample app tag)', () => {
    expect(new Set(SITES.map((s) => s.file))).toEqual(new Set([CHART_YAML, APP_DEPLOYMENT]));
    expect(versionMismatches(texts(), version)).toEqual([]);
  });

  it('the image build tags with it', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'image', 'build.sh'), '--print-version'], { encoding: 'utf8' });
    expect({ status: r.status, stdout: r.stdout.trim() }).toEqual({ status: 0, stdout: version });
  });

  it('a copy that differs is named, with both versions', () => {
    const t = texts();
    t[CHART_YAML] = t[CHART_YAML].replace(/^appVersion: .*$/m, 'appVersion: "9.9.9"');
    expect(versionMismatches(t, version)).toEqual([`charts/secrets-rotation-operator/Chart.yaml appVersion is 9.9.9, package.json's version is ${version}`]);
    t[APP_DEPLOYMENT] = t[APP_DEPLOYMENT].replace(/fingerprint-app:\S+/, 'fingerprint-app');
    expect(versionMismatches(t, version)).toContain('examples/fingerprint-app/deployment.yaml has no image tag');
  });

  it('withVersion rewrites every copy and nothing else', () => {
    const before = texts();
    const after = Object.fromEntries(Object.entries(before).map(([f, t]) => [f, withVersion(f, t, '2.3.4-rc.1')]));
    expect(versionMismatches(after, '2.3.4-rc.1')).toEqual([]);
    for (const file of Object.keys(before)) {
      const changed = after[file].split('\n').filter((line, i) => line !== before[file].split('\n')[i]);
      expect(changed.length).toBe(SITES.filter((s) => s.file === file).length);
    }
  });

  it('refuses a package.json version that is not SemVer', () => {
    expect(() => releaseVersion('{"version":"v1"}')).toThrow('package.json: "version" must be a SemVer 2 version such as 1.2.3, got "v1"');
  });

  it('`npm version` rewrites the copies (the version lifecycle script)', () => {
    const pkg = JSON.parse(read(path.join(ROOT, 'package.json'))) as { scripts: Record<string, string> };
    expect(pkg.scripts.version).toBe('bash scripts/toolchain/with-node.sh tsx scripts/version.ts --write && git add charts/secrets-rotation-operator/Chart.yaml examples/fingerprint-app/deployment.yaml');
  });
});

describe("Chart.yaml's Artifact Hub annotations", () => {
  const chart = load(read(CHART_YAML)) as { appVersion: string; annotations: Record<string, string> };
  const annotation = (key: string): unknown => load(chart.annotations[key]);

  it('list the CRD that the chart ships (files/crds/, rendered by templates/crd.yaml)', () => {
    const crd = load(read(path.join(CHART, 'files', 'crds', 'secretsrotationmappings.yaml'))) as {
      metadata: { name: string };
      spec: { names: { kind: string }; versions: { name: string }[] };
    };
    expect((annotation('artifacthub.io/crds') as Record<string, string>[]).map(({ kind, version, name }) => ({ kind, version, name }))).toEqual(
      crd.spec.versions.map((v) => ({ kind: crd.spec.names.kind, version: v.name, name: crd.metadata.name })),
    );
  });

  it("show the example mapping of examples/ as it is", () => {
    const example = load(read(path.join(ROOT, 'examples', 'secretsrotationmapping.yaml')));
    expect(annotation('artifacthub.io/crdsExamples')).toEqual([example]);
  });

  it("name the image the chart's defaults run", () => {
    const values = load(read(path.join(CHART, 'values.yaml'))) as { image: { repository: string; tag: string } };
    expect(values.image.tag).toBe('');
    expect(annotation('artifacthub.io/images')).toEqual([{ name: 'secrets-rotation-operator', image: `${values.image.repository}:${chart.appVersion}` }]);
  });

  it("name it by a reference a scanner or a node can resolve: a registry host, and the project's own path there", () => {
    const values = load(read(path.join(CHART, 'values.yaml'))) as { image: { repository: string } };
    const { home } = load(read(CHART_YAML)) as { home: string };
    // A bare name (`secrets-rotation-operator`) means docker.io/library/…, an official image this project is not.
    expect(values.image.repository).toBe(`ghcr.io/${new URL(home).pathname.slice(1)}`);
  });
  it('say what the package is', () => {
    const pkg = JSON.parse(read(path.join(ROOT, 'package.json'))) as { license: string };
    expect(chart.annotations).toMatchObject({ 'artifacthub.io/license': pkg.license, 'artifacthub.io/operator': 'true', 'artifacthub.io/operatorCapabilities': 'Basic Install' });
  });
});

describe("Chart.yaml's metadata", () => {
  const chart = load(read(CHART_YAML)) as { home: string; sources: string[]; maintainers: { name: string; url?: string; email?: string }[]; icon: string; kubeVersion: string };

  it('says where the project lives, where its source is and who keeps it', () => {
    expect(chart.home).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    expect(chart.sources).toEqual([chart.home]);
    expect(chart.maintainers.length).toBeGreaterThan(0);
    for (const m of chart.maintainers) expect(m).toEqual({ name: expect.stringMatching(/\S/), url: chart.home });
  });

  it("has an icon that is a file of the repository, served from home's raw content", () => {
    const raw = `${chart.home.replace('https://github.com/', 'https://raw.githubusercontent.com/')}/main/`;
    expect(chart.icon.startsWith(raw)).toBe(true);
    expect(fs.existsSync(path.join(ROOT, chart.icon.slice(raw.length)))).toBe(true);
  });

  it('kubeVersion admits only clusters that serve the default admission policy (ValidatingAdmissionPolicy v1: Kubernetes 1.30)', () => {
    const values = load(read(path.join(CHART, 'values.yaml'))) as { admissionPolicies: { restartOnly: { enabled: boolean } } };
    expect(values.admissionPolicies.restartOnly.enabled).toBe(true);
    expect(chart.kubeVersion).toBe('>=1.30.0-0');
  });
});
