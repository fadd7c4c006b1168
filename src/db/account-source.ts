/**
 * Streams the accounts of an operator's joined query (joined_query /
 * joined_query_subscribers / joined_query_peerings) as typed rows.
 *
 * The result is read row by row with backpressure: while the consumer is busy the
 * driver stops reading the socket, so 100k accounts are never held in memory twice
 * (SEMS uses mysql++'s `use()` for the same reason). Row timestamps are turned into
 * "seconds from DB now" against NOW() read on the same connection just before the
 * query (see db-clock.ts).
 *
 * Every wait for the server has a deadline (deadline.ts): NOW(), the query's first
 * reply and each next row while the consumer waits for it. A stalled connection is
 * severed and the stream fails as transient, so the load can be read again.
 */
import type { Connection as CoreConnection, FieldPacket } from 'mysql2';
import type { Readable } from 'node:stream';
import { logger } from '../process/log';
import { locateAccountColumns, toAccountRow, AccountQueryError, type AccountQuery, type AccountRow, type ColumnPositions } from './account-row';
import { readDbClock, type DbClock } from './db-clock';
import { keyColumnOf } from './account-key';
import { StatementTimeoutError, withinDeadline } from './deadline';
import { isTransientDbError } from './db-errors';
import { severConnection, socketOf, type DbPool } from './pool';

export interface AccountStream extends AsyncIterable<AccountRow> {
  /** The DB clock reading the rows' times are relative to. */
  readonly clock: DbClock;
  /** Rows the driver has delivered so far, consumed or buffered. */
  readonly fetched: number;
  /** Rows skipped because their key was NULL, 0, not a decimal integer or beyond 2^31-1. */
  readonly skipped: number;
  /** Abandons the rest of the result and frees the connection. */
  cancel(): void;
}

export interface AccountStreamOptions {
  /** Rows buffered ahead of the consumer before the socket is paused. */
  highWaterMark?: number;
  monotonicNow?: () => number;
  /**
   * Longest wait for the server: for NOW(), and for the next row while none is
   * buffered (a consumer that is slow is no stall). Default 30 s.
   */
  replyTimeoutMs?: number;
}

const log = logger('db');
const DEFAULT_REPLY_TIMEOUT_MS = 30_000;

/** Restart-relevant columns: without them an ACTIVE row cannot be scheduled from the DB. */
const TIMING_COLUMNS = new Set(['last_registration', 'expiry']);

/**
 * Runs the query and resolves once its columns are known: a missing required column
 * or an SQL error rejects here, before any row is handed out. Iterate the result
 * once, to the end or until `break` (or call cancel()), so the connection goes back.
 */
export async function openAccountStream(pool: DbPool, query: AccountQuery, options: AccountStreamOptions = {}): Promise<AccountStream> {
  const connection = await pool.getConnection();
  const replyTimeoutMs = options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
  let clock: DbClock;
  try {
    clock = await withinDeadline(readDbClock(connection, options.monotonicNow), replyTimeoutMs, () => severConnection(connection));
  } catch (err) {
    connection.destroy();
    throw err;
  }
  // The promise wrapper's typings call this a promise Connection; it is the core one,
  // whose query() offers stream().
  const core = connection.connection as unknown as CoreConnection;
  const results: Readable = core.query({ sql: query.sql, rowsAsArray: true })
    .stream({ highWaterMark: options.highWaterMark ?? 256 });

  let fetched = 0;
  let ended = false;
  results.on('result', () => fetched++);
  // Every error goes through destroy(), so the stream's state and its async
  // iterator see it, whoever listens.
  results.on('error', (err) => results.destroy(err));
  const watchdog = watchForStall(results, () => fetched, replyTimeoutMs, () => {
    severConnection(connection);
    results.destroy(new StatementTimeoutError(`'${query.configKey}': no row from the database within ${replyTimeoutMs} ms`));
  });
  // A connection closed under a paused result (backpressure) is not reported by the
  // driver until the consumer drained what was buffered, and then not at all: it looks
  // like a stall. The socket itself says so at once.
  const socket = socketOf(core);
  const onSocketClosed = (): void => {
    results.destroy(Object.assign(new Error(`'${query.configKey}': connection to the database lost during the result`), { code: 'PROTOCOL_CONNECTION_LOST' }));
  };
  socket.once('close', onSocketClosed);
  results.once('end', () => {
    ended = true;
    socket.off('close', onSocketClosed);
    connection.release();
  });
  // Closed before the end (error, break, cancel): the connection may still have
  // rows in flight, so it cannot be reused.
  results.once('close', () => {
    clearInterval(watchdog);
    socket.off('close', onSocketClosed);
    if (!ended) connection.destroy();
  });

  const columns = await columnsOf(results, query);
  logMissingOptional(columns, query);

  let skipped = 0;
  async function* rows(): AsyncGenerator<AccountRow> {
    for await (const values of results) {
      const row = toAccountRow(values as unknown[], columns, query.type, clock);
      if (row) {
        yield row;
      } else {
        skipped++;
        log.warn(`'${query.configKey}': skipping a row whose ${keyColumnOf(query.type)} is NULL, 0 or not an integer`);
      }
    }
  }

  return {
    clock,
    get fetched() { return fetched; },
    get skipped() { return skipped; },
    cancel: () => results.destroy(),
    [Symbol.asyncIterator]: rows,
  };
}

/** Waits for the result's column list; the stream is destroyed on any failure. */
function columnsOf(results: Readable, query: AccountQuery): Promise<ColumnPositions> {
  return new Promise<ColumnPositions>((resolve, reject) => {
    const settle = (outcome: () => void): void => {
      results.off('fields', onFields).off('result', onNoResultSet).off('error', onError);
      outcome();
    };
    const fail = (err: Error): void => settle(() => {
      reject(err);
      results.destroy(err);
    });
    function onFields(fields: FieldPacket[] | undefined): void {
      if (!fields) {
        onNoResultSet();
        return;
      }
      try {
        const columns = locateAccountColumns(fields.map((f) => f.name), query);
        settle(() => resolve(columns));
      } catch (err) {
        fail(err as Error);
      }
    }
    // A statement without a result set (e.g. an UPDATE) sends a result and no (or empty) fields.
    function onNoResultSet(): void {
      fail(new AccountQueryError(`'${query.configKey}' does not return rows: it must be a SELECT`));
    }
    // A lost connection is no fault of the query: it stays transient, to be read again.
    function onError(err: Error): void {
      settle(() => reject(isTransientDbError(err) ? err : new AccountQueryError(`'${query.configKey}' failed: ${err.message}`, { cause: err })));
    }
    results.on('fields', onFields).on('result', onNoResultSet).on('error', onError);
  });
}

/**
 * Calls `onStall` when no row arrived for between one and one and a half `timeoutMs`
 * while none was buffered: the server (or the way to it) stopped answering. While
 * rows are buffered the consumer is what is slow, and backpressure paused the socket.
 * Checks a counter twice per period instead of arming a timer per row.
 */
function watchForStall(results: Readable, rowsSoFar: () => number, timeoutMs: number, onStall: () => void): NodeJS.Timeout {
  let seen = rowsSoFar();
  let quietChecks = 0;
  const timer = setInterval(() => {
    const now = rowsSoFar();
    if (now !== seen || results.readableLength > 0) {
      seen = now;
      quietChecks = 0;
    } else if (++quietChecks >= 2) {
      clearInterval(timer);
      onStall();
    }
  }, timeoutMs / 2);
  return timer.unref();
}

function logMissingOptional(columns: ColumnPositions, query: AccountQuery): void {
  for (const name of columns.missingOptional) {
    const line = `'${query.configKey}' does not select '${name}'; it is treated as NULL`;
    if (TIMING_COLUMNS.has(name)) log.warn(`${line} (ACTIVE accounts are re-registered at start)`);
    else log.debug(line);
  }
}
