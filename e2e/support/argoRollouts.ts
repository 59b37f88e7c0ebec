/**
 * Argo Rollouts on the local stack: its CRDs (from its Go module, copied into the
 * toolchain cache by scripts/toolchain/build.sh) applied to the stack's API server, and
 * its controller (built from the same module) run as a host process with the stack's
 * admin kubeconfig, so a Rollout's pods really roll on the kwok nodes. Started by the
 * test file that needs it, stopped (and waited for) by `stop()`, which also removes
 * the CRDs, leaving the stack as it was.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resolveToolchain, stackPaths } from '../../scripts/stack/paths';
import { isRunning, spawnDetached, stopProcessGroup, tailFile } from '../../scripts/stack/process';
import { AbortPoll, waitFor } from '../../scripts/kit/wait';
import type { E2eContext } from './context';
import { applyCrds, crdFilesIn, crdNames, deleteCrds } from './crds';
import { freePort } from '../../scripts/kit/net';

export interface ArgoRollouts {
  readonly logFile: string;
  /** Stops the controller (waiting until it is gone) and deletes the CRDs. Safe to call twice. */
  stop(): Promise<void>;
}

async function argoTools(): Promise<{ controller: string; crdFiles: string[] }> {
  const t = await resolveToolchain({ only: ['argo-rollouts'], onProgress: () => undefined });
  if (!t.argoRolloutsController || !t.argoRolloutsCrdsDir) throw new Error('scripts/toolchain/build.sh printed no ARGO_ROLLOUTS_CONTROLLER_BIN / ARGO_ROLLOUTS_CRDS_DIR');
  return { controller: t.argoRolloutsController, crdFiles: crdFilesIn(t.argoRolloutsCrdsDir) };
}

/** Removes Argo Rollouts' CRDs (and so every Rollout) and waits until they are gone. */
export async function removeArgoRolloutsCrds(ctx: E2eContext): Promise<void> {
  const { crdFiles } = await argoTools();
  await deleteCrds(ctx, crdNames(crdFiles), 'Argo Rollouts');
}

/** Applies the CRDs, waits for them to be served, then starts the controller and waits until it is healthy. */
export async function startArgoRollouts(ctx: E2eContext): Promise<ArgoRollouts> {
  const { controller, crdFiles } = await argoTools();
  await applyCrds(ctx, crdFiles);

  const paths = stackPaths();
  fs.mkdirSync(paths.logs, { recursive: true });
  const logFile = path.join(paths.logs, 'argo-rollouts-controller.log');
  const [metricsPort, healthzPort] = [await freePort(), await freePort()];
  // One instance, no election: nothing else runs it on this stack. Its own ports, free ones.
  const proc = spawnDetached(controller, ['--kubeconfig', ctx.env.KUBECONFIG, '--leader-elect=false', `--metricsPort=${metricsPort}`, `--healthzPort=${healthzPort}`, '--logformat=json', '--loglevel=info'], { logFile });
  let stopped = false;
  const stopController = () => stopProcessGroup(proc.pid, proc.startTime, { graceMs: 10_000, name: 'argo-rollouts controller' });
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopController();
    await removeArgoRolloutsCrds(ctx);
  };
  try {
    await waitFor(
      `the Argo Rollouts controller to answer /healthz on ${healthzPort}`,
      async () => {
        if (!isRunning(proc.pid, proc.startTime)) throw new AbortPoll(new Error('the Argo Rollouts controller exited'));
        const res = await fetch(`http://127.0.0.1:${healthzPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
        return res.ok;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${tailFile(logFile, 20)}`);
  }
  return { logFile, stop };
}
