/** The pure parts of src/db: no server needed. */
import assert from 'node:assert/strict';
import { locateAccountColumns, toAccountRow, AccountQueryError, type AccountQuery } from '../../src/db/account-row';
import { parseDbDateTime, secondsFromDbNow, type DbClock } from '../../src/db/db-clock';
import { isServerNotWritable, isTransientDbError, isUnstorableText } from '../../src/db/db-errors';
import { composeWrites, pendingWriteOf, type PendingWrite, type WriteOperation } from '../../src/db/pending-write';
import { dbPoolOptions } from '../../src/db/pool';
import { RegistrationStatus } from '../../src/db/registration-status';
import {
  LAST_REASON_MAX_LENGTH, batchUpdateStatement, existingKeysStatement, quoteTableName, updateShape, updateStatement,
} from '../../src/db/registration-statements';
import { mergeUpdates, withAsciiTexts, type RegistrationUpdate } from '../../src/db/registration-update';

const clockAt = (dbNow: string): DbClock => ({ dbNow, dbNowMs: parseDbDateTime(dbNow)!, monotonicMs: 0 });

describe('db: pure functions', () => {
  describe('DATETIME arithmetic', () => {
    it('is naive wall-clock arithmetic, independent of the process time zone and DST', () => {
      // 01:30 → 03:30 on the US DST night: 2 h of wall clock, as TIMESTAMPADD counts.
      assert.equal(secondsFromDbNow('2026-03-08 03:30:00', clockAt('2026-03-08 01:30:00')), 7200);
      assert.equal(secondsFromDbNow('2026-11-26 23:00:00', clockAt('2026-11-26 23:00:30.500000')), -30.5);
    });

    it('maps NULL, zero dates and garbage to null', () => {
      const clock = clockAt('2026-01-01 00:00:00');
      assert.equal(secondsFromDbNow(null, clock), null);
      assert.equal(secondsFromDbNow('0000-00-00 00:00:00', clock), null);
      assert.equal(secondsFromDbNow('yesterday', clock), null);
    });
  });

  describe('account columns and rows', () => {
    const query: AccountQuery = { type: 'peering', sql: 'select …', configKey: 'joined_query_peerings' };
    const names = ['PEER_HOST_ID', 'user', 'pass', 'realm', 'registration_status', 'expiry', 'auth_user', 'user'];

    it('finds columns case-insensitively, the first of a name winning, and lists missing optional ones', () => {
      const columns = locateAccountColumns(names, query);
      assert.equal(columns.id, 0);
      assert.equal(columns.user, 1);
      assert.deepEqual(columns.missingOptional, ['contact', 'last_registration']);
    });

    it('names the missing required column and the config key', () => {
      assert.throws(() => locateAccountColumns(['subscriber_id', 'user', 'realm', 'registration_status'], { ...query, type: 'subscriber', configKey: 'joined_query' }),
        (err: unknown) => err instanceof AccountQueryError && /'joined_query'/.test(err.message) && /'pass'/.test(err.message) && !/'user'/.test(err.message));
      assert.throws(() => locateAccountColumns(['subscriber_id', 'user', 'pass', 'realm', 'registration_status'], query), /'joined_query_peerings' returns no column 'peer_host_id'/);
    });

    it('types a row and skips unusable keys', () => {
      const columns = locateAccountColumns(names, query);
      const clock = clockAt('2026-01-01 12:00:00');
      const row = toAccountRow([7, 'u', Buffer.from('p'), 'r', '2', '2026-01-01 12:30:00', '', 'ignored'], columns, 'peering', clock);
      assert.deepEqual(row, {
        type: 'peering', id: 7, user: 'u', pass: 'p', realm: 'r', contact: null, authUser: '',
        status: 2, lastRegistration: null, expiry: 1800,
      });
      assert.equal(toAccountRow([0, 'u', 'p', 'r', null, null, null, null], columns, 'peering', clock), null);
      assert.equal(toAccountRow([null, 'u', 'p', 'r', null, null, null, null], columns, 'peering', clock), null);
      assert.equal(toAccountRow(['1.5', 'u', 'p', 'r', null, null, null, null], columns, 'peering', clock), null);
      // Number() would read these as 16, 100 and 3e9; the last one past the column's range too.
      for (const bad of ['0x10', '1e2', '3000000000', 2 ** 31, -4, '-4', '', ' ']) {
        assert.equal(toAccountRow([bad, 'u', 'p', 'r', null, null, null, null], columns, 'peering', clock), null, String(bad));
      }
      for (const [good, id] of [[' 42 ', 42], [Buffer.from('17'), 17], [2 ** 31 - 1, 2 ** 31 - 1], ['0042', 42]] as const) {
        assert.equal(toAccountRow([good, 'u', 'p', 'r', null, null, null, null], columns, 'peering', clock)?.id, id, String(good));
      }
      assert.equal(toAccountRow([3, 'u', 'p', 'r', null, null, 'au', null], columns, 'peering', clock)?.authUser, 'au');
      assert.equal(toAccountRow([3, 'u', 'p', 'r', null, null, null, null], columns, 'peering', clock)?.authUser, null);
    });
  });

  describe('UPDATE statement', () => {
    const key = { type: 'subscriber' as const, id: 42 };

    it('sets only what the reply carries, parameterised', () => {
      const s = updateStatement('registrations', key, { lastCode: 401, lastReason: "x'; DROP TABLE t; --" }, 0);
      assert.equal(s.sql, 'UPDATE `registrations` SET last_code = ?, last_reason = ? WHERE subscriber_id = ?');
      assert.deepEqual(s.params, [401, "x'; DROP TABLE t; --", 42]);
    });

    it('moves NOW() back by the time since the 2xx and keeps expiry exactly granted seconds later', () => {
      const update: RegistrationUpdate = {
        lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, contacts: '<sip:a@b>',
        registered: { grantedSeconds: 3600, atMs: 1_000 },
      };
      const s = updateStatement('sems.registrations', { type: 'peering', id: 5 }, update, 61_400);
      assert.match(s.sql, /^UPDATE `sems`\.`registrations` SET .* WHERE peer_host_id = \?$/);
      assert.match(s.sql, /last_registration = TIMESTAMPADD\(SECOND, \?, NOW\(\)\), expiry = TIMESTAMPADD\(SECOND, \?, NOW\(\)\)/);
      assert.deepEqual(s.params, [200, 'OK', 2, -60, 3540, '<sip:a@b>', 5]);
    });

    it('cuts an over-long reason to the column size', () => {
      const s = updateStatement('r', key, { lastCode: 500, lastReason: 'x'.repeat(1000) }, 0);
      assert.equal((s.params[1] as string).length, LAST_REASON_MAX_LENGTH);
    });

    it('updates rows of one shape through a derived table of their values, and asks which keys exist', () => {
      const rows = [
        { key, update: { lastCode: 200, lastReason: 'OK', registered: { grantedSeconds: 60, atMs: 0 } } },
        { key: { type: 'subscriber' as const, id: 7 }, update: { lastCode: 200, lastReason: 'OK', registered: { grantedSeconds: 60, atMs: 1_000 } } },
      ];
      const s = batchUpdateStatement('r', rows, 2_000);
      assert.equal(s.sql, 'UPDATE `r` AS t JOIN (SELECT ? AS k, ? AS v0, ? AS v1, ? AS v2, ? AS v3 UNION ALL SELECT ?, ?, ?, ?, ?) AS v '
        + 'ON t.subscriber_id = v.k SET t.last_code = v.v0, t.last_reason = v.v1, '
        + 't.last_registration = TIMESTAMPADD(SECOND, v.v2, NOW()), t.expiry = TIMESTAMPADD(SECOND, v.v3, NOW())');
      assert.deepEqual(s.params, [42, 200, 'OK', -2, 58, 7, 200, 'OK', -1, 59]);
      const e = existingKeysStatement('r', [{ type: 'peering', id: 3 }, { type: 'peering', id: 9 }]);
      assert.equal(e.sql, 'SELECT peer_host_id AS k FROM `r` WHERE peer_host_id IN (?, ?)');
      assert.deepEqual(e.params, [3, 9]);
    });

    it('tells update shapes apart by the optional columns they set', () => {
      const shapes = [
        { lastCode: 401, lastReason: 'x' },
        { lastCode: 408, lastReason: 'x', status: 3 },
        { lastCode: 200, lastReason: 'x', registered: { grantedSeconds: 1 } },
        { lastCode: 200, lastReason: 'x', contacts: '' },
        { lastCode: 200, lastReason: 'x', status: 2, registered: { grantedSeconds: 1 }, contacts: 'c' },
      ].map((u) => updateShape(u as RegistrationUpdate));
      assert.equal(new Set(shapes).size, shapes.length);
      assert.equal(updateShape({ lastCode: 500, lastReason: 'other' }), shapes[0]);
    });

    it('quotes table names', () => {
      assert.equal(quoteTableName('a.b'), '`a`.`b`');
      assert.equal(quoteTableName('we`ird'), '`we``ird`');
    });
  });

  describe('texts a column cannot hold', () => {
    it('replaces every non-ASCII character of reason and contacts by one ?, and says when there is none', () => {
      assert.deepEqual(withAsciiTexts({ lastCode: 403, lastReason: 'Verboten \u2603', status: 3, contacts: '<sip:\u00fc@h>;x=\u{1F600}' }),
        { lastCode: 403, lastReason: 'Verboten ?', status: 3, contacts: '<sip:?@h>;x=?' });
      assert.equal(withAsciiTexts({ lastCode: 200, lastReason: 'OK', contacts: '<sip:a@h>' }), undefined);
    });

    it('recognises the server refusing a string for its character set, and nothing else', () => {
      const refused = { errno: 1366, sqlMessage: "Incorrect string value: '\\xE2\\x98\\x83' for column `registrations`.`last_reason` at row 1" };
      assert.equal(isUnstorableText(refused), true);
      assert.equal(isUnstorableText({ errno: 1366, sqlMessage: "Incorrect integer value: 'x' for column `last_code` at row 1" }), false);
      assert.equal(isUnstorableText({ errno: 1264, sqlMessage: 'Out of range value' }), false);
      assert.equal(isUnstorableText(new Error('Incorrect string value')), false);
    });
  });

  describe('coalescing', () => {
    const ok = (code: number, extra: Partial<RegistrationUpdate> = {}): RegistrationUpdate => ({ lastCode: code, lastReason: `r${code}`, ...extra });

    it('merges field by field, the newest value winning', () => {
      const merged = mergeUpdates(
        ok(200, { status: RegistrationStatus.Active, contacts: 'c1', registered: { grantedSeconds: 60, atMs: 5 } }),
        ok(401));
      assert.deepEqual(merged, { lastCode: 401, lastReason: 'r401', status: 2, contacts: 'c1', registered: { grantedSeconds: 60, atMs: 5 } });
      assert.equal(mergeUpdates(ok(1), ok(2, { contacts: '' }))?.contacts, '');
    });

    /** Applies operations one by one to a model row: the reference the composition must match. */
    function sequentially(operations: WriteOperation[], row: Map<string, unknown> | null): Map<string, unknown> | null {
      for (const op of operations) {
        if (op.kind === 'remove') row = null;
        else if (op.kind === 'insertIfMissing') row = row ?? new Map();
        else {
          row = row ?? new Map();
          for (const [field, value] of Object.entries(op.update)) if (value !== undefined) row.set(field, value);
        }
      }
      return row;
    }
    function applied(write: PendingWrite, row: Map<string, unknown> | null): Map<string, unknown> | null {
      const steps: WriteOperation[] = [];
      if (write.remove) steps.push({ kind: 'remove' });
      if (write.ensure) steps.push({ kind: 'insertIfMissing' });
      if (write.update) steps.push({ kind: 'update', update: write.update });
      return sequentially(steps, row);
    }

    it('gives the same row as applying every operation in order (all sequences of up to 4 operations)', () => {
      const alphabet: WriteOperation[] = [
        { kind: 'insertIfMissing' }, { kind: 'remove' },
        { kind: 'update', update: ok(100, { status: RegistrationStatus.Pending }) },
        { kind: 'update', update: ok(200, { status: RegistrationStatus.Active, contacts: 'c', registered: { grantedSeconds: 60, atMs: 1 } }) },
        { kind: 'update', update: ok(401) },
      ];
      let checked = 0;
      const sequences = (n: number): WriteOperation[][] => (n === 0 ? [[]] : sequences(n - 1).flatMap((s) => alphabet.map((op) => [...s, op])));
      for (let length = 1; length <= 4; length++) {
        for (const operations of sequences(length)) {
          const folded = operations.map((op, i) => pendingWriteOf(op, i)).reduce(composeWrites);
          assert.equal(folded.queuedAtMs, 0, 'keeps the oldest queue time');
          for (const start of [null, new Map<string, unknown>([['lastCode', 1], ['status', 4]])]) {
            assert.deepEqual(applied(folded, start && new Map(start)), sequentially(operations, start && new Map(start)),
              `sequence ${operations.map((o) => o.kind).join(',')}`);
            checked++;
          }
        }
      }
      assert.ok(checked > 1000);
    });
  });

  it('classifies driver errors', () => {
    assert.equal(isTransientDbError({ code: 'PROTOCOL_CONNECTION_LOST', fatal: true }), true);
    assert.equal(isTransientDbError({ code: 'ECONNREFUSED', errno: -111, fatal: true }), true);
    assert.equal(isTransientDbError({ code: 'ER_SERVER_SHUTDOWN', errno: 1053 }), true);
    assert.equal(isTransientDbError({ code: 'ER_LOCK_DEADLOCK', errno: 1213 }), true);
    assert.equal(isTransientDbError(Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true })), true);
    assert.equal(isTransientDbError({ code: 'ER_PARSE_ERROR', errno: 1064 }), false);
    assert.equal(isTransientDbError({ code: 'ER_TABLEACCESS_DENIED_ERROR', errno: 1142 }), false);
    assert.equal(isTransientDbError({ code: 'ER_NO_SUCH_TABLE', errno: 1146 }), false);
    assert.equal(isTransientDbError(new Error('boom')), false);
  });

  it('waits out a server that takes no writes now, on a new connection (read-only, Galera outside the primary component)', () => {
    for (const errno of [1047, 1290, 1792, 1836]) {
      assert.equal(isTransientDbError({ errno }), true, `errno ${errno}`);
      assert.equal(isServerNotWritable({ errno }), true, `errno ${errno}`);
    }
    assert.equal(isServerNotWritable({ code: 'ER_LOCK_DEADLOCK', errno: 1213 }), false);
    assert.equal(isServerNotWritable({ code: 'PROTOCOL_CONNECTION_LOST', fatal: true }), false);
  });

  it('configures the driver for strings as dates, matched-row counts and keep-alive probes after 10 s', () => {
    const options = dbPoolOptions({ host: 'h', port: 3307, user: 'u', password: 'p', database: 'd' });
    assert.equal(options.dateStrings, true);
    assert.deepEqual(options.flags, ['FOUND_ROWS']);
    assert.deepEqual([options.enableKeepAlive, options.keepAliveInitialDelay], [true, 10_000]);
    const socket = dbPoolOptions({ host: 'localhost', port: 3306, socketPath: '/run/mysqld/mysqld.sock', user: 'u', password: 'p', database: 'd' });
    assert.equal(socket.socketPath, '/run/mysqld/mysqld.sock');
    assert.equal(socket.host, undefined);
  });
});
