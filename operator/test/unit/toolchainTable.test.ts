/**
 * scripts/toolchain/families.txt is the toolchain's one table: build.sh loops over its
 * rows and paths.ts reads its outputs. These tests read the real file (and ask build.sh
 * how it reads it: `--print-table` builds nothing), so a bad row fails here, not in a
 * 20-minute cold build.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  parseToolTable,
  readToolTable,
  readVersions,
  REPO_ROOT,
  SUITE_TOOL_FAMILIES,
  stackToolFamilies,
  TOOL_TABLE_COLUMNS,
  TOOL_TABLE_FILE,
  TOOLCHAIN_SCRIPT,
  toolchainPathsFromEnv,
  type ToolchainPaths,
  type ToolRow,
} from '../../../scripts/stack/paths';

/** What is wrong with a row; [] when nothing. */
function rowProblems(row: ToolRow, versions: Record<string, string>): string[] {
  const problems: string[] = [];
  const maven = row.cells.hooks.split(/\s+/).includes('maven');
  const required = TOOL_TABLE_COLUMNS.filter((c) => !['tags', 'ldflags', 'check', 'hooks'].includes(c) && !(maven && c === 'builds'));
  for (const c of required) if (row.cells[c] === '') problems.push(`${row.family}: column "${c}" is empty`);
  if (!versions[row.versionKey]) problems.push(`${row.family}: version key ${row.versionKey} is not in versions.env`);
  for (const [, key] of Object.values(row.cells).join(' ').matchAll(/\$\{(\w+)(?:#v)?\}/g)) {
    // build.sh derives K8S_* and HELM_K8S_* from KUBERNETES_VERSION; --print-table proves they resolve.
    if (!versions[key] && !/^(K8S|HELM_K8S)_/.test(key)) problems.push(`${row.family}: \${${key}} is not in versions.env`);
  }
  if (!maven && !fs.existsSync(path.join(path.dirname(TOOL_TABLE_FILE), row.family, 'go.mod'))) problems.push(`${row.family}: no scripts/toolchain/${row.family}/go.mod`);
  return problems;
}

describe('families.txt, the toolchain table', () => {
  const table = readToolTable();

  it('has one row per family, each with every column, a version in versions.env and its Go module', () => {
    const versions = readVersions();
    expect(table.length).toBeGreaterThan(0);
    expect(new Set(table.map((r) => r.family)).size).toBe(table.length);
    expect(table.flatMap((r) => rowProblems(r, versions))).toEqual([]);
  });

  it('is read by build.sh as paths.ts reads it, every ${KEY} resolved', () => {
    const printed = execFileSync('bash', [TOOLCHAIN_SCRIPT, '--print-table'], { encoding: 'utf8', timeout: 30_000 });
    const rows = printed.trimEnd().split('\n').map((line) => line.split('|'));
    expect(rows.map((r) => [r[0], r[1], r[2], r[9]])).toEqual(table.map((r) => [r.family, r.cells['needed by'], r.versionKey, r.cells.outputs]));
    expect(printed).not.toContain('${');
  });

  it("gives every ToolchainPaths field from a row's output, and every output a field", () => {
    // Exhaustive over the interface: a field added without a row (or the reverse) fails.
    const fields: Record<Exclude<keyof ToolchainPaths, 'cacheDir' | 'kubernetesVersion' | 'raw'>, true> = {
      etcd: true, kubeApiserver: true, kubeControllerManager: true, kubeScheduler: true, kubelet: true, kwok: true, helm: true,
      helmPlugins: true, helmUnittest: true, elasticmqClasspath: true, eso: true, esoCrdsDir: true, promtool: true, registry: true,
      argoRolloutsController: true, argoRolloutsCrdsDir: true,
    };
    const outputs = table.flatMap((r) => r.outputs);
    expect(outputs.map((o) => o.field).sort()).toEqual(Object.keys(fields).sort());

    const raw = Object.fromEntries([['TOOLCHAIN_CACHE_DIR', '/cache'], ['KUBERNETES_VERSION', 'v1.2.3'], ...outputs.map((o) => [o.env, `/cache/x/${o.path}`])]);
    const paths = toolchainPathsFromEnv(raw, table) as unknown as Record<string, unknown>;
    for (const o of outputs) expect([o.field, paths[o.field]]).toEqual([o.field, `/cache/x/${o.path}`]);
    expect([paths.cacheDir, paths.kubernetesVersion]).toEqual(['/cache', 'v1.2.3']);
  });

  it('names what each entry point builds: stack:up, the suites, and test-chart.sh', () => {
    const neededBy = (n: string) => table.filter((r) => r.neededBy.includes(n as never)).map((r) => r.family);
    expect(stackToolFamilies({ realNode: false })).toEqual(neededBy('stack'));
    expect(stackToolFamilies({ realNode: true })).toEqual(table.filter((r) => r.neededBy.some((n) => n === 'stack' || n === 'real-node')).map((r) => r.family));
    expect(SUITE_TOOL_FAMILIES).toEqual(neededBy('suite'));
    const chartOnly = /build\.sh --print-env --only (\S+)\)/.exec(fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'test-chart.sh'), 'utf8'))?.[1];
    expect(chartOnly?.split(',')).toEqual(neededBy('chart'));
  });

  it('refuses a row that lacks a column, naming it', () => {
    const good = fs.readFileSync(TOOL_TABLE_FILE, 'utf8');
    const promtool = good.split('\n').find((l) => l.startsWith('promtool '))!;
    const short = promtool.slice(0, promtool.lastIndexOf('|'));
    expect(() => parseToolTable(good.replace(promtool, short))).toThrow(/families\.txt: 10 columns where 11 are expected .*: promtool /);
  });
});
