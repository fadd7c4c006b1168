/**
 * The not-yet-stored writes of ONE account, folded into a single record.
 *
 * Any sequence of operations on an account's row (insert-if-missing, update,
 * delete) has the same end result as: [delete] → [insert-if-missing] → [update],
 * each present or not, with the updates merged field by field. So an account
 * never needs more than one pending record, however many replies arrive while
 * the database is slow or away.
 */
import { mergeUpdates, type RegistrationUpdate } from './registration-update';

export interface PendingWrite {
  /** Delete the row first. */
  remove: boolean;
  /** Make sure a row exists (redundant when `update` is set: it inserts if needed). */
  ensure: boolean;
  update?: RegistrationUpdate;
  /** When the oldest operation folded in here was queued (monotonic ms). */
  queuedAtMs: number;
}

export type WriteOperation =
  | { kind: 'insertIfMissing' }
  | { kind: 'update'; update: RegistrationUpdate }
  | { kind: 'remove' };

export function pendingWriteOf(operation: WriteOperation, queuedAtMs: number): PendingWrite {
  return {
    remove: operation.kind === 'remove',
    ensure: operation.kind === 'insertIfMissing',
    update: operation.kind === 'update' ? operation.update : undefined,
    queuedAtMs,
  };
}

/**
 * `older` then `newer` as one record. A delete in `newer` wipes whatever `older`
 * would have written; otherwise `newer`'s insert-if-missing can move before
 * `older`'s update (after an update the row exists anyway) and the updates merge.
 */
export function composeWrites(older: PendingWrite, newer: PendingWrite): PendingWrite {
  if (newer.remove) return { ...newer, queuedAtMs: older.queuedAtMs };
  return {
    remove: older.remove,
    ensure: older.ensure || newer.ensure,
    update: mergeUpdates(older.update, newer.update),
    queuedAtMs: older.queuedAtMs,
  };
}
