/**
 * The single file a user downloads (docs/rollouts.md, Preview): `npm run build:cli` as
 * package.json says it, run from a directory with no node_modules, needs only Node.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const OUT = 'dist/kubectl-srm.js';

describe('the kubectl-srm single-file build', () => {
  it('is package.json’s build:cli, and the file runs alone on Node', () => {
    const script = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['build:cli'];
    expect(script).toContain(`--outfile=${OUT}`);
    const alone = fs.mkdtempSync(path.join(os.tmpdir(), 'srm-bundle-'));
    const file = path.join(alone, 'kubectl-srm');
    const args = script.replace(/^bash scripts\/toolchain\/with-node\.sh esbuild /, '').replace(`--outfile=${OUT}`, `--outfile=${file}`).split(' ');
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'esbuild'), args, { cwd: ROOT });
    fs.chmodSync(file, 0o755);
    const help = spawnSync(file, ['--help'], { cwd: alone, encoding: 'utf8', env: { PATH: path.dirname(process.execPath) } });
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: kubectl srm/);
    const bad = spawnSync(file, ['status', 'a', 'b'], { cwd: alone, encoding: 'utf8', env: { PATH: path.dirname(process.execPath) } });
    expect({ status: bad.status, stderr: bad.stderr }).toEqual({ status: 2, stderr: 'srm: status takes at most one mapping, got a second: "b" (see kubectl srm --help)\n' });
    fs.rmSync(alone, { recursive: true, force: true });
  }, 60_000);
});
