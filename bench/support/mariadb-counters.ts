/**
 * MariaDB's global statement counters (SHOW GLOBAL STATUS). performance_schema is off
 * on the test server, so per-connection counts are not available: the figures are
 * server-wide, and a benchmark measures the background rate next to its own run to
 * show how much of the delta is someone else's.
 */
import mysql from 'mysql2/promise';
import { MARIADB_ROOT } from '../../test/support/mariadb';

export interface StatementCounters {
  /** Com_insert + Com_update + Com_delete (+ their multi-table variants). */
  writes: number;
  /** Every statement a client sent (Questions). */
  questions: number;
  /** performance.now() when read. */
  at: number;
}

const WRITE_COUNTERS = ['Com_insert', 'Com_update', 'Com_delete', 'Com_insert_select', 'Com_update_multi', 'Com_delete_multi', 'Com_replace'];

export async function readStatementCounters(): Promise<StatementCounters> {
  const connection = await mysql.createConnection({ ...MARIADB_ROOT, connectTimeout: 5000 });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', ?)", [WRITE_COUNTERS]);
    const value = (name: string): number => Number(rows.find((r) => r.Variable_name === name)?.Value ?? 0);
    return {
      writes: WRITE_COUNTERS.reduce((sum, name) => sum + value(name), 0),
      questions: value('Questions'),
      at: performance.now(),
    };
  } finally {
    await connection.end();
  }
}

export interface StatementRates {
  writes: number;
  questions: number;
  seconds: number;
  writesPerSecond: number;
  questionsPerSecond: number;
}

export function statementRates(before: StatementCounters, after: StatementCounters): StatementRates {
  const seconds = (after.at - before.at) / 1000;
  const writes = after.writes - before.writes;
  const questions = after.questions - before.questions;
  return { writes, questions, seconds, writesPerSecond: writes / seconds, questionsPerSecond: questions / seconds };
}

/** The server's statement rates over `ms` while the benchmark itself does nothing. */
export async function backgroundStatementRates(ms: number): Promise<StatementRates> {
  const before = await readStatementCounters();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return statementRates(before, await readStatementCounters());
}
