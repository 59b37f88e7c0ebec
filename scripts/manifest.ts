/**
 * The static install manifest for kubectl-only users, rendered from the chart:
 *
 *   npm run manifest            writes dist-manifest/install.yaml
 *
 * Built at release time and published beside the chart, not committed: it is the chart's
 * defaults rendered (`helm template`) for the release `secrets-rotation-operator` in the
 * namespace of that name, so a copy in git would only be a second place to go stale.
 * The one value the chart requires, the SQS queue URL, cannot have a default: the
 * manifest carries QUEUE_URL_PLACEHOLDER instead, which the operator refuses at start
 * (a configuration error naming SQS_QUEUE_URL) until `kubectl set env` sets the real one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CHART_DIR, REPO_ROOT, resolveToolchain } from './stack/paths';

export const MANIFEST_FILE = path.join(REPO_ROOT, 'dist-manifest', 'install.yaml');
export const MANIFEST_RELEASE = 'secrets-rotation-operator';
export const MANIFEST_NAMESPACE = 'secrets-rotation-operator';
export const QUEUE_URL_PLACEHOLDER = 'set-me: kubectl set env deployment/secrets-rotation-operator SQS_QUEUE_URL=<your queue URL>';

/** A URL the chart's schema accepts, replaced by the placeholder after rendering. */
const SENTINEL_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/sro-manifest-placeholder';

/** The manifest: a Namespace, then every object the chart's defaults make (the CRD included). */
export function renderManifest(helmBin: string): string {
  const r = spawnSync(helmBin, ['template', MANIFEST_RELEASE, CHART_DIR, '--namespace', MANIFEST_NAMESPACE, '--set', `sqs.queueUrl=${SENTINEL_QUEUE_URL}`], {
    encoding: 'utf8',
    maxBuffer: 32 << 20,
  });
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  if (!r.stdout.includes(SENTINEL_QUEUE_URL)) throw new Error('helm template: the queue URL is not in the rendered Deployment');
  const header = [
    '# secrets-rotation-operator: static install manifest, rendered from the Helm chart by `npm run manifest`.',
    `# Set your queue (and, for IRSA, the role) before the operator can start; see Chart-README.md, "Without Helm".`,
    '---',
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${MANIFEST_NAMESPACE}`,
    '',
  ].join('\n');
  return header + r.stdout.split(SENTINEL_QUEUE_URL).join(QUEUE_URL_PLACEHOLDER);
}

async function main(): Promise<void> {
  const { helm } = await resolveToolchain({ only: ['helm'] });
  if (!helm) throw new Error('scripts/toolchain/build.sh did not provide helm');
  mkdirSync(path.dirname(MANIFEST_FILE), { recursive: true });
  writeFileSync(MANIFEST_FILE, renderManifest(helm));
  process.stdout.write(`manifest: wrote ${path.relative(REPO_ROOT, MANIFEST_FILE)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`manifest: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
