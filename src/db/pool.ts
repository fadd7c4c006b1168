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
 */
import mysql from 'mysql2/promise';
import type { Connection as CoreConnection } from 'mysql2';
import type { DbConnectionConfig } from '../config/agent-config';
import { logger } from '../log';
import { describeDbError } from './db-errors';

export type DbPool = mysql.Pool;

export interface DbPoolOptions {
  /** Upper bound on open connections (reads and writes together). */
  connectionLimit?: number;
  connectTimeoutMs?: number;
}

const log = logger('db');

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
  };
}

export function createDbPool(config: DbConnectionConfig, options: DbPoolOptions = {}): DbPool {
  const pool = mysql.createPool(dbPoolOptions(config, options));
  // A pooled connection that dies while idle emits 'error'; the pool only listens
  // once, so a second emission (e.g. a write after the socket closed) would be an
  // unhandled error that ends the process. The statement that hits it is retried.
  pool.on('connection', (connection) => {
    connection.on('error', (err: unknown) => log.debug(`connection ${connection.threadId}: ${describeDbError(err)}`));
    // REPEATABLE READ (InnoDB's default) takes gap locks when an UPDATE finds no row,
    // and concurrent status batches then deadlock on the inserts that follow.
    // The event hands over the callback connection, whatever the promise typings say.
    const core = connection as unknown as CoreConnection;
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
