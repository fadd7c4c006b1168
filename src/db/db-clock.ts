/**
 * Time as the database sees it.
 *
 * `last_registration` and `expiry` are DATETIME: wall-clock values without a time
 * zone, written with the DB's NOW(). They are only meaningful next to the DB's own
 * NOW() in the same session time zone. So we never turn them into instants through
 * the process time zone: both sides are parsed as naive wall-clock times (luxon,
 * zone 'utc' = no offset, no DST) and subtracted. The result, "seconds from DB now",
 * is anchored to the local monotonic clock at the moment NOW() was read; from there
 * on the engine works in monotonic time only, and neither TZ nor a DB host clock
 * offset shifts a refresh.
 */
import { performance } from 'node:perf_hooks';
import { DateTime } from 'luxon';
import type mysql from 'mysql2/promise';

export interface DbClock {
  /** The DB's NOW(6) as the server printed it. */
  dbNow: string;
  /** dbNow as naive wall-clock milliseconds (see parseDbDateTime). */
  dbNowMs: number;
  /** performance.now() at the moment dbNow was true (midpoint of the round trip). */
  monotonicMs: number;
}

/** Anything that can run a query: a pool or one connection. */
export type Queryable = Pick<mysql.Connection, 'query'>;

/**
 * 'YYYY-MM-DD HH:MM:SS[.ffffff]' → milliseconds on a naive time line (the wall
 * clock read as if it were UTC). Only differences of such values mean anything.
 * null for zero dates ('0000-00-00 …') and anything that is not a DATETIME.
 */
export function parseDbDateTime(value: string): number | null {
  const parsed = DateTime.fromSQL(value.trim(), { zone: 'utc' });
  return parsed.isValid ? parsed.toMillis() : null;
}

/** A DATETIME column value as seconds relative to the clock's NOW() (negative = past). */
export function secondsFromDbNow(value: string | null, clock: DbClock): number | null {
  if (value === null) return null;
  const ms = parseDbDateTime(value);
  return ms === null ? null : (ms - clock.dbNowMs) / 1000;
}

export async function readDbClock(db: Queryable, monotonicNow: () => number = () => performance.now()): Promise<DbClock> {
  const before = monotonicNow();
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT NOW(6) AS now');
  const after = monotonicNow();
  const dbNow = String(rows[0]?.now);
  const dbNowMs = parseDbDateTime(dbNow);
  if (dbNowMs === null) {
    throw new Error(`database returned an unreadable NOW(): '${dbNow}' (dateStrings must be enabled)`);
  }
  return { dbNow, dbNowMs, monotonicMs: (before + after) / 2 };
}
