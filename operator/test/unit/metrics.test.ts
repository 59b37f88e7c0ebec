/** The operator's own metrics beyond what the rules read: its build, and the process metrics' names. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { METRIC_PREFIX, createMetrics } from '../../src/core/metrics';
import { operatorVersion, releaseVersion } from '../../src/version';

const REPO_ROOT = path.join(__dirname, '..', '..', '..');

describe('build_info', () => {
  it('is one series of value 1 naming the version and the Node.js version', async () => {
    const m = createMetrics(false, { version: '1.2.3-rc.1', nodeVersion: 'v24.1.0' });
    const text = await m.registry.metrics();
    expect(text).toContain(`# TYPE ${METRIC_PREFIX}build_info gauge`);
    expect(text.split('\n').filter((l) => l.startsWith(`${METRIC_PREFIX}build_info`))).toEqual([`${METRIC_PREFIX}build_info{version="1.2.3-rc.1",node_version="v24.1.0"} 1`]);
  });

  it("carries package.json's version, read from the package.json the operator ships with", () => {
    expect(operatorVersion()).toBe(releaseVersion(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')));
  });
});

describe('operatorVersion', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-version-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("takes the nearest package.json named like the operator, passing over another package's", () => {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'secrets-rotation-operator', version: '2.0.1' }));
    fs.mkdirSync(path.join(dir, 'dist', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist', 'package.json'), JSON.stringify({ name: 'something-else', version: '9.9.9' }));
    expect(operatorVersion(path.join(dir, 'dist', 'sub'))).toBe('2.0.1');
  });

  it('fails naming what it looked for when there is none, and refuses a version that is not SemVer', () => {
    expect(() => operatorVersion(dir)).toThrow(`no package.json named secrets-rotation-operator at or above ${dir}`);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'secrets-rotation-operator', version: 'v1' }));
    expect(() => operatorVersion(dir)).toThrow('package.json: "version" must be a SemVer 2 version such as 1.2.3, got "v1"');
  });
});

describe("Node.js process metrics", () => {
  it("carry prom-client's standard names, which the generic Node.js dashboards read, not the operator's prefix", async () => {
    const families = [...(await createMetrics().registry.metrics()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(families).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_version_info']));
    expect(families.filter((f) => f.startsWith(`${METRIC_PREFIX}process_`) || f.startsWith(`${METRIC_PREFIX}nodejs_`))).toEqual([]);
  });
});
