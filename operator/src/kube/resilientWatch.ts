/**
 * Keeps @dot-i/k8s-operator's watches alive.
 *
 * The framework (1.3.9) calls process.exit(1) when a watch fails or cannot start,
 * and its watch callback throws on anything but an object event. Its `watchResource`
 * builds a `Watch` from @kubernetes/client-node and retries 200 ms after a clean end,
 * so we wrap `Watch.prototype.watch` once: every failure is reported to our hooks and
 * turned into a clean end after a capped exponential backoff; the framework then
 * restarts the watch (replaying every object as ADDED, which the level-triggered
 * index absorbs). Nothing else in the process uses `Watch`.
 *
 * A watch has a deadline too: the API server is asked to end it after
 * WATCH_TIMEOUT_SECONDS, and one that has not ended WATCH_GRACE_MS after that (a
 * connection that went silent: a hung API server or a lost flow, which TCP keep-alive
 * does not notice through a proxy) is aborted and counted as a failure, so it is
 * reconnected and the mappings relisted instead of the index going quietly stale.
 */
import * as k8s from '@kubernetes/client-node';
import { backoffMs } from '../core/backoff';

export interface WatchHooks {
  onConnected(path: string): void;
  onFailure(path: string, err: unknown, retryInMs: number): void;
}

const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);
const FRAMEWORK_RESTART_DELAY_MS = 200;
export const WATCH_TIMEOUT_SECONDS = 300;
const WATCH_GRACE_MS = 30_000;

type WatchFn = k8s.Watch['watch'];
interface Installed {
  hooks: WatchHooks;
  stopped: boolean;
  failures: Map<string, number>;
}
let installed: Installed | undefined;
let original: WatchFn | undefined;

export function installResilientWatch(hooks: WatchHooks): { stop(): void } {
  const state: Installed = { hooks, stopped: false, failures: new Map() };
  installed = state;
  if (!original) {
    original = k8s.Watch.prototype.watch;
    k8s.Watch.prototype.watch = resilientWatch;
  }
  return {
    stop() {
      state.stopped = true;
    },
  };
}

async function resilientWatch(
  this: k8s.Watch,
  path: string,
  queryParams: Record<string, unknown>,
  callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
  done: (err: unknown) => void,
): Promise<unknown> {
  const state = installed!;
  const fail = (err: unknown) => {
    if (state.stopped) return;
    const n = (state.failures.get(path) ?? 0) + 1;
    state.failures.set(path, n);
    const delay = backoffMs(n);
    state.hooks.onFailure(path, err, delay);
    setTimeout(() => {
      if (!state.stopped) done(null);
    }, Math.max(0, delay - FRAMEWORK_RESTART_DELAY_MS));
  };
  const safeCallback = (phase: string, obj: unknown, raw?: unknown) => {
    if (!OBJECT_EVENTS.has(phase)) {
      // The server closes the stream after an ERROR event; the clean end restarts the watch.
      if (phase === 'ERROR') state.hooks.onFailure(path, new Error(`watch error event: ${JSON.stringify(obj).slice(0, 200)}`), 0);
      return;
    }
    try {
      callback(phase, obj, raw);
    } catch (err) {
      state.hooks.onFailure(path, err, 0);
    }
  };
  let deadline: NodeJS.Timeout | undefined;
  let overdue = false;
  const safeDone = (err: unknown) => {
    if (deadline) clearTimeout(deadline);
    if (overdue) return; // reported when the deadline fired
    if (err) fail(err);
    else if (!state.stopped) done(null);
  };
  try {
    const req = (await original!.call(this, path, { timeoutSeconds: WATCH_TIMEOUT_SECONDS, ...queryParams }, safeCallback, safeDone)) as {
      on?: (ev: string, fn: (r: { statusCode?: number }) => void) => void;
      abort?: () => void;
    };
    req.on?.('response', (res) => {
      if (res.statusCode === 200) {
        state.failures.delete(path);
        state.hooks.onConnected(path);
      }
    });
    deadline = setTimeout(() => {
      overdue = true;
      fail(new Error(`watch did not end within ${WATCH_TIMEOUT_SECONDS} s + ${WATCH_GRACE_MS / 1000} s: the connection went silent`));
      req.abort?.();
    }, WATCH_TIMEOUT_SECONDS * 1000 + WATCH_GRACE_MS);
    deadline.unref();
    return req;
  } catch (err) {
    fail(err);
    return { abort() {} };
  }
}
