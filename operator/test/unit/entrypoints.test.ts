/**
 * The project's entry points as a newcomer and CI meet them: the README's two commands,
 * the npm scripts behind them (each on the pinned Node, the two that start from nothing
 * through the one setup script), `.ci/run`, and which tools the stack builds.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readVersions, stackToolFamilies } from '../../../scripts/stack/paths';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
const WITH_NODE = 'bash scripts/toolchain/with-node.sh ';

/** The commands of the README's "Two commands" block, comments left out. */
function readmeCommands(): string[] {
  const section = /^## Two commands\n([\s\S]*?)^## /m.exec(read('README.md'))?.[1] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
}

describe("the README's two commands", () => {
  it('are two: the demo (after npm ci) and the test suite, nothing to source first', () => {
    expect(readmeCommands()).toEqual(['npm ci && npm run demo', 'npm test']);
  });

  it('.ci/run runs the second as written, and nothing else runs the suite there', () => {
    const lines = read('.ci/run')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => !l.startsWith('#'));
    expect(lines).toContain(readmeCommands()[1]);
    expect(lines.filter((l) => /\bnpm (test|run test)/.test(l))).toEqual(['npm test']);
  });

  it('both start with the one setup script, each with its profile', () => {
    expect(scripts.demo.startsWith('bash scripts/setup.sh demo && ')).toBe(true);
    expect(scripts['stack:up'].startsWith('bash scripts/setup.sh demo && ')).toBe(true);
    expect(scripts.test.startsWith('bash scripts/setup.sh test && ')).toBe(true);
  });
});

describe('every npm script runs on the pinned Node', () => {
  // npm itself runs on whatever node the machine has; only a command started through
  // with-node.sh is on the pinned one. `npm run x` is x's own script, checked here too.
  const launcherOnly = (step: string): boolean => /^(npm run \S+|git .*|bash scripts\/setup\.sh \S+)$/.test(step);
  for (const [name, script] of Object.entries(scripts)) {
    it(name, () => {
      const steps = script.split('&&').map((s) => s.trim());
      const unwrapped = steps.filter((s) => !launcherOnly(s) && !s.startsWith(WITH_NODE));
      expect(unwrapped).toEqual([]);
    });
  }
});

describe('with-node.sh', () => {
  it("runs the command on the pinned node, even where the machine's node comes first on PATH", () => {
    const pinnedBin = execFileSync('bash', [path.join(ROOT, 'scripts/toolchain/node.sh')], { encoding: 'utf8' }).trim();
    const machineFirst = ['/usr/local/bin', '/usr/bin', pinnedBin, process.env.PATH ?? ''].join(path.delimiter);
    const version = execFileSync('bash', [path.join(ROOT, 'scripts/toolchain/with-node.sh'), 'node', '-p', 'process.version'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: machineFirst },
    }).trim();
    expect(version).toBe(`v${readVersions().NODE_VERSION}`);
  });
});

describe('what the stack builds (the demo, stack:up and the e2e/faults setups)', () => {
  it('control plane, kwok, helm and the registry; the kubelet only for a real node', () => {
    expect(stackToolFamilies({ realNode: true })).toEqual(['etcd', 'k8s', 'kubelet', 'kwok', 'helm', 'registry']);
    expect(stackToolFamilies({ realNode: false })).toEqual(['etcd', 'k8s', 'kwok', 'helm', 'registry']);
  });

  it('none of the tools only some suites use: those build on first use', () => {
    for (const realNode of [true, false]) {
      for (const lazy of ['eso', 'argo-rollouts', 'promtool', 'elasticmq', 'helm-unittest'] as const) {
        expect(stackToolFamilies({ realNode })).not.toContain(lazy);
      }
    }
  });
});
