/**
 * Jest globalSetup for the e2e project: builds the operator, brings the local stack
 * up unless one is already running (then it is left as it was found), and publishes
 * this tree to the stack's registry: the chart always, the images when there is a
 * real node to run them. Then it builds the suites' own tools (ESO, Argo Rollouts,
 * ElasticMQ) if they are not cached, so that no test's timeout includes a build.
 */
import '../../scripts/quiet-sdk-warning';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './kube';
import { readStackEnv, resolveToolchain, stackHealth, stackUp } from '../../scripts/stack';
import { SUITE_TOOL_FAMILIES } from '../../scripts/stack/paths';
import { publish } from '../../scripts/stack/publish';
import { publishWithImages } from './realnode';

export default async function globalSetup(): Promise<void> {
  process.stderr.write('\n[e2e] building the operator (npm run build)\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const health = await stackHealth();
  if (health.healthy) {
    process.stderr.write('[e2e] using the stack that is already up (.stack/env)\n');
  } else {
    process.stderr.write('[e2e] bringing the local stack up (first run builds the toolchain: see docs/local-stack.md)\n');
    await stackUp();
    process.env.E2E_STARTED_STACK = '1';
  }
  await publishTree();
  process.stderr.write(`[e2e] the suites' own tools (${SUITE_TOOL_FAMILIES.join(', ')}): built now if not cached\n`);
  await resolveToolchain({ only: [...SUITE_TOOL_FAMILIES], onProgress: (line) => process.stderr.write(`[e2e] ${line}\n`) });
}

/** The chart (helm package + push) and, for the real node's pods, the images built from this tree (npm run image). */
export async function publishTree(): Promise<void> {
  const env = readStackEnv();
  const log = (line: string): void => void process.stderr.write(`[e2e] ${line}\n`);
  const t0 = Date.now();
  if (!env.STACK_REAL_NODE) {
    process.stderr.write(`[e2e] no real node (${env.STACK_REAL_NODE_SKIP_REASON}): the suites that need one are skipped; publishing the chart only\n`);
    await publish({ log });
    return;
  }
  process.stderr.write('[e2e] building the operator and sample app images (npm run image) and publishing them with the chart\n');
  await publishWithImages(log);
  process.stderr.write(`[e2e] images built and published in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
}
