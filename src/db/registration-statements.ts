/**
 * The SQL of the write path, built without I/O. Values are always parameters; the
 * only spliced text is the table name from config (validated as an identifier by
 * the config loader, and quoted here) and our own column names.
 */
import { keyColumnOf, type AccountKey } from './account-key';
import type { RegistrationUpdate } from './registration-update';

export interface SqlStatement {
  sql: string;
  params: (string | number)[];
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

/**
 * The UPDATE for one reply. Times use the DB clock like SEMS (NOW()), moved back by
 * the seconds that passed between the 2xx (`registered.atMs`) and `nowMs`: a write
 * that waited in a queue or through a DB outage still stamps the moment of the
 * reply, and expiry stays exactly `grantedSeconds` after last_registration.
 */
export function updateStatement(table: string, key: AccountKey, update: RegistrationUpdate, nowMs: number): SqlStatement {
  const assignments = ['last_code = ?', 'last_reason = ?'];
  const params: (string | number)[] = [Math.trunc(update.lastCode), update.lastReason.slice(0, LAST_REASON_MAX_LENGTH)];
  if (update.status !== undefined) {
    assignments.push('registration_status = ?');
    params.push(update.status);
  }
  if (update.registered) {
    const { grantedSeconds, atMs } = update.registered;
    const age = atMs === undefined ? 0 : Math.max(0, Math.round((nowMs - atMs) / 1000));
    assignments.push('last_registration = TIMESTAMPADD(SECOND, ?, NOW())', 'expiry = TIMESTAMPADD(SECOND, ?, NOW())');
    params.push(-age, Math.round(grantedSeconds) - age);
  }
  if (update.contacts !== undefined) {
    assignments.push('contacts = ?');
    params.push(update.contacts.slice(0, CONTACTS_MAX_LENGTH));
  }
  params.push(key.id);
  return {
    sql: `UPDATE ${quoteTableName(table)} SET ${assignments.join(', ')} WHERE ${keyColumnOf(key.type)} = ?`,
    params,
  };
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
 * One UPDATE for many accounts of one type (rows known to exist): the values travel
 * as a parameterised derived table joined on the key. A column is only named when
 * some row changes it, so tables without optional columns (contacts) keep working;
 * rows that leave it alone keep their value through IF(has_x, new, old).
 */
export function batchUpdateStatement(
  table: string,
  rows: readonly { key: AccountKey; update: RegistrationUpdate }[],
  nowMs: number,
): SqlStatement {
  const column = keyColumnOf((rows[0] as { key: AccountKey }).key.type);
  const anyStatus = rows.some((r) => r.update.status !== undefined);
  const anyRegistered = rows.some((r) => r.update.registered !== undefined);
  const anyContacts = rows.some((r) => r.update.contacts !== undefined);
  const params: (string | number)[] = [];
  const selects = rows.map(({ key, update }, i) => {
    const { registered } = update;
    const age = registered?.atMs === undefined ? 0 : Math.max(0, Math.round((nowMs - registered.atMs) / 1000));
    params.push(
      key.id, Math.trunc(update.lastCode), update.lastReason.slice(0, LAST_REASON_MAX_LENGTH),
      update.status === undefined ? 0 : 1, update.status ?? 0,
      registered ? 1 : 0, -age, registered ? Math.round(registered.grantedSeconds) - age : 0,
      update.contacts === undefined ? 0 : 1, (update.contacts ?? '').slice(0, CONTACTS_MAX_LENGTH),
    );
    return i === 0
      ? 'SELECT ? AS k, ? AS code, ? AS reason, ? AS has_status, ? AS status, ? AS has_reg, ? AS reg_at, ? AS expiry_at, ? AS has_contacts, ? AS contacts'
      : 'SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?';
  });
  const assignments = ['t.last_code = v.code', 't.last_reason = v.reason'];
  if (anyStatus) assignments.push('t.registration_status = IF(v.has_status, v.status, t.registration_status)');
  if (anyRegistered) {
    assignments.push(
      't.last_registration = IF(v.has_reg, TIMESTAMPADD(SECOND, v.reg_at, NOW()), t.last_registration)',
      't.expiry = IF(v.has_reg, TIMESTAMPADD(SECOND, v.expiry_at, NOW()), t.expiry)',
    );
  }
  if (anyContacts) assignments.push('t.contacts = IF(v.has_contacts, v.contacts, t.contacts)');
  return {
    sql: `UPDATE ${quoteTableName(table)} AS t JOIN (${selects.join(' UNION ALL ')}) AS v ON t.${column} = v.k SET ${assignments.join(', ')}`,
    params,
  };
}
