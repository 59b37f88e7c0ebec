/**
 * CRDs of third-party controllers the e2e tests run beside the operator (Argo Rollouts,
 * the External Secrets Operator, the SecretProviderClass stand-in): applied to the
 * stack's API server for the file that needs them and removed after, so the stack is
 * left as it was found.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { E2eContext } from './context';
import { kubectl } from './kubectl';
import { waitFor } from './wait';

/** The `*.yaml` files of `dir` that hold a CustomResourceDefinition (a kustomization.yaml beside them is left out). */
export function crdFilesIn(dir: string): string[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(dir, f))
    .filter((f) => /^kind: CustomResourceDefinition$/m.test(fs.readFileSync(f, 'utf8')));
  if (files.length === 0) throw new Error(`no CRD files in ${dir}`);
  return files;
}

/** The CRDs' names (`rollouts.argoproj.io`, …) in the files. */
export function crdNames(files: string[]): string[] {
  return files.flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/^kind: CustomResourceDefinition\nmetadata:\n(?:\s+.*\n)*?\s+name: (\S+)/gm)].map((m) => m[1]));
}

/** Server-side applies the files (large CRDs: a client-side apply's last-applied annotation would be too big) and waits until each is Established. */
export async function applyCrds(ctx: E2eContext, files: string[]): Promise<void> {
  for (const f of files) {
    const r = await kubectl(ctx, ['apply', '--server-side', '--force-conflicts', '-f', f]);
    if (r.code !== 0) throw new Error(`kubectl apply ${f}: ${r.stderr}`);
  }
  const names = crdNames(files);
  const wait = await kubectl(ctx, ['wait', '--for=condition=Established', '--timeout=60s', ...names.map((n) => `crd/${n}`)]);
  if (wait.code !== 0) throw new Error(`CRDs not established (${names.join(', ')}): ${wait.stderr}`);
}

/** Deletes the CRDs (and so every object of them) and waits until they are gone. */
export async function deleteCrds(ctx: E2eContext, names: string[], what: string): Promise<void> {
  if (names.length === 0) throw new Error(`found no CRD names for ${what}`);
  await kubectl(ctx, ['delete', 'crd', '--ignore-not-found', '--wait=true', '--timeout=60s', ...names]);
  await waitFor(`${what} CRDs gone`, async () => (await kubectl(ctx, ['get', 'crd', ...names, '--ignore-not-found', '-o', 'name'])).stdout.trim() === '', { timeoutMs: 60_000 });
}
