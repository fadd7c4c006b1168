/**
 * One row of an operator's joined query, typed. Columns are found by name as SEMS
 * reads them (case-insensitively, the first column of a name wins); the query may
 * return more columns than we use.
 */
import { keyColumnOf, type AccountType } from './account-key';
import { secondsFromDbNow, type DbClock } from './db-clock';

export interface AccountRow {
  type: AccountType;
  id: number;
  user: string;
  pass: string;
  realm: string;
  /** Per-account Contact; null when absent or not selected. */
  contact: string | null;
  /** auth_user as read; null when NULL or not selected. What an empty one means is authUserOf's rule. */
  authUser: string | null;
  /** registration_status; null = the account has no registrations row yet. */
  status: number | null;
  /** Seconds from the DB's NOW() at query time (negative = in the past); null = NULL or unreadable. */
  lastRegistration: number | null;
  expiry: number | null;
}

/** An operator's query and where it came from, for error messages. */
export interface AccountQuery {
  type: AccountType;
  sql: string;
  /** The db_reg_agent.conf key that holds the query, e.g. 'joined_query_peerings'. */
  configKey: string;
}

/** The query is unusable: missing columns, not a SELECT, or it failed (`cause`: the driver error). */
export class AccountQueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccountQueryError';
  }
}

const OPTIONAL_COLUMNS = ['contact', 'auth_user', 'last_registration', 'expiry'] as const;

function requiredColumns(type: AccountType): string[] {
  return [keyColumnOf(type), 'user', 'pass', 'realm', 'registration_status'];
}

/** Result-set position of each column we read; -1 = not selected (optional only). */
export interface ColumnPositions {
  id: number;
  user: number;
  pass: number;
  realm: number;
  status: number;
  contact: number;
  authUser: number;
  lastRegistration: number;
  expiry: number;
  /** Optional columns the query does not select. */
  missingOptional: string[];
}

/** Finds our columns among the query's; throws naming the missing column and the config key. */
export function locateAccountColumns(columnNames: readonly string[], query: AccountQuery): ColumnPositions {
  const lower = columnNames.map((name) => name.toLowerCase());
  const at = (name: string): number => lower.indexOf(name);
  const missing = requiredColumns(query.type).filter((name) => at(name) < 0);
  if (missing.length > 0) {
    throw new AccountQueryError(
      `'${query.configKey}' returns no column ${missing.map((m) => `'${m}'`).join(', ')} ` +
      `(it returns: ${columnNames.join(', ') || 'no columns'})`);
  }
  return {
    id: at(keyColumnOf(query.type)),
    user: at('user'),
    pass: at('pass'),
    realm: at('realm'),
    status: at('registration_status'),
    contact: at('contact'),
    authUser: at('auth_user'),
    lastRegistration: at('last_registration'),
    expiry: at('expiry'),
    missingOptional: OPTIONAL_COLUMNS.filter((name) => at(name) < 0),
  };
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

function asNumber(value: unknown): number | null {
  const text = asText(value);
  if (text === null || text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** The largest id: the DI functions take a signed 32-bit int (SEMS's AmArg), and so do the README's columns. */
const MAX_ACCOUNT_ID = 2 ** 31 - 1;

/**
 * An account id as the query returns it: a decimal integer in 1..2^31-1 (as a number,
 * a bigint or text), else null. `Number()` alone would take '0x10' as 16 and '1e2' as
 * 100, and an id past the column's range would have a row of its own clamped id.
 */
function asAccountId(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 && value <= MAX_ACCOUNT_ID ? value : null;
  const text = asText(value)?.trim();
  if (text === undefined || !/^\d{1,10}$/.test(text)) return null;
  const id = Number(text);
  return id > 0 && id <= MAX_ACCOUNT_ID ? id : null;
}

/**
 * Maps one result row (an array, in column order). null when the key is not a
 * positive integer (asAccountId): SEMS skips such rows (id 0 / NULL), and so do we.
 */
export function toAccountRow(values: readonly unknown[], columns: ColumnPositions, type: AccountType, clock: DbClock): AccountRow | null {
  const column = (position: number): unknown => (position < 0 ? null : values[position]);
  const id = asAccountId(column(columns.id));
  if (id === null) return null;
  const status = asNumber(column(columns.status));
  return {
    type,
    id,
    user: asText(column(columns.user)) ?? '',
    pass: asText(column(columns.pass)) ?? '',
    realm: asText(column(columns.realm)) ?? '',
    contact: asText(column(columns.contact)),
    authUser: asText(column(columns.authUser)),
    status: status === null ? null : Math.trunc(status),
    lastRegistration: secondsFromDbNow(asText(column(columns.lastRegistration)), clock),
    expiry: secondsFromDbNow(asText(column(columns.expiry)), clock),
  };
}
