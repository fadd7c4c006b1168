/**
 * What one reply changes in an account's registrations row (SPEC §3), and how two
 * successive changes of the same account combine.
 */
import type { RegistrationStatus } from './registration-status';

/** A successful REGISTER: last_registration = then, expiry = then + grantedSeconds (DB clock). */
export interface Registered {
  grantedSeconds: number;
  /** performance.now() of the 2xx; the writer sets it when the update is queued. */
  atMs?: number;
}

export interface RegistrationUpdate {
  lastCode: number;
  lastReason: string;
  /** Only where the status changes. */
  status?: RegistrationStatus;
  /** The reply's Contact set (save_contacts=yes); '' empties the column. */
  contacts?: string;
  registered?: Registered;
}

/**
 * The row after `older` and then `newer`, as one update: every field takes its
 * latest value, fields `newer` leaves out keep `older`'s (e.g. an auth reply after
 * a 2xx keeps the 2xx's status and times). `registered` keeps its own atMs, so a
 * merged write still stamps the time of the 2xx, not of the merge.
 */
export function mergeUpdates(older: RegistrationUpdate | undefined, newer: RegistrationUpdate | undefined): RegistrationUpdate | undefined {
  if (!older || !newer) return newer ?? older;
  return {
    lastCode: newer.lastCode,
    lastReason: newer.lastReason,
    status: newer.status ?? older.status,
    contacts: newer.contacts ?? older.contacts,
    registered: newer.registered ?? older.registered,
  };
}

/** Anything outside 7-bit ASCII. */
const NON_ASCII = /[\u0080-\u{10ffff}]/gu;

/**
 * `update` with every character outside ASCII in its texts (reason, contacts)
 * replaced by '?', or undefined when there is none: what is left of a text that the
 * column's character set cannot hold (SEMS's README creates the table in latin1) is
 * better stored than the whole status lost.
 */
export function withAsciiTexts(update: RegistrationUpdate): RegistrationUpdate | undefined {
  const reason = update.lastReason.replace(NON_ASCII, '?');
  const contacts = update.contacts?.replace(NON_ASCII, '?');
  if (reason === update.lastReason && contacts === update.contacts) return undefined;
  return { ...update, lastReason: reason, contacts };
}
