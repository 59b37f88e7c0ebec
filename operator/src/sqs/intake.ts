/**
 * The queue's side of a batch: each message is interpreted on its own and admitted
 * against the allow-list (admission.ts), so one that cannot be understood never fails
 * its neighbours. What is not a change gets its disposition here, with its metric and
 * log; the changes go to the rotation, and what it says became of each (done or
 * unfinished) becomes a disposition. One message is one change: its change id is its
 * message id.
 */
import { interpretMessage } from '../events/interpret';
import { errorMessage, type Logger } from '../core/log';
import type { Metrics } from '../core/metrics';
import type { AdmittedChange, ChangeOutcome } from '../rotation/ports';
import { DISPOSITION_OF, admit, type AllowList } from './admission';
import type { BatchHandler } from './consumer';
import type { Disposition, InboundMessage } from './message';

export interface IntakeOptions {
  /** Rotates the admitted changes; an outcome per change id. */
  readonly rotate: (changes: readonly AdmittedChange[], signal?: AbortSignal) => Promise<ReadonlyMap<string, ChangeOutcome>>;
  readonly allow: AllowList;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** A finished change's message is deleted; an unfinished one's comes back after the visibility timeout. */
const DISPOSITION_OF_OUTCOME: Readonly<Record<ChangeOutcome, Disposition>> = { done: 'delete', unfinished: 'retry' };

export class Intake implements BatchHandler {
  constructor(private readonly opts: IntakeOptions) {}

  async handleBatch(messages: readonly InboundMessage[], signal?: AbortSignal): Promise<Map<string, Disposition>> {
    const dispositions = new Map<string, Disposition>();
    const admitted: AdmittedChange[] = [];
    for (const m of messages) {
      const a = this.admit(m);
      if ('disposition' in a) dispositions.set(m.id, a.disposition);
      else admitted.push(a.change);
    }
    signal?.throwIfAborted();
    for (const [id, outcome] of await this.opts.rotate(admitted, signal)) dispositions.set(id, DISPOSITION_OF_OUTCOME[outcome]);
    return dispositions;
  }

  /** Interprets one message and applies the allow-list: the change to act on, or what to do with the message. */
  private admit(m: InboundMessage): { change: AdmittedChange } | { disposition: Disposition } {
    const { metrics, log } = this.opts;
    metrics.messagesReceived.inc();
    try {
      const a = admit(interpretMessage(m.body), this.opts.allow);
      switch (a.verdict) {
        case 'change':
          return { change: { changeId: m.id, change: a.change, ...(m.sentAt !== undefined ? { sentAt: m.sentAt } : {}) } };
        case 'malformed':
          metrics.messagesMalformed.inc({ code: a.error.code });
          log.warn('malformed message left for the dead-letter queue', {
            messageId: m.id,
            eventId: a.error.eventId,
            code: a.error.code,
            error: a.error.message,
            bytes: Buffer.byteLength(m.body, 'utf8'),
            receiveCount: m.receiveCount,
          });
          break;
        case 'not-a-change': {
          const n = a.notAChange;
          metrics.messagesIgnored.inc({ reason: n.reason });
          log.info('event does not change a secret; acknowledged', { messageId: m.id, eventId: n.eventId, secret: n.secretId, reason: n.reason, detail: n.message });
          break;
        }
        case 'not-allowed': {
          const c = a.change;
          metrics.messagesIgnored.inc({ reason: 'NotAllowed' });
          log.warn('event from an account or region outside the allow-list; ignored', {
            messageId: m.id,
            eventId: c.eventId,
            secret: c.secret.raw,
            account: c.account ?? c.secret.account,
            region: c.region ?? c.secret.region,
          });
          break;
        }
      }
      return { disposition: DISPOSITION_OF[a.verdict] };
    } catch (err) {
      // interpretMessage never throws; this is the last line of defence for one message.
      metrics.messagesMalformed.inc({ code: 'Unexpected' });
      log.error('message could not be handled; left for the dead-letter queue', { messageId: m.id, error: errorMessage(err) });
      return { disposition: 'dead-letter' };
    }
  }
}
