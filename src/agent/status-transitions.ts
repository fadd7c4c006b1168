/**
 * What a SIP outcome does to the registrations table and to the account's next
 * action — SPEC §3 as one table. Pure: the engine applies the result.
 */
import type { WriteOperation } from '../db/pending-write';
import { RegistrationStatus as RegStatus } from '../db/registration-status';
import type { RegistrationUpdate } from '../db/registration-update';
import type { RegistrationOutcome } from '../sip/registration-client';

export { RegStatus };

export const UNABLE_TO_SEND = { code: 480, reason: 'unable to send request' } as const;
/** An ACTIVE registration's expiry passed with its request sent but not answered, or still queued. */
export const EXPIRED = {
  code: 408,
  unanswered: 'Registration expired: request unanswered',
  queued: 'Registration expired: request not sent yet',
} as const;

export type NextAction =
  /** Refresh based on the granted expires (refresh planner decides when). */
  | { kind: 'refresh'; grantedExpires: number }
  /** Retry after error_retry_interval (if not 0). */
  | { kind: 'retry' }
  /** The account leaves memory (de-registration answered, either way). */
  | { kind: 'forget' }
  /** The account stays in memory with nothing scheduled: a later DI call still finds it. */
  | { kind: 'keep' };

export interface Transition {
  writes: WriteOperation[];
  next: NextAction;
}

export interface StatusPolicy {
  saveContacts: boolean;
  saveAuthReplies: boolean;
  deleteRemovedRegistrations: boolean;
  /** Already folded with deleteRemovedRegistrations by the config. */
  deleteFailedDeregistrations: boolean;
}

export type Operation = 'register' | 'deregister';

type Row = (o: RegistrationOutcome, p: StatusPolicy) => Transition;
type OutcomeClass = 'success' | 'contactMissing' | 'failure' | 'unsent' | 'invalid' | 'aborted';

const contactsOf = (o: RegistrationOutcome, p: StatusPolicy): string | undefined =>
  p.saveContacts ? (o.contacts ?? '') : undefined;

const update = (o: RegistrationOutcome, p: StatusPolicy, status: RegStatus, extra: Partial<RegistrationUpdate> = {}): WriteOperation => ({
  kind: 'update',
  update: { lastCode: o.code, lastReason: o.reason, status, contacts: contactsOf(o, p), ...extra },
});

const REMOVE: WriteOperation = { kind: 'remove' };
const UNCHANGED: Transition = { writes: [], next: { kind: 'keep' } };

/** A de-REGISTER that failed or could not be sent. */
const deregisterFailed = (o: RegistrationOutcome, p: StatusPolicy): WriteOperation =>
  p.deleteFailedDeregistrations ? REMOVE : update(o, p, RegStatus.ToBeRemoved, o.sent ? {} : { contacts: undefined });

/**
 * The table. Rows in SPEC §3 order; the intermediate 401/407 (save_auth_replies) is
 * prepended by `transition()`.
 */
const TABLE: Record<Operation, Record<OutcomeClass, Row>> = {
  register: {
    // 2xx with our Contact: ACTIVE, timestamps on the DB clock, refresh later.
    success: (o, p) => ({
      writes: [update(o, p, RegStatus.Active, { registered: { grantedSeconds: o.grantedExpires ?? 0 } })],
      next: { kind: 'refresh', grantedExpires: o.grantedExpires ?? 0 },
    }),
    // 2xx without our Contact: SEMS loops; we fail and retry later (SPEC §8).
    contactMissing: (o, p) => ({
      writes: [update(o, p, RegStatus.Failed, { lastReason: `${o.reason} (our Contact is missing in the reply)` })],
      next: { kind: 'retry' },
    }),
    // >= 300, including the local 408 of an unanswered transaction.
    failure: (o, p) => ({ writes: [update(o, p, RegStatus.Failed)], next: { kind: 'retry' } }),
    // Nothing could be sent: 480, contacts untouched.
    unsent: () => ({
      writes: [{ kind: 'update', update: { lastCode: UNABLE_TO_SEND.code, lastReason: UNABLE_TO_SEND.reason, status: RegStatus.Failed } }],
      next: { kind: 'retry' },
    }),
    // Data no registrar could parse: 480 with the reason naming the field. A retry would
    // be refused the same way; the DI call that corrects the data registers again.
    invalid: (o) => ({
      writes: [{ kind: 'update', update: { lastCode: o.code, lastReason: o.reason, status: RegStatus.Failed } }],
      next: { kind: 'keep' },
    }),
    // Stopping before anything was sent: the registrar knows nothing new, the row stays.
    aborted: () => UNCHANGED,
  },
  deregister: {
    success: (o, p) => ({
      writes: [p.deleteRemovedRegistrations ? REMOVE : update(o, p, RegStatus.Removed)],
      next: { kind: 'forget' },
    }),
    contactMissing: (o, p) => TABLE.deregister.success(o, p),
    failure: (o, p) => ({ writes: [deregisterFailed(o, p)], next: { kind: 'forget' } }),
    // SEMS drops an account once its de-REGISTER is answered, but keeps one whose
    // de-REGISTER could not be sent, so a later removeRegistration tries again.
    unsent: (o, p) => ({
      writes: [deregisterFailed({ ...o, code: UNABLE_TO_SEND.code, reason: UNABLE_TO_SEND.reason }, p)],
      next: { kind: 'keep' },
    }),
    // Like unsent, with the reason naming the field.
    invalid: (o, p) => ({ writes: [deregisterFailed(o, p)], next: { kind: 'keep' } }),
    aborted: () => UNCHANGED,
  },
};

/**
 * An ACTIVE registration whose expiry passed while its refresh (or de-REGISTER) waited in
 * a queue or for an answer: the registrar no longer holds it, so the row stops saying
 * ACTIVE. SEMS notices only at Timer F (408 "Timeout", 32 s after sending) and never for
 * a request held in a queue; we store the same code at the expiry itself, with a reason
 * saying which, and empty the contacts as that 408 would. The request goes on; its
 * outcome is stored as usual.
 */
export function expiredWrites(requestSent: boolean, policy: StatusPolicy): WriteOperation[] {
  return [{
    kind: 'update',
    update: {
      lastCode: EXPIRED.code,
      lastReason: requestSent ? EXPIRED.unanswered : EXPIRED.queued,
      status: RegStatus.Failed,
      contacts: policy.saveContacts ? '' : undefined,
    },
  }];
}

function classify(o: RegistrationOutcome): OutcomeClass {
  if (o.aborted) return 'aborted';
  if (o.invalid) return 'invalid';
  if (!o.sent) return 'unsent';
  if (o.code >= 200 && o.code < 300) return o.contactMissing ? 'contactMissing' : 'success';
  return 'failure';
}

export function transition(op: Operation, outcome: RegistrationOutcome, policy: StatusPolicy): Transition {
  const t = TABLE[op][classify(outcome)](outcome, policy);
  if (!policy.saveAuthReplies || !outcome.challenge) return t;
  // save_auth_replies: the challenge answered with credentials is stored first, status unchanged.
  const challenge: WriteOperation = {
    kind: 'update',
    update: { lastCode: outcome.challenge.code, lastReason: outcome.challenge.reason, contacts: policy.saveContacts ? '' : undefined },
  };
  return { writes: [challenge, ...t.writes], next: t.next };
}
