/**
 * Fencing: only a replica that still holds a valid lease may change anything, and only
 * for the term (one stretch of leadership) that started the work.
 *
 * Work runs inside `fence.run(term, …)`; the term travels with it through every await
 * (AsyncLocalStorage). Every mutating API call checks, right before it is sent, that
 * this term is still the current one and its lease still valid on our own clock. So
 * work left over from an earlier term (a batch abandoned when we stepped down, or
 * resumed after the process was frozen past its lease) is refused, even if this
 * replica leads again by then.
 *
 * The check alone cannot stop a request that was sent just before the lease ran out;
 * config.ts bounds that: a mutating request's deadline plus the renew deadline fits
 * within the lease duration, so it has ended before another replica can take over.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { MUTATING_METHOD, aroundMethods } from '../kube/limit';

export class FencedError extends Error {
  constructor(reason: string) {
    super(`write refused: ${reason}`);
    this.name = 'FencedError';
  }
}

/** One stretch of leadership. Aborted when it ends. */
export interface Term {
  readonly id: number;
  readonly signal: AbortSignal;
}

export interface LeaseHolder {
  /** The term in force, undefined while not leading. */
  currentTerm(): Term | undefined;
  /** Whether the current term's lease is still valid now (renewed within the renew deadline). */
  leaseValid(): boolean;
}

export class Fence {
  private readonly als = new AsyncLocalStorage<Term>();

  constructor(private readonly holder: LeaseHolder) {}

  /** Runs `fn` (and everything it awaits) as work of `term`. */
  run<T>(term: Term, fn: () => T): T {
    return this.als.run(term, fn);
  }

  /** The term of the work calling this, if any. */
  get term(): Term | undefined {
    return this.als.getStore();
  }

  /** Why a mutating call made now must not be sent; undefined when it may. */
  refusal(): string | undefined {
    const mine = this.als.getStore();
    if (!mine) return 'not called from leader work';
    const current = this.holder.currentTerm();
    if (!current || current.id !== mine.id || mine.signal.aborted) return 'this replica no longer leads the term that started the work';
    if (!this.holder.leaseValid()) return 'the lease was not renewed within the renew deadline';
    return undefined;
  }

  check(): void {
    const reason = this.refusal();
    if (reason) throw new FencedError(reason);
  }
}

/** `api` with every mutating request checked against `fence` just before it is sent. */
export function withFence<T extends object>(api: T, fence: Fence): T {
  return aroundMethods(api, MUTATING_METHOD, async (call) => {
    fence.check();
    return call();
  });
}

/**
 * Leadership without election (a single replica): one term at a time, always valid.
 * `relinquish` ends the term (its work is abandoned and fenced) and starts the next.
 */
export class SoleLeader implements LeaseHolder {
  private term?: Term & { readonly controller: AbortController };
  private terms = 0;

  constructor(private readonly opts: { onStartedLeading: (term: Term) => void; onStoppedLeading: () => Promise<void> | void }) {}

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  currentTerm(): Term | undefined {
    return this.term;
  }

  leaseValid(): boolean {
    return this.term !== undefined;
  }

  start(): void {
    const controller = new AbortController();
    this.term = { id: ++this.terms, signal: controller.signal, controller };
    this.opts.onStartedLeading(this.term);
  }

  async relinquish(reason: string): Promise<void> {
    await this.stop(reason);
    this.start();
  }

  async stop(reason = 'shutting down'): Promise<void> {
    const t = this.term;
    if (!t) return;
    this.term = undefined;
    t.controller.abort(new Error(`term ended: ${reason}`));
    await this.opts.onStoppedLeading();
  }
}
