/** kubectl as the cluster admin (the stack's KUBECONFIG): for what the client library does not do (server-side apply of CRD files, wait). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { E2eContext } from './context';

const execFileP = promisify(execFile);

export async function kubectl(ctx: E2eContext, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('kubectl', args, { env: { ...process.env, KUBECONFIG: ctx.env.KUBECONFIG } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** kubectl with a YAML document on stdin. */
export async function kubectlStdin(ctx: E2eContext, args: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('kubectl', args, { env: { ...process.env, KUBECONFIG: ctx.env.KUBECONFIG } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}
