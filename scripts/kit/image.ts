/**
 * The images `npm run image` builds (scripts/image/build.sh), and podman with the
 * same image store and settings (scripts/image/env.sh). Building is cached: a warm
 * run only re-checks the layers.
 */
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseEnvLines, REPO_ROOT } from '../stack/paths';

const run = promisify(execFile);
const BUILD = path.join(REPO_ROOT, 'scripts', 'image', 'build.sh');

export interface BuiltImages {
  OPERATOR_IMAGE: string;
  OPERATOR_ARCHIVE: string;
  OPERATOR_SBOM: string;
  APP_IMAGE: string;
  APP_ARCHIVE: string;
}

/** Why images cannot be built or run here, or undefined when they can. */
export function imageToolsMissing(tools: string[] = ['buildah', 'podman', 'runc', 'debootstrap']): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (buildah overlay store, debootstrap)';
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length ? `not installed: ${missing.join(', ')} (bash scripts/setup.sh test installs them)` : undefined;
}

/** Builds (or re-checks) the images; progress goes to stderr. */
export function buildImages(only?: 'operator' | 'app'): BuiltImages {
  const args = [BUILD, '--print-env', ...(only ? ['--only', only] : [])];
  const r = spawnSync('bash', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`scripts/image/build.sh failed (exit ${r.status})`);
  return parseEnvLines(r.stdout) as unknown as BuiltImages;
}

/** podman with the project's image store (the one build.sh fills). */
export async function podman(args: string[], opts: { allowFail?: boolean } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { ...process.env, ...containersEnv() };
  try {
    const { stdout, stderr } = await run('podman', args, { env, maxBuffer: 10 << 20 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    if (!opts.allowFail) throw err;
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : -1 };
  }
}

let cachedEnv: Record<string, string> | undefined;
function containersEnv(): Record<string, string> {
  if (!cachedEnv) {
    const script = `. ${JSON.stringify(path.join(REPO_ROOT, 'scripts', 'image', 'env.sh'))}; sro_containers_env; env | grep -E '^(SRO_CONTAINERS_DIR|CONTAINERS_STORAGE_CONF|CONTAINERS_CONF)='`;
    cachedEnv = parseEnvLines(spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout);
  }
  return cachedEnv;
}
