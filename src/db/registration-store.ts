/**
 * Writes accounts' registrations rows (SPEC §3).
 *
 * Every statement here is idempotent (INSERT IGNORE of a key, UPDATE to absolute
 * values, DELETE by key), and so is every sequence of them: after a lost connection
 * the whole operation is simply run again on a new connection. Other errors reach
 * the caller. Queueing, coalescing and outages are status-writer.ts's job.
 *
 * Every statement has a deadline (statementTimeoutMs, deadline.ts). A statement the
 * server had already received (waiting for a lock, say) when its connection was
 * severed still runs there, or is rolled back with its transaction; either way first,
 * as the retry queues behind it for the same rows.
 */
import { performance } from 'node:perf_hooks';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import type mysql from 'mysql2/promise';
import { logger } from '../process/log';
import { keyColumnOf, type AccountKey, type AccountType } from './account-key';
import { withConnectionRetry } from './connection-retry';
import { isServerNotWritable } from './db-errors';
import { withinDeadline } from './deadline';
import type { PendingWrite } from './pending-write';
import { severConnection, type DbPool } from './pool';
import {
  batchUpdateStatement, deleteStatement, existingKeysStatement, insertIfMissingStatement, insertKeysIfMissingStatement, updateShape,
  updateStatement, type KeyedUpdate, type SqlStatement,
} from './registration-statements';
import type { RegistrationUpdate } from './registration-update';

/** updated: a row matched; inserted: none did, so the key was inserted and the update repeated. */
export type UpdateOutcome = 'updated' | 'inserted' | 'missing';

export interface KeyedWrite {
  key: AccountKey;
  write: PendingWrite;
}

export interface RegistrationStoreOptions {
  /** Attempts per operation when the connection is lost. */
  connectionAttempts?: number;
  /** Longest wait for a statement's reply before its connection is severed and the operation retried. */
  statementTimeoutMs?: number;
  monotonicNow?: () => number;
}

/**
 * A healthy database answers a status statement in milliseconds; one that is busy
 * (a long table lock, InnoDB's 50 s lock wait) is not hurt by a retry after 30 s.
 */
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/** Runs one statement, built at the moment it runs (its time compensation counts until then). */
type Execute = <T extends ResultSetHeader | RowDataPacket[] = ResultSetHeader>(build: () => SqlStatement) => Promise<T>;

/** One step of a batch: a statement, or a few that depend on each other's results. */
type Step = (execute: Execute) => Promise<unknown>;

const log = logger('db');

function byKey(a: KeyedWrite, b: KeyedWrite): number {
  return a.key.type === b.key.type ? a.key.id - b.key.id : a.key.type < b.key.type ? -1 : 1;
}

/**
 * Whether the key is inserted before the update: asked for (no row at start-up), or
 * just deleted. Other updates find their row, so they go first and insert only on a miss.
 */
function insertsKeyFirst(write: PendingWrite): boolean {
  return write.ensure || (write.remove && write.update !== undefined);
}

const statement = (sql: string): (() => SqlStatement) => () => ({ sql, params: [] });
const START_TRANSACTION = statement('START TRANSACTION');
const COMMIT = statement('COMMIT');
const ROLLBACK = statement('ROLLBACK');

/**
 * Status writes go as text-protocol statements with the values escaped by mysql2, not
 * as server-side prepared statements: a batch's text changes with its size, and every
 * distinct text would stay prepared on each connection with its parameter metadata
 * (29 MB at 100 000 accounts, measured with a heap snapshot).
 * A statement without a reply within `timeoutMs` is given up: `onTimeout` severs its connection.
 */
function executeOn(connection: mysql.PoolConnection, timeoutMs: number, onTimeout: () => void): Execute {
  return async <T extends ResultSetHeader | RowDataPacket[]>(build: () => SqlStatement): Promise<T> => {
    const { sql, params } = build();
    const [result] = await withinDeadline(connection.query<T>(sql, params), timeoutMs, onTimeout);
    return result;
  };
}

export class RegistrationStore {
  private readonly now: () => number;
  private readonly statementTimeoutMs: number;
  /** What information_schema said about the table, by question. */
  private readonly tableFacts = new Map<string, Promise<boolean>>();

  constructor(
    private readonly pool: DbPool,
    /** registrations_table; already validated as an identifier by the config loader. */
    readonly table: string,
    private readonly options: RegistrationStoreOptions = {},
  ) {
    this.now = options.monotonicNow ?? (() => performance.now());
    this.statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  }

  /** Creates the key-only row unless one exists. Resolves true when it inserted. */
  insertIfMissing(key: AccountKey): Promise<boolean> {
    return this.run('insert', (execute) => this.insertWith(execute, key));
  }

  /**
   * Applies a reply to the row. When no row matches (matched rows, thanks to
   * FOUND_ROWS), the key is inserted and the update repeated, as SEMS does.
   */
  update(key: AccountKey, update: RegistrationUpdate): Promise<UpdateOutcome> {
    return this.run('update', (execute) => this.updateWith(execute, key, update));
  }

  /** Deletes the row. Resolves true when there was one. */
  remove(key: AccountKey): Promise<boolean> {
    return this.run('delete', (execute) => this.removeWith(execute, key));
  }

  /**
   * Applies several accounts' pending writes in ONE transaction (one commit, one log
   * flush, instead of one per row), or as one autocommit statement when that is all
   * they need: what lets thousands of replies per second through.
   */
  applyAll(writes: readonly KeyedWrite[]): Promise<void> {
    const what = `${writes.length} write(s)`;
    return this.retried(what, async () => {
      // One lock order for every transaction: concurrent batches cannot deadlock on each other's rows.
      const sorted = [...writes].sort(byKey);
      const steps: Step[] = [];
      let rowByRow = false;
      for (const type of ['peering', 'subscriber'] as const) {
        const group = sorted.filter((w) => w.key.type === type);
        if (group.length === 0) continue;
        // Asked before taking a connection: asking while holding one could wait forever for a second.
        if (await this.keyIsUnique(type)) {
          steps.push(...this.batchedSteps(group));
        } else {
          rowByRow = true;
          for (const { key, write } of group) steps.push((execute) => this.applyWith(execute, key, write));
        }
      }
      await this.withConnection(what, async (execute) => {
        const [only] = steps;
        if (steps.length === 1 && !rowByRow && only) {
          await only(execute); // autocommit
          return;
        }
        await execute(START_TRANSACTION);
        for (const step of steps) await step(execute);
        await execute(COMMIT);
      });
    });
  }

  /**
   * Runs `work` on a pooled connection, each statement within the deadline. After a
   * failure the connection is rolled back (a no-op outside a transaction) before it
   * goes back to the pool; one that cannot even roll back, was severed, or reached a server
   * that takes no writes (read-only, Galera outside the primary component) is not pooled again.
   */
  private async withConnection<T>(what: string, work: (execute: Execute) => Promise<T>): Promise<T> {
    const connection = await this.pool.getConnection();
    let severed = false;
    const execute = executeOn(connection, this.statementTimeoutMs, () => {
      severed = true;
      log.warn(`${what} in '${this.table}': no reply from the database within ${this.statementTimeoutMs} ms; ` +
        `connection ${connection.threadId} closed, retrying on a new one`);
      severConnection(connection);
    });
    try {
      const result = await work(execute);
      connection.release();
      return result;
    } catch (err) {
      if (severed || isServerNotWritable(err)) connection.destroy();
      else await execute(ROLLBACK).then(() => connection.release(), () => connection.destroy());
      throw err;
    }
  }

  /**
   * Many accounts of one type in a few statements instead of two per account: the
   * round trips, not the rows, are what limits the writer while SIP traffic keeps the
   * event loop busy. Deletes (rare) go first, row by row; keys to insert first
   * (insertsKeyFirst) get one INSERT IGNORE; updates go per shape (at a mass start
   * every row has the same) as one UPDATE, and only the rows it did not find are
   * inserted and updated again: the statements of the row-by-row path, batched.
   *
   * No INSERT … ON DUPLICATE KEY UPDATE, although it would save the missing rows a
   * round trip: its insert attempt happens for existing rows too, so in strict SQL
   * mode it fails on any other NOT NULL column without a default (the one-table
   * setup's user/pass/realm), it fires the operator's BEFORE INSERT triggers on every
   * refresh, and it spends an AUTO_INCREMENT id per row named. Needs a unique key column.
   */
  private batchedSteps(group: readonly KeyedWrite[]): Step[] {
    const steps: Step[] = [];
    for (const { key, write } of group) if (write.remove) steps.push((execute) => this.removeWith(execute, key));
    const insertFirst = group.filter(({ write }) => insertsKeyFirst(write)).map(({ key }) => key);
    if (insertFirst.length > 0) steps.push((execute) => execute(() => insertKeysIfMissingStatement(this.table, insertFirst)));
    /** Accounts whose updates set the same columns. */
    const byShape = new Map<number, KeyedUpdate[]>();
    for (const { key, write } of group) {
      if (!write.update) continue;
      const shape = updateShape(write.update);
      const rows = byShape.get(shape);
      if (rows) rows.push({ key, update: write.update });
      else byShape.set(shape, [{ key, update: write.update }]);
    }
    for (const rows of byShape.values()) steps.push((execute) => this.updateThenInsertMissing(execute, rows));
    return steps;
  }

  private async updateThenInsertMissing(execute: Execute, rows: readonly KeyedUpdate[]): Promise<void> {
    const updated = await execute(() => batchUpdateStatement(this.table, rows, this.now()));
    if (updated.affectedRows >= rows.length) return; // matched rows (FOUND_ROWS)
    const found = await execute<RowDataPacket[]>(() => existingKeysStatement(this.table, rows.map((r) => r.key)));
    const existing = new Set(found.map((row) => Number(row.k)));
    const missing = rows.filter((r) => !existing.has(r.key.id));
    if (missing.length === 0) return;
    await execute(() => insertKeysIfMissingStatement(this.table, missing.map((r) => r.key)));
    const repeated = await execute(() => batchUpdateStatement(this.table, missing, this.now()));
    if (repeated.affectedRows < missing.length) {
      log.warn(`${missing.length - repeated.affectedRows} of ${missing.length} row(s) still missing in '${this.table}' after inserting them; their status is not stored`);
    }
  }

  /** Whether the key column has a one-column unique index (README schema: the primary key). */
  private keyIsUnique(type: AccountType): Promise<boolean> {
    return this.tableFact(`unique ${type}`, async (schema, table) => {
      const rows = await this.lookUp(`index look-up`, {
        sql: 'SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) ' +
          'AND TABLE_NAME = ? AND NON_UNIQUE = 0 GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = ?',
        params: [schema, table, keyColumnOf(type)],
      });
      if (rows.length === 0) log.info(`'${this.table}' has no unique index on ${keyColumnOf(type)}: writing row by row`);
      return rows.length > 0;
    });
  }

  /** Whether the table has `column` (e.g. the optional contacts). */
  hasColumn(column: string): Promise<boolean> {
    return this.tableFact(`column ${column}`, async (schema, table) => {
      const rows = await this.lookUp(`column look-up`, {
        sql: 'SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = ?',
        params: [schema, table, column],
      });
      return rows.length > 0;
    });
  }

  /** One information_schema query, under the same deadline as the writes. */
  private lookUp(what: string, query: SqlStatement): Promise<RowDataPacket[]> {
    return this.withConnection(what, (execute) => execute<RowDataPacket[]>(() => query));
  }

  /** Asks information_schema once per question; a failed look-up is asked again next time rather than remembered. */
  private tableFact(question: string, ask: (schema: string | null, table: string) => Promise<boolean>): Promise<boolean> {
    let known = this.tableFacts.get(question);
    if (!known) {
      const [schema, table] = this.table.includes('.') ? this.table.split('.') : [null, this.table];
      known = ask(schema ?? null, table ?? '');
      known.catch(() => this.tableFacts.delete(question));
      this.tableFacts.set(question, known);
    }
    return known;
  }

  /** [delete] → [insert-if-missing] → [update]: the order that gives the sequential result. */
  private async applyWith(execute: Execute, key: AccountKey, write: PendingWrite): Promise<void> {
    if (write.remove) await this.removeWith(execute, key);
    // A row that is (or may be) missing is inserted first: two statements, not update-miss-insert-update.
    if (insertsKeyFirst(write)) await this.insertWith(execute, key);
    if (write.update) await this.updateWith(execute, key, write.update);
  }

  private async insertWith(execute: Execute, key: AccountKey): Promise<boolean> {
    return (await execute(() => insertIfMissingStatement(this.table, key))).affectedRows > 0;
  }

  private async updateWith(execute: Execute, key: AccountKey, update: RegistrationUpdate): Promise<UpdateOutcome> {
    const attempt = (): Promise<ResultSetHeader> => execute(() => updateStatement(this.table, key, update, this.now()));
    if ((await attempt()).affectedRows > 0) return 'updated';
    await this.insertWith(execute, key);
    if ((await attempt()).affectedRows > 0) return 'inserted';
    log.warn(`${key.type} ${key.id}: no row in '${this.table}' after inserting it; status not stored`);
    return 'missing';
  }

  private async removeWith(execute: Execute, key: AccountKey): Promise<boolean> {
    return (await execute(() => deleteStatement(this.table, key))).affectedRows > 0;
  }

  /** One statement sequence on one connection, run again on another after a lost connection. */
  private run<T>(what: string, work: (execute: Execute) => Promise<T>): Promise<T> {
    return this.retried(what, () => this.withConnection(what, work));
  }

  private retried<T>(what: string, run: () => Promise<T>): Promise<T> {
    return withConnectionRetry(run, { attempts: this.options.connectionAttempts, log, what: `${what} in '${this.table}'` });
  }
}
