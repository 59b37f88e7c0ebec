/**
 * Argo Rollouts on the local stack: its CRDs (from its Go module, copied into the
 * toolchain cache by scripts/toolchain/build.sh) applied to the stack's API server, and
 * its controller (built from the same module) run as a host process with the stack's
 * admin kubeconfig, so a Rollout's pods really roll on the kwok nodes. Started by the
 * test file that needs it, stopped (and waited for) by `stop()`, which also removes
 * the CRDs, leaving the stack as it was.
 */
import path from 'node:path';
import { startProcessComponent, type RunningComponent } from '../../scripts/stack/components';
import { resolveToolchain, stackPaths } from '../../scripts/stack/paths';
import type { E2eContext } from './context';
import { applyCrds, crdFilesIn, crdNames, deleteCrds } from './crds';
import { freePorts } from '../../scripts/kit/net';

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

  const [metricsPort, healthzPort] = await freePorts(2);
  let proc: RunningComponent;
  try {
    proc = await startProcessComponent({
      name: 'argo-rollouts controller',
      command: controller,
      // One instance, no election: nothing else runs it on this stack. Its own ports, free ones.
      args: ['--kubeconfig', ctx.env.KUBECONFIG, '--leader-elect=false', `--metricsPort=${metricsPort}`, `--healthzPort=${healthzPort}`, '--logformat=json', '--loglevel=info'],
      logFile: path.join(stackPaths().logs, 'argo-rollouts-controller.log'),
      readyWhat: `the Argo Rollouts controller to answer /healthz on ${healthzPort}`,
      ready: async () => (await fetch(`http://127.0.0.1:${healthzPort}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok,
      readyTimeoutMs: 60_000,
    });
  } catch (err) {
    await removeArgoRolloutsCrds(ctx);
    throw err;
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await proc.stop();
    await removeArgoRolloutsCrds(ctx);
  };
  return { logFile: proc.logFile, stop };
}
