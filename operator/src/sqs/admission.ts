/**
 * Admission: what an interpreted message means for the rotation. Pure. A change is
 * acted on only when the allow-list admits it; everything else says what becomes of
 * its message.
 */
import type { Interpretation, NotAChange, ParseError, SecretChange } from '../events/interpret';
import type { Disposition } from './message';

export interface AllowList {
  /** Empty: any. */
  readonly accountIds: readonly string[];
  /** Empty: any. */
  readonly regions: readonly string[];
}

export type Admission =
  | { readonly verdict: 'change'; readonly change: SecretChange }
  /** Not something we understand: back to the queue at once, so its redrive policy dead-letters it. */
  | { readonly verdict: 'malformed'; readonly error: ParseError }
  /** A Secrets Manager event that must not restart anything: acknowledged. */
  | { readonly verdict: 'not-a-change'; readonly notAChange: NotAChange }
  /** A change from an account or region outside the allow-list: acknowledged, ignored. */
  | { readonly verdict: 'not-allowed'; readonly change: SecretChange };

/** What becomes of a message that is not acted on. */
export const DISPOSITION_OF: Readonly<Record<Exclude<Admission['verdict'], 'change'>, Disposition>> = {
  malformed: 'dead-letter',
  'not-a-change': 'delete',
  'not-allowed': 'delete',
};

export function admit(meaning: Interpretation, allow: AllowList): Admission {
  if (meaning.type === 'parse-error') return { verdict: 'malformed', error: meaning.error };
  if (meaning.type === 'not-a-change') return { verdict: 'not-a-change', notAChange: meaning.notAChange };
  return allowed(meaning.change, allow) ? { verdict: 'change', change: meaning.change } : { verdict: 'not-allowed', change: meaning.change };
}

/** With an allow-list, an event must name an account (region) and every one it names must be listed. */
export function allowed(c: SecretChange, allow: AllowList): boolean {
  const within = (list: readonly string[], named: readonly (string | undefined)[]) =>
    list.length === 0 || (named.some((v) => v !== undefined) && named.every((v) => v === undefined || list.includes(v)));
  return within(allow.accountIds, [c.account, c.secret.account]) && within(allow.regions, [c.region, c.secret.region]);
}
