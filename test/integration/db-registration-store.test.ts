/** The registrations write path, statement by statement, against the real MariaDB. */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { createDbPool, type DbPool } from '../../src/db/pool';
import { RegistrationStatus } from '../../src/db/registration-status';
import { RegistrationStore } from '../../src/db/registration-store';
import type { RegistrationUpdate } from '../../src/db/registration-update';
import { createTestDatabase, type RegistrationRow, type TestDatabase } from '../support/mariadb';

const subscriber = (id: number) => ({ type: 'subscriber' as const, id });

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('db: registration store', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let pool: DbPool;
  let store: RegistrationStore;
  const row = async (id: number): Promise<RegistrationRow | undefined> =>
    (await db.query<RegistrationRow>('SELECT * FROM registrations WHERE subscriber_id = ?', [id]))[0];

  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
    pool = createDbPool(db.config, { connectionLimit: 4 });
    store = new RegistrationStore(pool, 'registrations');
  });
  afterEach(async () => {
    try {
      await pool.end();
    } finally {
      await db.drop();
    }
  });

  it('counts MATCHED rows: an update to identical values reports 1 (FOUND_ROWS), without the flag 0', async () => {
    await db.query("INSERT INTO registrations (subscriber_id, last_code, last_reason) VALUES (1, 200, 'OK')");
    const sql = "UPDATE registrations SET last_code = 200, last_reason = 'OK' WHERE subscriber_id = 1";
    const [matched] = await pool.execute<mysql.ResultSetHeader>(sql);
    assert.equal(matched.affectedRows, 1);
    // Control: the same statement on a connection without FOUND_ROWS counts changed rows.
    const plain = await mysql.createConnection({ ...db.config, flags: ['-FOUND_ROWS'] });
    try {
      const [changed] = await plain.execute<mysql.ResultSetHeader>(sql);
      assert.equal(changed.affectedRows, 0);
    } finally {
      await plain.end();
    }
    // And the store treats the unchanged row as present: no insert attempt needed.
    assert.equal(await store.update(subscriber(1), { lastCode: 200, lastReason: 'OK' }), 'updated');
  });

  it('inserts the key only when missing', async () => {
    assert.equal(await store.insertIfMissing(subscriber(7)), true);
    assert.deepEqual(await row(7), {
      subscriber_id: 7, registration_status: 0, last_registration: null, expiry: null, last_code: null, last_reason: null, contacts: null,
    });
    await db.query("UPDATE registrations SET registration_status = 2, last_reason = 'kept' WHERE subscriber_id = 7");
    assert.equal(await store.insertIfMissing(subscriber(7)), false);
    assert.equal((await row(7))?.last_reason, 'kept');
  });

  it('stores a 2xx with DB-clock times and expiry exactly granted seconds later', async () => {
    await store.insertIfMissing(subscriber(1));
    const outcome = await store.update(subscriber(1), {
      lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, contacts: '<sip:u@10.0.0.1:5060>;expires=600',
      registered: { grantedSeconds: 600 },
    });
    assert.equal(outcome, 'updated');
    const [check] = await db.query<{ lag: number; span: number }>(
      'SELECT TIMESTAMPDIFF(SECOND, last_registration, NOW()) AS lag, TIMESTAMPDIFF(SECOND, last_registration, expiry) AS span FROM registrations WHERE subscriber_id = 1');
    assert.ok(check.lag >= 0 && check.lag <= 2, `last_registration ${check.lag}s ago`);
    assert.equal(check.span, 600);
    const stored = await row(1);
    assert.equal(stored?.registration_status, 2);
    assert.equal(stored?.contacts, '<sip:u@10.0.0.1:5060>;expires=600');
  });

  it('leaves fields the reply does not carry untouched', async () => {
    await db.query("INSERT INTO registrations VALUES (3, 2, '2030-01-01 00:00:00', '2030-01-01 02:00:00', 200, 'OK', 'c')");
    await store.update(subscriber(3), { lastCode: 401, lastReason: 'Unauthorized' });
    assert.deepEqual(await row(3), {
      subscriber_id: 3, registration_status: 2, last_registration: '2030-01-01 00:00:00', expiry: '2030-01-01 02:00:00',
      last_code: 401, last_reason: 'Unauthorized', contacts: 'c',
    });
  });

  it('inserts the row and repeats the update when the update matches none', async () => {
    const outcome = await store.update(subscriber(9), { lastCode: 480, lastReason: 'unable to send request', status: RegistrationStatus.Failed });
    assert.equal(outcome, 'inserted');
    const stored = await row(9);
    assert.equal(stored?.registration_status, 3);
    assert.equal(stored?.last_code, 480);
    assert.equal(stored?.last_reason, 'unable to send request');
  });

  it('deletes', async () => {
    await store.insertIfMissing(subscriber(4));
    assert.equal(await store.remove(subscriber(4)), true);
    assert.equal(await row(4), undefined);
    assert.equal(await store.remove(subscriber(4)), false);
  });

  it('stores hostile values verbatim (no SQL injection)', async () => {
    const reasons = ["'); DROP TABLE registrations; --", 'a"b`c\\d;e\'f', "x' OR '1'='1", 'Ünïcödé ✓ \u0000 end'];
    for (const [i, reason] of reasons.entries()) {
      await store.update(subscriber(100 + i), { lastCode: 500, lastReason: reason, contacts: `${reason}<sip:x>` });
      const stored = await row(100 + i);
      assert.equal(stored?.last_reason, reason);
      assert.equal(stored?.contacts, `${reason}<sip:x>`);
    }
    assert.equal((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM registrations'))[0].n, reasons.length);
  });

  it('stores hostile values verbatim when the server runs with NO_BACKSLASH_ESCAPES', async () => {
    // mysql2 escapes a quote as \\' ; in that mode the server would end the string at
    // the backslash, and this reason phrase would set another account's status.
    await db.insert('registrations', [{ subscriber_id: 2, registration_status: 0, last_reason: 'untouched' }]);
    const [[{ mode }]] = await db.root.query<(mysql.RowDataPacket & { mode: string })[]>('SELECT @@GLOBAL.sql_mode AS mode');
    const hostile = "x\\', registration_status = 99 WHERE subscriber_id = 2 -- ";
    let modePool: DbPool | undefined;
    let outcome: string | undefined;
    let sessionMode: string | undefined;
    try {
      await db.root.query("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')");
      modePool = createDbPool(db.config); // new connections start with the global mode
      const modeStore = new RegistrationStore(modePool, 'registrations');
      await modeStore.applyAll([{ key: subscriber(1), write: { remove: false, ensure: false, update: { lastCode: 403, lastReason: hostile }, queuedAtMs: 0 } }]);
      outcome = await modeStore.update(subscriber(3), { lastCode: 404, lastReason: hostile });
      const [[current]] = await modePool.query<(mysql.RowDataPacket & { m: string })[]>('SELECT @@SESSION.sql_mode AS m');
      sessionMode = current?.m;
    } finally {
      await db.root.query('SET GLOBAL sql_mode = ?', [mode]);
      await modePool?.end();
    }
    assert.deepEqual([(await row(2))?.registration_status, (await row(2))?.last_reason], [0, 'untouched']);
    assert.equal(outcome, 'inserted');
    assert.equal((await row(1))?.last_reason, hostile);
    assert.equal((await row(3))?.last_reason, hostile);
    assert.doesNotMatch(sessionMode ?? '', /NO_BACKSLASH_ESCAPES/);
  });

  it('keys peerings by peer_host_id in the same table (sipwise schema)', async () => {
    const sipwise = await createTestDatabase({ schema: 'sipwise' });
    const sipwisePool = createDbPool(sipwise.config);
    try {
      const sipwiseStore = new RegistrationStore(sipwisePool, `${sipwise.name}.registrations`);
      await sipwiseStore.insertIfMissing({ type: 'subscriber', id: 5 });
      await sipwiseStore.insertIfMissing({ type: 'peering', id: 5 });
      assert.equal(await sipwiseStore.insertIfMissing({ type: 'peering', id: 5 }), false);
      assert.equal(await sipwiseStore.update({ type: 'peering', id: 5 }, { lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active }), 'updated');
      assert.equal(await sipwiseStore.update({ type: 'peering', id: 6 }, { lastCode: 403, lastReason: 'Forbidden', status: RegistrationStatus.Failed }), 'inserted');
      const rows = await sipwise.query<{ subscriber_id: number | null; peer_host_id: number | null; registration_status: number; last_code: number | null }>(
        'SELECT subscriber_id, peer_host_id, registration_status, last_code FROM registrations ORDER BY id');
      assert.deepEqual(rows.map((r) => ({ ...r })), [
        { subscriber_id: 5, peer_host_id: null, registration_status: 0, last_code: null },
        { subscriber_id: null, peer_host_id: 5, registration_status: 2, last_code: 200 },
        { subscriber_id: null, peer_host_id: 6, registration_status: 3, last_code: 403 },
      ]);
      assert.equal(await sipwiseStore.remove({ type: 'peering', id: 5 }), true);
      assert.equal((await sipwise.query('SELECT id FROM registrations WHERE subscriber_id = 5')).length, 1);
    } finally {
      await sipwisePool.end();
      await sipwise.drop();
    }
  });

  it('survives KILL of its idle connections', async () => {
    await store.insertIfMissing(subscriber(1));
    assert.ok(await db.killConnections() >= 1);
    assert.equal(await store.update(subscriber(1), { lastCode: 200, lastReason: 'after kill' }), 'updated');
    assert.equal((await row(1))?.last_reason, 'after kill');
  });

  it('repeats a statement whose connection is killed while it runs', async () => {
    await store.insertIfMissing(subscriber(1));
    // Hold the row lock so the store's UPDATE waits on the server, then kill its connection.
    const locker = await mysql.createConnection({ ...db.config });
    try {
      await locker.beginTransaction();
      await locker.query('SELECT * FROM registrations WHERE subscriber_id = 1 FOR UPDATE');
      const pending = store.update(subscriber(1), { lastCode: 200, lastReason: 'survived', status: RegistrationStatus.Active });
      let victim = 0;
      await until('the UPDATE to wait for the lock', async () => {
        const rows = await db.query<{ id: number }>(
          "SELECT id FROM information_schema.processlist WHERE db = ? AND (info LIKE 'UPDATE%' OR info LIKE 'INSERT%') AND id <> CONNECTION_ID()", [db.name]);
        victim = rows[0]?.id ?? 0;
        return victim > 0;
      });
      await db.query(`KILL ${Number(victim)}`);
      // The retry on a new connection waits for the lock too; release it.
      await until('the retried UPDATE', async () => (await db.query<{ id: number }>(
        "SELECT id FROM information_schema.processlist WHERE db = ? AND (info LIKE 'UPDATE%' OR info LIKE 'INSERT%')", [db.name])).some((r) => r.id !== victim));
      await locker.commit();
      assert.equal(await pending, 'updated');
    } finally {
      await locker.end();
    }
    const stored = await row(1);
    assert.equal(stored?.last_reason, 'survived');
    assert.equal(stored?.registration_status, 2);
  });

  it('applies a batch in one transaction and repeats all of it when the connection dies midway', async () => {
    await db.insert('registrations', [1, 2, 3, 4, 5].map((id) => ({ subscriber_id: id, last_reason: 'before' })));
    const locker = await mysql.createConnection({ ...db.config });
    try {
      await locker.beginTransaction();
      await locker.query('SELECT * FROM registrations WHERE subscriber_id = 3 FOR UPDATE');
      const batch = [1, 2, 3, 4, 5, 6].map((id) => ({
        key: subscriber(id),
        write: { remove: id === 5, ensure: false, update: { lastCode: 200 + id, lastReason: 'batch' }, queuedAtMs: 0 },
      }));
      const pending = store.applyAll(batch);
      let victim = 0;
      await until('the batch to wait for row 3', async () => {
        const rows = await db.query<{ id: number }>(
          "SELECT id FROM information_schema.processlist WHERE db = ? AND (info LIKE 'UPDATE%' OR info LIKE 'INSERT%') AND id <> CONNECTION_ID()", [db.name]);
        victim = rows[0]?.id ?? 0;
        return victim > 0;
      });
      // Whatever the batch did before row 3 is not committed: nobody else sees it yet.
      assert.equal((await row(1))?.last_reason, 'before');
      await db.query(`KILL ${Number(victim)}`);
      await until('the repeated batch', async () => (await db.query<{ id: number }>(
        "SELECT id FROM information_schema.processlist WHERE db = ? AND (info LIKE 'UPDATE%' OR info LIKE 'INSERT%')", [db.name])).some((r) => r.id !== victim));
      await locker.commit();
      await pending;
    } finally {
      await locker.end();
    }
    const stored = await db.query<RegistrationRow>('SELECT * FROM registrations ORDER BY subscriber_id');
    assert.deepEqual(stored.map((r) => [r.subscriber_id, r.last_code, r.last_reason]),
      [[1, 201, 'batch'], [2, 202, 'batch'], [3, 203, 'batch'], [4, 204, 'batch'], [5, 205, 'batch'], [6, 206, 'batch']]);
  });

  it('writes a batch row by row into a table without a unique key, creating no duplicates', async () => {
    // The batched INSERT IGNORE relies on a unique key; an operator's table may lack one.
    await db.query('CREATE TABLE regs_nokey LIKE registrations');
    await db.query('ALTER TABLE regs_nokey DROP PRIMARY KEY');
    const nokey = new RegistrationStore(pool, 'regs_nokey');
    const batch = (code: number) => [1, 2, 3].map((id) => ({
      key: subscriber(id), write: { remove: false, ensure: false, update: { lastCode: code, lastReason: 'x' }, queuedAtMs: 0 },
    }));
    await nokey.applyAll(batch(200));
    await nokey.applyAll(batch(201));
    const rows = await db.query<{ subscriber_id: number; last_code: number }>('SELECT subscriber_id, last_code FROM regs_nokey ORDER BY subscriber_id');
    assert.deepEqual(rows.map((r) => [r.subscriber_id, r.last_code]), [[1, 201], [2, 201], [3, 201]]);
  });

  it('writes a batch with mixed shapes in one go: only the fields each row changes', async () => {
    await db.insert('registrations', [{ subscriber_id: 1, registration_status: 2, contacts: 'old', last_reason: 'r' }]);
    await store.applyAll([
      { key: subscriber(1), write: { remove: false, ensure: false, update: { lastCode: 401, lastReason: 'Unauthorized' }, queuedAtMs: 0 } },
      { key: subscriber(2), write: { remove: false, ensure: true, update: { lastCode: 200, lastReason: 'OK', status: 2, contacts: '<sip:b@h>', registered: { grantedSeconds: 60 } }, queuedAtMs: 0 } },
      { key: subscriber(3), write: { remove: false, ensure: true, queuedAtMs: 0 } },
    ]);
    const rows = await db.query<RegistrationRow & { left: number }>(
      'SELECT *, TIMESTAMPDIFF(SECOND, NOW(), expiry) AS `left` FROM registrations ORDER BY subscriber_id');
    assert.deepEqual(rows.map((r) => [r.subscriber_id, r.registration_status, r.last_code, r.last_reason, r.contacts]), [
      [1, 2, 401, 'Unauthorized', 'old'],
      [2, 2, 200, 'OK', '<sip:b@h>'],
      [3, 0, null, null, null],
    ]);
    assert.ok(rows[1] && rows[1].left >= 59 && rows[1].left <= 60, `expiry in ${rows[1]?.left} s`);
    assert.equal(rows[0]?.expiry, null);
  });

  it('refreshes existing rows of one shape with one autocommit UPDATE, and inserts only the rows it misses', async () => {
    await db.insert('registrations', [1, 2, 3].map((id) => ({ subscriber_id: id, registration_status: 3, contacts: 'kept', last_reason: 'old' })));
    const counters = async (): Promise<Record<string, number>> => Object.fromEntries(
      (await db.query<{ Variable_name: string; Value: string }>(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_begin', 'Com_insert', 'Com_update', 'Com_update_multi')"))
        .map((r) => [r.Variable_name, Number(r.Value)]));
    const statementsFor = async (ids: number[]): Promise<Record<string, number>> => {
      const before = await counters();
      await store.applyAll(ids.map((id) => ({
        key: subscriber(id),
        write: { remove: false, ensure: false, update: { lastCode: 200, lastReason: 'OK', status: 2, registered: { grantedSeconds: 60 } }, queuedAtMs: 0 },
      })));
      const after = await counters();
      const updates = (c: Record<string, number>): number => (c.Com_update ?? 0) + (c.Com_update_multi ?? 0);
      return { begin: after.Com_begin - before.Com_begin, insert: after.Com_insert - before.Com_insert, update: updates(after) - updates(before) };
    };
    assert.deepEqual(await statementsFor([1, 2, 3, 4, 5]), { begin: 0, insert: 1, update: 2 }, 'two rows missing');
    assert.deepEqual(await statementsFor([1, 2, 3, 4, 5]), { begin: 0, insert: 0, update: 1 }, 'a refresh');
    const rows = await db.query<RegistrationRow>('SELECT * FROM registrations ORDER BY subscriber_id');
    assert.deepEqual(rows.map((r) => [r.subscriber_id, r.registration_status, r.last_code, r.contacts, r.expiry !== null]), [
      [1, 2, 200, 'kept', true], [2, 2, 200, 'kept', true], [3, 2, 200, 'kept', true], [4, 2, 200, null, true], [5, 2, 200, null, true],
    ]);
  });

  describe('operator tables with other NOT NULL columns without a default (strict SQL mode)', () => {
    // Any insert attempt on an existing row, such as an upsert's, fails there with
    // ER_NO_DEFAULT_FOR_FIELD, and every status would be lost.
    const statusColumns = `registration_status tinyint(1) NOT NULL DEFAULT 0, last_registration datetime, expiry datetime,
      last_code smallint, last_reason varchar(256), contacts varchar(512)`;
    const tables = [{
      name: 'an extra column',
      columns: 'owner varchar(32) NOT NULL',
      required: { owner: 'ops' },
    }, {
      // registrations_table = the subscribers table, its ids given by provisioning (no AUTO_INCREMENT).
      name: 'the one-table setup',
      columns: 'user varchar(256) NOT NULL, pass varchar(256) NOT NULL, realm varchar(256) NOT NULL, contact varchar(256) NOT NULL',
      required: { user: 'u', pass: 'p', realm: 'r', contact: '' },
    }];
    for (const { name, columns, required } of tables) {
      it(`stores the statuses of existing rows: ${name}`, async () => {
        const [[{ mode }]] = await db.root.query<(mysql.RowDataPacket & { mode: string })[]>('SELECT @@GLOBAL.sql_mode AS mode');
        assert.match(mode, /STRICT_TRANS_TABLES/);
        await db.query(`CREATE TABLE regs_extra (subscriber_id int NOT NULL PRIMARY KEY, ${columns}, ${statusColumns})`);
        await db.insert('regs_extra', [1, 2, 3].map((id) => ({ subscriber_id: id, ...required })));
        const extra = new RegistrationStore(pool, 'regs_extra');
        const write = (update: RegistrationUpdate) => ({ remove: false, ensure: false, update, queuedAtMs: 0 });
        await extra.applyAll([1, 2].map((id) => ({
          key: subscriber(id), write: write({ lastCode: 200, lastReason: 'OK', status: 2, registered: { grantedSeconds: 60 } }),
        })));
        await extra.applyAll([
          { key: subscriber(1), write: write({ lastCode: 401, lastReason: 'Unauthorized' }) },
          { key: subscriber(3), write: write({ lastCode: 403, lastReason: 'Forbidden', status: 3 }) },
        ]);
        const rows = await db.query<RegistrationRow>('SELECT * FROM regs_extra ORDER BY subscriber_id');
        assert.deepEqual(rows.map((r) => [r.subscriber_id, r.registration_status, r.last_code, r.last_reason, r.expiry !== null]), [
          [1, 2, 401, 'Unauthorized', true], [2, 2, 200, 'OK', true], [3, 3, 403, 'Forbidden', false],
        ]);
        assert.ok(rows.every((r) => Object.entries(required).every(([column, value]) => (r as unknown as Record<string, unknown>)[column] === value)));
      });
    }
  });

  it("refreshes existing rows without firing the table's BEFORE INSERT triggers; a missing row is inserted as SEMS does", async () => {
    await db.insert('registrations', [{ subscriber_id: 1 }, { subscriber_id: 2 }]);
    await db.query('CREATE TABLE inserted (subscriber_id int NOT NULL)');
    await db.query('CREATE TRIGGER registrations_bi BEFORE INSERT ON registrations FOR EACH ROW INSERT INTO inserted VALUES (NEW.subscriber_id)');
    const update = (id: number, lastCode: number) => ({
      key: subscriber(id), write: { remove: false, ensure: false, update: { lastCode, lastReason: 'x', status: 2 }, queuedAtMs: 0 },
    });
    await store.applyAll([update(1, 200), update(2, 200)]);
    await store.applyAll([update(1, 201)]);
    assert.deepEqual(await db.query('SELECT * FROM inserted'), []);
    await store.applyAll([update(1, 202), update(3, 202)]);
    assert.deepEqual((await db.query<{ subscriber_id: number }>('SELECT subscriber_id FROM inserted')).map((r) => r.subscriber_id), [3]);
    const rows = await db.query<RegistrationRow>('SELECT * FROM registrations ORDER BY subscriber_id');
    assert.deepEqual(rows.map((r) => [r.subscriber_id, r.last_code]), [[1, 202], [2, 200], [3, 202]]);
  });

  it('spends AUTO_INCREMENT ids only on new rows when batches refresh existing ones (sipwise schema)', async () => {
    // An upsert or INSERT IGNORE gives away an id for every row it names, existing or
    // not: 100 000 accounts refreshed every 30 minutes would use up an unsigned int id in ~2.5 years.
    const sipwise = await createTestDatabase({ schema: 'sipwise' });
    const sipwisePool = createDbPool(sipwise.config);
    try {
      const sipwiseStore = new RegistrationStore(sipwisePool, 'registrations');
      const nextId = async (): Promise<number> => Number((await sipwise.query<{ a: number }>(
        "SELECT AUTO_INCREMENT AS a FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'registrations'", [sipwise.name]))[0]?.a);
      const batch = (ids: number[], code: number) => ids.map((id) => ({
        key: id > 0 ? subscriber(id) : { type: 'peering' as const, id: -id },
        write: { remove: false, ensure: false, update: { lastCode: code, lastReason: 'OK', status: 2, registered: { grantedSeconds: 60 } }, queuedAtMs: 0 },
      }));
      await sipwiseStore.applyAll(batch([1, 2, 3, -1], 200));
      const afterFirst = await nextId();
      await sipwiseStore.applyAll(batch([1, 2, 3, -1], 201));
      await sipwiseStore.applyAll(batch([1, 2, 3, -1], 202));
      assert.equal(await nextId(), afterFirst, 'refreshing existing rows spent ids');
      await sipwiseStore.applyAll(batch([2, 4, 3, 5, -1, -2], 203));
      assert.ok(await nextId() - afterFirst <= 3, 'more ids than new rows');
      const rows = await sipwise.query<{ subscriber_id: number | null; peer_host_id: number | null; last_code: number }>(
        'SELECT subscriber_id, peer_host_id, last_code FROM registrations ORDER BY subscriber_id, peer_host_id');
      assert.deepEqual(rows.map((r) => [r.subscriber_id, r.peer_host_id, r.last_code]), [
        [null, 1, 203], [null, 2, 203], [1, null, 202], [2, null, 203], [3, null, 203], [4, null, 203], [5, null, 203],
      ]);
    } finally {
      await sipwisePool.end();
      await sipwise.drop();
    }
  });

  it('does not retry statements the server rejects', async () => {
    const broken = new RegistrationStore(pool, 'no_such_table');
    const started = Date.now();
    await assert.rejects(broken.update(subscriber(1), { lastCode: 200, lastReason: 'OK' }), { code: 'ER_NO_SUCH_TABLE' });
    assert.ok(Date.now() - started < 1000);
  });
});
