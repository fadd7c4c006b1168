/**
 * Which database errors are worth repeating the statement for.
 *
 * Transient: the connection broke or could not be made (network, server restart,
 * KILL, too many connections, refused login) or the statement lost a lock race.
 * Repeating the same statement later, on a new connection, can succeed.
 * Everything else (syntax, unknown table/column, permission, data too long) would
 * fail the same way again: it is reported, not retried.
 */

/** Node socket errors and mysql2 protocol errors that mean "the connection is gone". */
const CONNECTION_ERROR_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Server error numbers for the same situations, and for lock contention. */
const TRANSIENT_SERVER_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1047, // ER_UNKNOWN_COM_ERROR: a Galera node outside the primary component ("WSREP has not yet prepared node")
  1053, // ER_SERVER_SHUTDOWN
  1152, // ER_ABORTING_CONNECTION
  1158, 1159, 1160, 1161, // ER_NET_READ_ERROR … ER_NET_WRITE_INTERRUPTED
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only (a demoted primary, a replica behind a moved address)
  1317, // ER_QUERY_INTERRUPTED (KILL QUERY)
  1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  1836, // ER_READ_ONLY_MODE
  1927, // ER_CONNECTION_KILLED (MariaDB)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
]);

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
  sqlMessage?: unknown;
}

function asDriverError(err: unknown): DriverError {
  return typeof err === 'object' && err !== null ? (err as DriverError) : {};
}

export function isTransientDbError(err: unknown): boolean {
  const e = asDriverError(err);
  if (typeof e.code === 'string' && CONNECTION_ERROR_CODES.has(e.code)) return true;
  if (typeof e.errno === 'number' && TRANSIENT_SERVER_ERRNOS.has(e.errno)) return true;
  // mysql2 marks every error that ended or prevented the connection as fatal: the
  // "closed state" errors of a connection that died idle in the pool, DNS failures,
  // and refusals at connect time (wrong password, unknown database). None of them
  // says the statement is wrong, so they are worth waiting out.
  return e.fatal === true;
}

/** The server takes no writes now (read-only, Galera node not in the primary component). */
const NOT_WRITABLE_ERRNOS = new Set([1047, 1290, 1792, 1836]);

/**
 * The server behind this connection refuses writes for now: the connection must not be
 * pooled again, so that the retry connects anew (to the primary a failover moved the
 * address to, or to another Galera node behind a proxy).
 */
export function isServerNotWritable(err: unknown): boolean {
  const errno = asDriverError(err).errno;
  return typeof errno === 'number' && NOT_WRITABLE_ERRNOS.has(errno);
}

/** A lost lock race (deadlock, lock wait timeout): the database is fine; try again at once. */
export function isLockConflict(err: unknown): boolean {
  const errno = asDriverError(err).errno;
  return errno === 1205 || errno === 1213;
}

/**
 * A text the column's character set cannot hold (ER_TRUNCATED_WRONG_VALUE_FOR_FIELD,
 * "Incorrect string value", under strict SQL mode): e.g. a reason phrase with a
 * character outside latin1 for a latin1 table.
 */
export function isUnstorableText(err: unknown): boolean {
  const e = asDriverError(err);
  return e.errno === 1366 && typeof e.sqlMessage === 'string' && e.sqlMessage.startsWith('Incorrect string value');
}

/** One line for the log: code and message. Driver errors never contain the password. */
export function describeDbError(err: unknown): string {
  const e = asDriverError(err);
  const message = typeof e.sqlMessage === 'string' ? e.sqlMessage
    : typeof e.message === 'string' ? e.message
      : String(err);
  return typeof e.code === 'string' ? `${e.code}: ${message}` : message;
}
