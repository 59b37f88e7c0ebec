/** Interruption (SIGINT/SIGTERM): the demo stops at the next checkpoint or wait, says where, then cleans up. */
import { errorMessage } from '../../operator/src/core/log';
import { AbortPoll, waitFor } from '../kit/wait';
import { LogFollower } from './operatorLog';
import { note, output, println, red, section } from './ui';
import { stackDirPrefix } from './state';

// ------------------------------------------------------------------ interruption

class Interrupted extends Error {}
let interrupted: NodeJS.Signals | undefined;
/** The section being run, to say where a failure happened. */
let currentStep = '';

export function begin(title: string): void {
  currentStep = title;
  section(title);
}

export function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    println(red(`\n${signal} again: stopping at once. Clean up with: ${stackDirPrefix()}npm run demo -- --cleanup`));
    process.exit(130);
  }
  interrupted = signal;
  println(red(`\n${signal}: stopping the demo, then cleaning up (${signal} again to stop at once)`));
}

/** Whether SIGINT or SIGTERM arrived. */
export function wasInterrupted(): boolean {
  return interrupted !== undefined;
}

export function checkpoint(): void {
  if (interrupted) throw new Interrupted(`interrupted (${interrupted})`);
}

/** Waits for a condition with a deadline; an interruption ends the wait. */
export function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 200): Promise<T> {
  return waitFor(
    what,
    async () => {
      if (interrupted) throw new AbortPoll(new Interrupted(`interrupted (${interrupted})`));
      return check();
    },
    { timeoutMs, intervalMs },
  );
}

export function failed(err: unknown, follower?: LogFollower): void {
  println();
  println(red(`✗ ${err instanceof Interrupted ? err.message : `failed (${currentStep}): ${errorMessage(err)}`}`));
  const tail = follower?.tail(15);
  if (tail && !(err instanceof Interrupted)) {
    note("the operator's last log lines:");
    output(tail);
  }
}
