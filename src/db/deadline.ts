/**
 * Deadlines for database round trips. The driver sets none: a connection whose peer
 * went silent (a frozen proxy, a firewall dropping its state) would hold a statement
 * forever, since keep-alive does not apply while a statement waits and TCP gives up
 * only on data never acknowledged, after ~15 minutes (a stalled proxy acknowledges it).
 * Past the deadline the caller severs the connection (pool.ts), and the operation
 * fails with an error db-errors.ts counts as transient, so it runs again on a new one.
 */

/** No reply within the deadline: the connection was severed. Transient (db-errors.ts). */
export class StatementTimeoutError extends Error {
  readonly code = 'PROTOCOL_SEQUENCE_TIMEOUT';
  readonly fatal = true;
}

/** `work`'s outcome, or a StatementTimeoutError after `timeoutMs` once `onTimeout` ran (it severs the connection). */
export async function withinDeadline<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new StatementTimeoutError(`no reply within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
