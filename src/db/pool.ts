/**
 * The MySQL/MariaDB connection pool every database access goes through.
 *
 * Two options matter for correctness, not just taste:
 * - `dateStrings`: DATETIME values arrive as the strings the server stores, so they
 *   never pass through a JS Date and the process time zone (see db-clock.ts);
 * - `FOUND_ROWS`: UPDATE reports the rows it MATCHED, not the rows it changed. The
 *   write path decides "no row yet → insert it" from that count, as SEMS does with
 *   mysql++'s FoundRowsOption; an update that rewrites identical values must not
 *   look like a missing row.
 *
 * A connection whose peer went silent (a firewall dropping its state, a frozen
 * proxy) is noticed three ways: TCP keep-alive while it idles, the status writer's
 * deadline per statement (deadline.ts), and endDbPool()'s at shutdown.
 */
import type { Socket } from 'node:net';
import mysql from 'mysql2/promise';
import type { Connection as CoreConnection } from 'mysql2';
import type { DbConnectionConfig } from '../config/agent-config';
import { logger } from '../process/log';
import { settledWithin } from '../core/settled-within';
import { describeDbError } from './db-errors';
import { withinDeadline } from './deadline';

export type DbPool = mysql.Pool;

export interface DbPoolOptions {
  /** Upper bound on open connections (reads and writes together). */
  connectionLimit?: number;
  connectTimeoutMs?: number;
}

const log = logger('db');
/**
 * First keep-alive probe after this long without traffic (the OS default is 7200 s):
 * keeps a firewall's state for the connection alive, and starts the probes that end
 * a connection whose peer is gone (net.ipv4.tcp_keepalive_intvl × _probes later).
 */
const KEEP_ALIVE_DELAY_MS = 10_000;
/** The connections of each pool whose socket is open, for endDbPool(). */
const openConnections = new WeakMap<DbPool, Set<CoreConnection>>();

/** The driver options for a configuration; pure, so the flags can be checked without a server. */
export function dbPoolOptions(config: DbConnectionConfig, options: DbPoolOptions = {}): mysql.PoolOptions {
  return {
    host: config.socketPath ? undefined : config.host,
    port: config.socketPath ? undefined : config.port,
    socketPath: config.socketPath,
    user: config.user,
    password: config.password,
    database: config.database,
    charset: 'utf8mb4',
    dateStrings: true,
    flags: ['FOUND_ROWS'],
    connectionLimit: options.connectionLimit ?? 10,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    keepAliveInitialDelay: KEEP_ALIVE_DELAY_MS,
  };
}

/** mysql2 keeps the socket in `stream`, which its typings leave out. */
export function socketOf(connection: CoreConnection): Socket {
  return (connection as unknown as { stream: Socket }).stream;
}

/**
 * Drops a connection at once: the statement waiting on it fails with
 * PROTOCOL_CONNECTION_LOST and the pool forgets it. A TCP reset, not a FIN: the kernel
 * then discards what it still holds to send, instead of retransmitting a statement
 * that was given up on into a network that comes back after its retry was written.
 */
function severSocket(connection: CoreConnection): void {
  const socket = socketOf(connection);
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy(); // a Unix socket has no reset
  }
}

/** `SELECT 1` on a pooled connection, given up (and the connection severed) after `timeoutMs`. */
export async function checkDbConnection(pool: DbPool, timeoutMs: number): Promise<void> {
  const connection = await pool.getConnection();
  try {
    await withinDeadline(connection.query('SELECT 1'), timeoutMs, () => severConnection(connection));
    connection.release();
  } catch (err) {
    connection.destroy();
    throw err;
  }
}

/** severSocket() for a connection taken from the pool. */
export function severConnection(connection: mysql.PoolConnection): void {
  // The promise wrapper's `connection` is the callback connection, whatever its typings say.
  severSocket(connection.connection as unknown as CoreConnection);
}

/**
 * pool.end(), which waits for every connection's QUIT, for at most `withinMs`; then
 * the connections still open (a statement hung on them) are severed. Resolves how
 * many were.
 */
export async function endDbPool(pool: DbPool, withinMs: number): Promise<number> {
  const ended = await settledWithin(pool.end(), withinMs, (err) => log.debug(`closing the database pool: ${describeDbError(err)}`));
  if (ended) return 0;
  const open = [...(openConnections.get(pool) ?? [])];
  open.forEach(severSocket);
  return open.length;
}

export function createDbPool(config: DbConnectionConfig, options: DbPoolOptions = {}): DbPool {
  const pool = mysql.createPool(dbPoolOptions(config, options));
  const open = new Set<CoreConnection>();
  openConnections.set(pool, open);
  // A pooled connection that dies while idle emits 'error'; the pool only listens
  // once, so a second emission (e.g. a write after the socket closed) would be an
  // unhandled error that ends the process. The statement that hits it is retried.
  pool.on('connection', (connection) => {
    connection.on('error', (err: unknown) => log.debug(`connection ${connection.threadId}: ${describeDbError(err)}`));
    // The event hands over the callback connection, whatever the promise typings say.
    const core = connection as unknown as CoreConnection;
    open.add(core);
    socketOf(core).once('close', () => open.delete(core));
    // REPEATABLE READ (InnoDB's default) takes gap locks when an UPDATE finds no row,
    // and concurrent status batches then deadlock on the inserts that follow.
    core.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (err) => {
      if (err) log.warn(`cannot set READ COMMITTED on connection ${connection.threadId}: ${describeDbError(err)}`);
    });
    // mysql2 escapes quotes in values with a backslash. A server running with
    // NO_BACKSLASH_ESCAPES would read that backslash as a character and end the string
    // early, so a registrar's reason phrase could rewrite the statement: this session
    // drops the mode (the server tidies the leftover comma).
    core.query("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')", (err) => {
      if (err) log.error(`cannot clear NO_BACKSLASH_ESCAPES on connection ${connection.threadId}: ${describeDbError(err)}`);
    });
  });
  return pool;
}
