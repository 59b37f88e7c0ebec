/**
 * Jest globalSetup for the e2e project: builds the operator and brings the local
 * stack up unless one is already running (then it is left as it was found).
 */
import '../../scripts/quiet-sdk-warning';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './kube';
import { stackHealth, stackUp } from '../../scripts/stack';

export default async function globalSetup(): Promise<void> {
  process.stderr.write('\n[e2e] building the operator (npm run build)\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const health = await stackHealth();
  if (health.healthy) {
    process.stderr.write('[e2e] using the stack that is already up (.stack/env)\n');
    return;
  }
  process.stderr.write('[e2e] bringing the local stack up (first run builds the toolchain: see README)\n');
  await stackUp();
  process.env.E2E_STARTED_STACK = '1';
}
