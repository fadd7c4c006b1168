/**
 * Repeats an operation whose connection was lost, on a fresh connection.
 *
 * The pool drops a connection once it has failed, so the next attempt gets a new
 * one (or opens one). Only for idempotent operations: running one twice — e.g.
 * because the connection died after the server applied it but before the reply
 * arrived — must leave the same rows (see registration-store.ts).
 */
import type { Logger } from '../process/log';
import { describeDbError, isTransientDbError } from './db-errors';

export interface ConnectionRetryOptions {
  /** Total attempts, first one included. */
  attempts?: number;
  /** Pause before the third and later attempts; the second one starts at once. */
  delayMs?: number;
  log?: Logger;
  /** What is being run, for the log line. */
  what?: string;
}

export async function withConnectionRetry<T>(run: () => Promise<T>, options: ConnectionRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const delayMs = options.delayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= attempts || !isTransientDbError(err)) throw err;
      options.log?.debug(`${options.what ?? 'statement'}: ${describeDbError(err)}; retrying on a new connection (attempt ${attempt + 1}/${attempts})`);
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
