/** The status write queue under load and faults, against the real MariaDB. */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { createDbPool, endDbPool, type DbPool } from '../../src/db/pool';
import { RegistrationStatus } from '../../src/db/registration-status';
import { RegistrationStore } from '../../src/db/registration-store';
import { StatusWriter } from '../../src/db/status-writer';
import { LogLevel, getLogLevel, logThrough, logToStderr, setLogLevel } from '../../src/process/log';
import { createTestDatabase, startMariadbProxy, type MariadbProxy, type RegistrationRow as Row, type TestDatabase } from '../support/mariadb';
import { waitUntil } from '../support/peer-process';

const subscriber = (id: number) => ({ type: 'subscriber' as const, id });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FAST_RETRY = { initial: 50, max: 400 };

describe('db: status writer', function () {
  this.timeout(40_000);
  let db: TestDatabase;
  let pool: DbPool | undefined;
  let writer: StatusWriter | undefined;
  const rows = async (): Promise<Row[]> => db.query<Row>('SELECT * FROM registrations ORDER BY subscriber_id');

  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
  });
  afterEach(async () => {
    try {
      writer?.close();
      await pool?.end();
    } finally {
      writer = undefined;
      pool = undefined;
      await db.drop();
    }
  });

  it('applies each account\'s operations in order, coalescing what waits', async () => {
    pool = createDbPool(db.config);
    writer = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 4 });
    await db.query("INSERT INTO registrations (subscriber_id, registration_status, last_reason) VALUES (2, 2, 'old'), (3, 5, 'old')");
    // 1: created, then registered, then an auth reply: status and times of the 2xx stay.
    writer.insertIfMissing(subscriber(1));
    writer.update(subscriber(1), { lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, contacts: 'c1', registered: { grantedSeconds: 120 } });
    writer.update(subscriber(1), { lastCode: 401, lastReason: 'Unauthorized' });
    // 2: removed, then a late reply re-creates the row with only that reply's fields.
    writer.remove(subscriber(2));
    writer.update(subscriber(2), { lastCode: 480, lastReason: 'unable to send request', status: RegistrationStatus.Failed });
    // 3: updated, then removed: no row.
    writer.update(subscriber(3), { lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Removed });
    writer.remove(subscriber(3));
    assert.equal(await writer.flush(5000), true);

    const [one, two, ...rest] = await rows();
    assert.equal(rest.length, 0);
    assert.equal(one.subscriber_id, 1);
    assert.equal(one.registration_status, 2);
    assert.equal(one.last_code, 401);
    assert.equal(one.contacts, 'c1');
    assert.ok(one.last_registration && one.expiry);
    assert.deepEqual({ ...two }, {
      subscriber_id: 2, registration_status: 3, last_registration: null, expiry: null, last_code: 480, last_reason: 'unable to send request', contacts: null,
    });
    const stats = writer.stats();
    assert.equal(stats.pending, 0);
    assert.equal(stats.written, 3);
    assert.equal(stats.coalesced, 4);
    assert.equal(stats.latencyMs.count, 3);
    assert.ok(stats.latencyMs.max >= stats.latencyMs.last && stats.latencyMs.sum > 0);
  });

  it('a server that takes no writes (errno 1290, read-only) is waited out on new connections; nothing is lost', async () => {
    // A trigger stands in for a demoted primary: while the flag is set, every write fails
    // as --read-only makes it fail (root is exempt from read_only itself).
    await db.query('CREATE TABLE read_only_flag (on_ TINYINT NOT NULL)');
    await db.query('INSERT INTO read_only_flag VALUES (1)');
    await db.query(`CREATE TRIGGER refuse_writes BEFORE INSERT ON registrations FOR EACH ROW
      IF (SELECT on_ FROM read_only_flag) = 1 THEN
        SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1290, MESSAGE_TEXT = 'The MariaDB server is running with the --read-only option';
      END IF`);
    pool = createDbPool(db.config);
    const threads = new Set<number>();
    pool.on('connection', (connection) => threads.add(connection.threadId));
    writer = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 1, retryDelayMs: FAST_RETRY });
    writer.update(subscriber(7), { lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, contacts: 'c7', registered: { grantedSeconds: 60 } });
    assert.ok(await waitUntil(() => writer!.stats().errors >= 3, 10_000), 'three refused attempts');
    assert.equal((await rows()).length, 0);
    assert.ok(threads.size >= 3, `each retry on a new connection (${threads.size} connections for ${writer.stats().errors} attempts)`);
    await db.query('UPDATE read_only_flag SET on_ = 0');
    assert.equal(await writer.flush(10_000), true);
    const [row] = await rows();
    assert.deepEqual([row?.subscriber_id, row?.registration_status, row?.last_code, row?.contacts], [7, 2, 200, 'c7']);
    assert.equal(writer.stats().dropped, 0);
  });

  it('batches a backlog, never writing one account twice at the same time', async () => {
    const calls: number[][] = [];
    const busy = new Set<number>();
    let overlaps = 0;
    const fakeStore = {
      table: 'registrations',
      async applyAll(writes: readonly { key: { id: number } }[]): Promise<void> {
        const ids = writes.map((w) => w.key.id);
        calls.push(ids);
        for (const id of ids) if (busy.has(id)) overlaps++; else busy.add(id);
        await sleep(5);
        for (const id of ids) busy.delete(id);
      },
    };
    writer = new StatusWriter(fakeStore, { concurrency: 2, batchSize: 100 });
    for (let round = 0; round < 3; round++) {
      for (let id = 1; id <= 1000; id++) writer.update(subscriber(id), { lastCode: 200 + round, lastReason: 'OK' });
      await sleep(3);
    }
    assert.equal(await writer.flush(5000), true);
    assert.equal(overlaps, 0);
    assert.ok(calls.every((ids) => ids.length <= 100));
    assert.ok(calls.length < 100, `${calls.length} batches for up to 3000 records`);
    assert.equal(writer.stats().written, calls.flat().length);
  });

  it('writes a mass start of accounts without rows with no lock conflicts between concurrent batches', async () => {
    // Accounts created over DI have no row: each update misses, inserts, updates again
    // (SEMS's way), many batches in flight. Under REPEATABLE READ the gap locks taken by
    // the missed updates made concurrent batches deadlock and stall behind the backoff.
    const accounts = 10_000;
    pool = createDbPool(db.config, { connectionLimit: 10 });
    writer = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 8 });
    for (let id = accounts; id >= 1; id--) {
      writer.update(subscriber(id), { lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, registered: { grantedSeconds: 3600 } });
    }
    assert.equal(await writer.flush(60_000), true);
    assert.equal(writer.stats().written, accounts);
    assert.equal(writer.stats().errors, 0, 'no deadlock or lock wait timeout');
    const [row] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM registrations WHERE registration_status = 2 AND expiry IS NOT NULL');
    assert.equal(row?.n, accounts);
  });

  it('loses no write while its connections are killed over and over, in the middle of statements', async () => {
    const accounts = 5000;
    pool = createDbPool(db.config, { connectionLimit: 6 });
    // Small batches: many statements, so the killer catches some of them running.
    writer = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 4, batchSize: 10, retryDelayMs: FAST_RETRY });
    let busyKills = 0;
    let killing = true;
    const killer = (async () => {
      while (killing) {
        const busy = await db.query<{ id: number }>(
          "SELECT id FROM information_schema.processlist WHERE db = ? AND command IN ('Query', 'Execute') AND id <> CONNECTION_ID()", [db.name]);
        for (const { id } of busy) {
          await db.query(`KILL ${Number(id)}`).then(() => busyKills++, () => undefined);
        }
        await sleep(5);
      }
    })();
    try {
      for (let round = 1; round <= 3; round++) {
        for (let id = 1; id <= accounts; id++) writer.update(subscriber(id), { lastCode: 200 + round, lastReason: `round ${round}` });
        await sleep(100);
      }
      assert.equal(await writer.flush(60_000), true);
    } finally {
      killing = false;
      await killer;
    }
    assert.ok(busyKills > 0, 'the killer caught statements in flight');
    const stored = await db.query<{ last_code: number; n: number }>('SELECT last_code, COUNT(*) AS n FROM registrations GROUP BY last_code');
    assert.deepEqual(stored.map((r) => ({ ...r })), [{ last_code: 203, n: accounts }]);
    assert.equal(writer.stats().dropped, 0);
  });

  describe('when the database is unreachable', () => {
    let proxy: MariadbProxy;
    let outageWriter: StatusWriter;
    beforeEach(async () => {
      proxy = await startMariadbProxy();
      pool = createDbPool(proxy.configFor(db), { connectionLimit: 4, connectTimeoutMs: 2000 });
      outageWriter = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 4, retryDelayMs: FAST_RETRY });
      writer = outageWriter;
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('queues a bounded, coalesced backlog and writes all of it after recovery', async () => {
      const accounts = 200;
      outageWriter.update(subscriber(1), { lastCode: 100, lastReason: 'warm-up' });
      assert.equal(await outageWriter.flush(5000), true);
      proxy.cut();
      for (let round = 1; round <= 50; round++) {
        for (let id = 1; id <= accounts; id++) {
          outageWriter.update(subscriber(id), { lastCode: round, lastReason: `round ${round}`, status: RegistrationStatus.Pending });
        }
        await sleep(2);
      }
      // Ordered per account across the outage: delete, then a failure re-creates the row.
      outageWriter.remove(subscriber(7));
      outageWriter.update(subscriber(7), { lastCode: 408, lastReason: 'Timeout', status: RegistrationStatus.Failed });
      await sleep(800);
      const during = outageWriter.stats();
      assert.equal(during.dbAvailable, false);
      assert.ok(during.errors > 0);
      assert.ok(during.pending <= accounts, `backlog ${during.pending} must stay within one record per account`);
      // Every retry cycle takes up to `concurrency` records in flight; the rest fold.
      assert.ok(during.coalesced > 45 * accounts, `coalesced ${during.coalesced}`);
      assert.equal(await outageWriter.flush(300), false, 'cannot flush while the database is away');

      await proxy.restore();
      assert.equal(await outageWriter.flush(10_000), true);
      const after = outageWriter.stats();
      assert.equal(after.dbAvailable, true);
      assert.equal(after.dropped, 0);
      const stored = await rows();
      assert.equal(stored.length, accounts);
      for (const row of stored) {
        if (row.subscriber_id === 7) {
          assert.deepEqual([row.last_code, row.registration_status], [408, 3]);
        } else {
          assert.deepEqual([row.last_code, row.last_reason, row.registration_status], [50, 'round 50', 1], `account ${row.subscriber_id}`);
        }
      }
    });

    it('stamps last_registration with the time of the reply, not of the late write', async () => {
      await db.query('INSERT INTO registrations (subscriber_id) VALUES (1)');
      proxy.cut();
      const [{ now: replyTime }] = await db.query<{ now: string }>('SELECT NOW() AS now');
      outageWriter.update(subscriber(1), { lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, registered: { grantedSeconds: 3600 } });
      await sleep(4000);
      await proxy.restore();
      assert.equal(await outageWriter.flush(10_000), true);
      const [check] = await db.query<{ shift: number; span: number; late: number }>(
        `SELECT TIMESTAMPDIFF(SECOND, ?, last_registration) AS shift,
                TIMESTAMPDIFF(SECOND, last_registration, expiry) AS span,
                TIMESTAMPDIFF(SECOND, ?, NOW()) AS late
         FROM registrations WHERE subscriber_id = 1`, [replyTime, replyTime]);
      assert.ok(check.late >= 4, `the write landed ${check.late}s after the reply`);
      assert.ok(Math.abs(check.shift) <= 1, `last_registration is ${check.shift}s off the reply time`);
      assert.equal(check.span, 3600);
    });

    it('reports what is left when closed during an outage', async () => {
      proxy.cut();
      outageWriter.insertIfMissing(subscriber(1));
      outageWriter.insertIfMissing(subscriber(2));
      assert.equal(await outageWriter.flush(300), false);
      assert.equal(outageWriter.close(), 2);
    });
  });

  describe('when a connection stops answering', () => {
    const DEADLINE_MS = 1500;
    let proxy: MariadbProxy;
    let savedLevel: LogLevel;
    const warnings: string[] = [];
    beforeEach(async () => {
      proxy = await startMariadbProxy();
      pool = createDbPool(proxy.configFor(db), { connectionLimit: 4, connectTimeoutMs: 2000 });
      savedLevel = getLogLevel();
      setLogLevel(LogLevel.Warn);
      warnings.length = 0;
      logThrough((level, line) => {
        if (level === LogLevel.Warn) warnings.push(line);
      });
    });
    afterEach(async () => {
      logToStderr();
      setLogLevel(savedLevel);
      await proxy.close();
    });

    it('gives a hung batch up at the statement deadline and writes it on a new connection, in order, while the other accounts are written beside it', async () => {
      const store = new RegistrationStore(pool as DbPool, 'registrations', { statementTimeoutMs: DEADLINE_MS });
      writer = new StatusWriter(store, { concurrency: 4, retryDelayMs: FAST_RETRY, slowBatchMs: 200 });
      writer.insertIfMissing(subscriber(1000));
      assert.equal(await writer.flush(5000), true);
      assert.equal(proxy.freeze(), 1, 'the pool\'s one connection is frozen');
      const frozenAt = performance.now();
      for (let id = 1; id <= 50; id++) writer.update(subscriber(id), { lastCode: 100, lastReason: 'first', status: RegistrationStatus.Pending });
      await sleep(50); // that batch is now waiting on the frozen connection
      for (let id = 1; id <= 50; id++) writer.update(subscriber(id), { lastCode: 200, lastReason: 'second', status: RegistrationStatus.Active });
      writer.remove(subscriber(7));
      writer.update(subscriber(7), { lastCode: 408, lastReason: 'Timeout', status: RegistrationStatus.Failed });
      for (let id = 51; id <= 60; id++) writer.update(subscriber(id), { lastCode: 200, lastReason: 'beside' });

      const othersStored = await waitUntil(async () => (await rows()).filter((r) => r.last_reason === 'beside').length === 10, DEADLINE_MS);
      assert.ok(othersStored, 'the accounts behind the hung batch were written before its deadline');
      assert.ok(performance.now() - frozenAt < DEADLINE_MS);
      assert.equal((await rows()).filter((r) => r.subscriber_id <= 50).length, 0, 'the hung batch has not landed yet');

      assert.equal(await writer.flush(10_000), true);
      assert.ok(performance.now() - frozenAt >= DEADLINE_MS, 'the hung batch waited for the deadline');
      const stored = await rows();
      assert.equal(stored.length, 61);
      for (const row of stored.filter((r) => r.subscriber_id <= 50)) {
        const expected = row.subscriber_id === 7 ? [408, 'Timeout', RegistrationStatus.Failed] : [200, 'second', RegistrationStatus.Active];
        assert.deepEqual([row.last_code, row.last_reason, row.registration_status], expected, `account ${row.subscriber_id}`);
      }
      assert.equal(writer.stats().dropped, 0);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], new RegExp(`^\\[db\\] 50 write\\(s\\) in 'registrations': no reply from the database within ${DEADLINE_MS} ms; connection \\d+ closed, retrying on a new one$`));
    });

    it('ends the pool within its deadline when a statement hangs, severing that connection', async () => {
      const activePool = pool as DbPool;
      await activePool.query('SELECT 1');
      assert.equal(proxy.freeze(), 1);
      const hung = activePool.query('SELECT 1');
      await sleep(50); // sent on the frozen connection
      const started = performance.now();
      assert.equal(await endDbPool(activePool, 300), 1);
      pool = undefined;
      assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
      await assert.rejects(hung, { code: 'PROTOCOL_CONNECTION_LOST' });
    });
  });

  it('isolates a record the database rejects, stores the rest of its batch, and says which record in which table failed how', async () => {
    const lines: string[] = [];
    logThrough((_level, line) => lines.push(line));
    try {
      pool = createDbPool(db.config);
      writer = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 1, batchSize: 50 });
      for (let id = 1; id <= 20; id++) {
        // last_code is a smallint: 99999 is out of range under strict SQL mode.
        writer.update(subscriber(id), { lastCode: id === 13 ? 99999 : 200, lastReason: 'OK' });
      }
      assert.equal(await writer.flush(5000), true);
    } finally {
      logToStderr();
    }
    const stats = writer.stats();
    assert.deepEqual([stats.written, stats.dropped, stats.errors], [19, 1, 2]);
    const stored = await rows();
    // Alone, 13 went as SEMS does it: the update missed, the key was inserted, the repeated update failed.
    assert.deepEqual(stored.map((r) => [r.subscriber_id, r.last_code]), Array.from({ length: 20 }, (_, i) => [i + 1, i === 12 ? null : 200]));
    assert.deepEqual(lines.filter((line) => line.includes('not stored')),
      ["[db] registration status of subscriber 13 not stored in 'registrations': ER_WARN_DATA_OUT_OF_RANGE: Out of range value for column 'last_code' at row 1"]);
  });

  it('writes into the table as SEMS\'s README creates it (MyISAM, latin1), keeping a status whose text latin1 cannot hold', async () => {
    await db.query('DROP TABLE registrations');
    await db.query(`CREATE TABLE IF NOT EXISTS \`registrations\` (
      \`subscriber_id\` int(11) NOT NULL,
      \`registration_status\` tinyint(1) NOT NULL DEFAULT '0',
      \`last_registration\` datetime,
      \`expiry\` datetime,
      \`last_code\` smallint(2),
      \`last_reason\` varchar(256),
      \`contacts\` varchar(512),
      PRIMARY KEY (\`subscriber_id\`)
    ) ENGINE=MyISAM DEFAULT CHARSET=latin1`);
    pool = createDbPool(db.config);
    writer = new StatusWriter(new RegistrationStore(pool, 'registrations'), { concurrency: 1 });
    writer.update(subscriber(1), { lastCode: 403, lastReason: 'Verboten \u2603 \u7981\u6b62', status: RegistrationStatus.Failed });
    writer.update(subscriber(2), {
      lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, registered: { grantedSeconds: 60 }, contacts: '"J\u00fcrgen \u{1F600}" <sip:j@h>',
    });
    writer.update(subscriber(3), { lastCode: 200, lastReason: '\u00c7a va', status: RegistrationStatus.Active, registered: { grantedSeconds: 60 } });
    assert.equal(await writer.flush(5000), true);
    const stored = await rows();
    assert.deepEqual(stored.map((r) => [r.subscriber_id, r.registration_status, r.last_code, r.last_reason, r.contacts, r.expiry !== null]), [
      [1, 3, 403, 'Verboten ? ??', null, false],
      [2, 2, 200, 'OK', '"J?rgen ?" <sip:j@h>', true],
      [3, 2, 200, '\u00c7a va', null, true], // latin1 holds it: written as it is
    ]);
    assert.deepEqual([writer.stats().written, writer.stats().dropped], [3, 0]);
  });

  it('drops and counts writes the database rejects, without retrying them', async () => {
    pool = createDbPool(db.config);
    writer = new StatusWriter(new RegistrationStore(pool, 'no_such_table'), { retryDelayMs: FAST_RETRY });
    writer.update(subscriber(1), { lastCode: 200, lastReason: 'OK' });
    writer.insertIfMissing(subscriber(2));
    assert.equal(await writer.flush(2000), true);
    const stats = writer.stats();
    // One failed batch, then each record alone.
    assert.deepEqual([stats.dropped, stats.errors, stats.written, stats.pending, stats.dbAvailable], [2, 3, 0, 0, true]);
  });
});
