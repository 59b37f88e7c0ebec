/**
 * One component at a time, for fault injection: stop, start, restart, pause (SIGSTOP),
 * resume (SIGCONT), wait until it answers. Ports, arguments and data are kept.
 */
import { deployAwsPrerequisites } from './aws';
import { stackPaths } from './paths';
import { AWS_REGION, requireState, saveState, type ComponentName } from './state';
import { launch, signalRecorded, stopRecorded, waitComponentReady } from './components';
import { isRunning } from './process';

export interface StopComponentOptions {
  /**
   * SIGTERM, then SIGKILL after this many ms (default 10 000). 0 = SIGKILL at once
   * (a crash). Note: kube-apiserver's graceful shutdown waits for its open watches,
   * so with clients connected a graceful stop takes the whole grace period.
   */
  graceMs?: number;
}

/** Stops one component and waits until its processes are gone; its port, arguments and data are kept for startComponent. */
export async function stopComponent(name: ComponentName, opts: StopComponentOptions = {}): Promise<void> {
  const p = stackPaths();
  const state = requireState(p);
  await stopRecorded(state, name, opts.graceMs);
  saveState(state, p);
}

export interface StartComponentOptions {
  /**
   * moto keeps everything in memory: a restarted moto is empty. By default its
   * queues are made again (same names, so SQS_QUEUE_URL stays valid); secrets and
   * other resources made by tests are gone.
   */
  redeployAwsPrerequisites?: boolean;
}

/** Starts a stopped component again with the same command line, port and data; waits until it answers. */
export async function startComponent(name: ComponentName, opts: StartComponentOptions = {}): Promise<void> {
  const p = stackPaths();
  const state = requireState(p);
  const rec = state.components[name];
  if (rec.pid !== undefined && isRunning(rec.pid, rec.startTime)) return;
  launch(state, name, p);
  await waitComponentReady(state, name);
  if (name === 'moto' && opts.redeployAwsPrerequisites !== false) {
    await deployAwsPrerequisites(state.motoUrl, AWS_REGION);
  }
}

export async function restartComponent(name: ComponentName, opts: StartComponentOptions & StopComponentOptions = {}): Promise<void> {
  await stopComponent(name, opts);
  await startComponent(name, opts);
}

/** Freezes a component (SIGSTOP): its port stays open but nothing answers; state is kept. */
export function pauseComponent(name: ComponentName): void {
  const p = stackPaths();
  const state = requireState(p);
  signalRecorded(state.components[name], 'SIGSTOP');
  state.components[name].paused = true;
  saveState(state, p);
}

/** Resumes a component frozen by pauseComponent (SIGCONT). */
export function resumeComponent(name: ComponentName): void {
  const p = stackPaths();
  const state = requireState(p);
  signalRecorded(state.components[name], 'SIGCONT');
  state.components[name].paused = false;
  saveState(state, p);
}

/** Waits until a component answers its health check (e.g. after resumeComponent). */
export async function waitForComponent(name: ComponentName): Promise<void> {
  await waitComponentReady(requireState(stackPaths()), name);
}
