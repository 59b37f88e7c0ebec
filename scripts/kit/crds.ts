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
  // Established is not yet served: a list right after may get 429 "storage is (re)initializing" (seen in preview.e2e).
  // A CRD's name is `<plural>.<group>`, which kubectl gets its objects by.
  for (const n of names) {
    await waitFor(`${n} served`, async () => {
      const r = await kubectl(ctx, ['get', n, '--all-namespaces', '-o', 'name', '--request-timeout=5s']);
      if (r.code !== 0) throw new Error(r.stderr.trim());
      return true;
    }, { timeoutMs: 60_000, intervalMs: 250 });
  }
}

/** How long a CRD may stay Terminating before the clean-up looks at why and unblocks it. */
const STUCK_MS = 45_000;

interface TerminatingCrd {
  name: string;
  /** `<plural>.<group>`, what kubectl gets its objects by. */
  resource: string;
  /** The Terminating condition's reason and message: why the API server has not removed it yet. */
  why: string;
}

async function crdsLeft(ctx: E2eContext, names: string[]): Promise<TerminatingCrd[]> {
  const r = await kubectl(ctx, ['get', 'crd', ...names, '--ignore-not-found', '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl get crd: ${r.stderr.trim()}`);
  if (r.stdout.trim() === '') return [];
  type Crd = { metadata: { name: string }; spec: { group: string; names: { plural: string } }; status?: { conditions?: { type: string; reason?: string; message?: string }[] } };
  const body = JSON.parse(r.stdout) as { items?: Crd[] } & Partial<Crd>;
  const items = body.items ?? (body.metadata ? [body as Crd] : []);
  return items.map((c) => {
    const t = c.status?.conditions?.find((x) => x.type === 'Terminating');
    return { name: c.metadata.name, resource: `${c.spec.names.plural}.${c.spec.group}`, why: t ? `${t.reason ?? ''}: ${t.message ?? ''}` : 'no Terminating condition' };
  });
}

/**
 * A CRD stuck Terminating on this test stack (whose controllers are stopped by now):
 * objects still carrying finalizers lose them (nobody is left to remove them); a CRD
 * with no objects left loses its own clean-up finalizer. Says what it did, so a stuck
 * teardown leaves its cause in the test's output.
 */
async function unblock(ctx: E2eContext, crd: TerminatingCrd): Promise<void> {
  const r = await kubectl(ctx, ['get', crd.resource, '--all-namespaces', '-o', 'json']);
  const objects = r.code === 0 ? ((JSON.parse(r.stdout) as { items: { metadata: { name: string; namespace?: string; finalizers?: string[] } }[] }).items ?? []) : [];
  const held = objects.filter((o) => (o.metadata.finalizers ?? []).length > 0);
  const clear = ['-p', '{"metadata":{"finalizers":null}}', '--type=merge'];
  for (const o of held) {
    await kubectl(ctx, ['patch', crd.resource, o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), ...clear]);
  }
  if (objects.length === 0) await kubectl(ctx, ['patch', 'crd', crd.name, ...clear]);
  const did = held.length > 0 ? `cleared the finalizers of ${held.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name} (${o.metadata.finalizers!.join(',')})`).join(', ')}` : objects.length === 0 ? 'no objects left: cleared the CRD\'s clean-up finalizer' : `${objects.length} object(s) left without finalizers`;
  process.stderr.write(`[crds] ${crd.name} still Terminating after ${STUCK_MS / 1000} s (${crd.why}); ${did}\n`);
}

/** Deletes the CRDs (and so every object of them) and waits until they are gone. */
export async function deleteCrds(ctx: E2eContext, names: string[], what: string): Promise<void> {
  if (names.length === 0) throw new Error(`found no CRD names for ${what}`);
  const del = await kubectl(ctx, ['delete', 'crd', '--ignore-not-found', '--wait=false', ...names]);
  if (del.code !== 0) throw new Error(`kubectl delete crd (${what}): ${del.stderr.trim()}`);
  const stuckAt = Date.now() + STUCK_MS;
  let unblocked = false;
  await waitFor(
    `${what} CRDs gone`,
    async () => {
      const left = await crdsLeft(ctx, names);
      if (left.length === 0) return true;
      if (!unblocked && Date.now() >= stuckAt) {
        unblocked = true;
        for (const crd of left) await unblock(ctx, crd);
      }
      // The last attempt's error is the timeout's detail: which CRDs, and why the API server keeps them.
      throw new Error(left.map((c) => `${c.name} (${c.why})`).join('; '));
    },
    { timeoutMs: 2 * STUCK_MS + 30_000, intervalMs: 500 },
  );
}
