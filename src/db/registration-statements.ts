/**
 * The SQL of the write path, built without I/O. Values are always parameters; the
 * only spliced text is the table name from config (validated as an identifier by
 * the config loader, and quoted here) and our own column names.
 */
import { keyColumnOf, type AccountKey } from './account-key';
import type { RegistrationUpdate } from './registration-update';

export interface SqlStatement {
  sql: string;
  params: (string | number | null)[];
}

/**
 * Column sizes of the README schema. Longer values are cut rather than failing
 * the whole status update under strict SQL mode (a long reason phrase or a large
 * Contact set is not worth losing the status for).
 */
export const LAST_REASON_MAX_LENGTH = 256;
export const CONTACTS_MAX_LENGTH = 512;

/** `table` or `db.table` → backtick-quoted. */
export function quoteTableName(name: string): string {
  return name.split('.').map((part) => `\`${part.replace(/`/g, '``')}\``).join('.');
}

export function insertIfMissingStatement(table: string, key: AccountKey): SqlStatement {
  return {
    sql: `INSERT IGNORE INTO ${quoteTableName(table)} (${keyColumnOf(key.type)}) VALUES (?)`,
    params: [key.id],
  };
}

export function deleteStatement(table: string, key: AccountKey): SqlStatement {
  return {
    sql: `DELETE FROM ${quoteTableName(table)} WHERE ${keyColumnOf(key.type)} = ?`,
    params: [key.id],
  };
}

/** Which optional columns an update sets (bit set); rows of one shape share a statement. */
export function updateShape(update: RegistrationUpdate): number {
  return (update.status !== undefined ? 1 : 0) | (update.registered ? 2 : 0) | (update.contacts !== undefined ? 4 : 0);
}

interface UpdateColumn {
  column: string;
  /** What stands for the value in the statement. */
  placeholder: string;
}

/**
 * The columns an update of `shape` writes, in the order updateValues gives their
 * values. Times use the DB clock like SEMS (NOW()), moved back by the seconds that
 * passed between the 2xx (`registered.atMs`) and the write: a write that waited in a
 * queue or through a DB outage still stamps the moment of the reply, and expiry stays
 * exactly `grantedSeconds` after last_registration.
 */
function updateColumns(shape: number): UpdateColumn[] {
  const columns = [{ column: 'last_code', placeholder: '?' }, { column: 'last_reason', placeholder: '?' }];
  if (shape & 1) columns.push({ column: 'registration_status', placeholder: '?' });
  if (shape & 2) {
    columns.push(
      { column: 'last_registration', placeholder: 'TIMESTAMPADD(SECOND, ?, NOW())' },
      { column: 'expiry', placeholder: 'TIMESTAMPADD(SECOND, ?, NOW())' },
    );
  }
  if (shape & 4) columns.push({ column: 'contacts', placeholder: '?' });
  return columns;
}

/** Appends `update`'s values in updateColumns order. */
function pushUpdateValues(params: (string | number)[], update: RegistrationUpdate, nowMs: number): void {
  params.push(Math.trunc(update.lastCode), update.lastReason.slice(0, LAST_REASON_MAX_LENGTH));
  if (update.status !== undefined) params.push(update.status);
  if (update.registered) {
    const { grantedSeconds, atMs } = update.registered;
    const age = atMs === undefined ? 0 : Math.max(0, Math.round((nowMs - atMs) / 1000));
    params.push(-age, Math.round(grantedSeconds) - age);
  }
  if (update.contacts !== undefined) params.push(update.contacts.slice(0, CONTACTS_MAX_LENGTH));
}

/** The UPDATE for one reply: only the columns the reply carries. */
export function updateStatement(table: string, key: AccountKey, update: RegistrationUpdate, nowMs: number): SqlStatement {
  const params: (string | number)[] = [];
  pushUpdateValues(params, update, nowMs);
  params.push(key.id);
  const assignments = updateColumns(updateShape(update)).map((c) => `${c.column} = ${c.placeholder}`);
  return {
    sql: `UPDATE ${quoteTableName(table)} SET ${assignments.join(', ')} WHERE ${keyColumnOf(key.type)} = ?`,
    params,
  };
}

/** An account's update, for the statements that write many accounts of one shape. */
export interface KeyedUpdate {
  key: AccountKey;
  update: RegistrationUpdate;
}

/** The columns of the rows' shape (that of the first row) and every row's key and values, in row order. */
function shapedValues(rows: readonly KeyedUpdate[], nowMs: number): { first: KeyedUpdate; columns: UpdateColumn[]; params: (string | number)[] } {
  const first = rows[0] as KeyedUpdate;
  const params: (string | number)[] = [];
  for (const { key, update } of rows) {
    params.push(key.id);
    pushUpdateValues(params, update, nowMs);
  }
  return { first, columns: updateColumns(updateShape(first.update)), params };
}

/** One multi-row INSERT IGNORE of keys (all of one account type). */
export function insertKeysIfMissingStatement(table: string, keys: readonly AccountKey[]): SqlStatement {
  const column = keyColumnOf((keys[0] as AccountKey).type);
  return {
    sql: `INSERT IGNORE INTO ${quoteTableName(table)} (${column}) VALUES ${keys.map(() => '(?)').join(', ')}`,
    params: keys.map((k) => k.id),
  };
}

/**
 * One UPDATE for many accounts of one type whose updates have the same shape: the
 * values travel as a parameterised derived table joined on the key.
 */
export function batchUpdateStatement(table: string, rows: readonly KeyedUpdate[], nowMs: number): SqlStatement {
  const { first, columns, params } = shapedValues(rows, nowMs);
  const firstRow = `SELECT ? AS k, ${columns.map((_, i) => `? AS v${i}`).join(', ')}`;
  const nextRow = `SELECT ?, ${columns.map(() => '?').join(', ')}`;
  const values = [firstRow, ...new Array<string>(rows.length - 1).fill(nextRow)].join(' UNION ALL ');
  const assignments = columns.map((c, i) => `t.${c.column} = ${c.placeholder.replace('?', `v.v${i}`)}`);
  return {
    sql: `UPDATE ${quoteTableName(table)} AS t JOIN (${values}) AS v ON t.${keyColumnOf(first.key.type)} = v.k SET ${assignments.join(', ')}`,
    params,
  };
}

/** Which of `keys` (all of one type) have a row: column `k` of the result. */
export function existingKeysStatement(table: string, keys: readonly AccountKey[]): SqlStatement {
  const column = keyColumnOf((keys[0] as AccountKey).type);
  return {
    sql: `SELECT ${column} AS k FROM ${quoteTableName(table)} WHERE ${column} IN (${keys.map(() => '?').join(', ')})`,
    params: keys.map((k) => k.id),
  };
}
