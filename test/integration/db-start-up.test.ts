/**
 * Start-up against a database that is down, frozen or lost half-way through the load
 * (issue 14): the daemon neither hangs nor crashes, says so once per outage, sends no
 * REGISTER before it has its accounts, stops promptly on SIGTERM, and a load that
 * failed half-way restores every account exactly once.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { loadAccountQuery } from '../../src/db/account-load';
import type { AccountRow } from '../../src/db/account-row';
import { DatabaseWait } from '../../src/db/database-wait';
import { createDbPool, endDbPool } from '../../src/db/pool';
import { LogLevel, getLogLevel, logThrough, logToStderr, setLogLevel } from '../../src/process/log';
import { README_JOINED_QUERY, startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, startMariadbProxy, type MariadbProxy, type TestDatabase } from '../support/mariadb';
import { di, printDaemonLogOnFailure, sleep, waitFor } from '../support/registrations';

const errorLines = (log: string): string[] => log.split('\n').filter((line) => line.includes(' ERROR: '));

describe('db: start-up with the database down, frozen or lost during the load', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let proxy: MariadbProxy;
  let daemon: RunningDaemon | undefined;
  /** A registrar that only records what reaches it. */
  let registrar: Socket;
  let datagrams: string[];

  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
    proxy = await startMariadbProxy();
    datagrams = [];
    registrar = createSocket('udp4');
    registrar.on('message', (data) => datagrams.push(data.toString('latin1')));
    await new Promise<void>((resolve) => registrar.bind(0, '127.0.0.1', resolve));
    await db.query("INSERT INTO subscribers (subscriber_id, user, pass, realm, contact) VALUES (1, 'alice', 'pw', ?, '')",
      [`127.0.0.1:${registrar.address().port}`]);
  });
  afterEach(async function () {
    printDaemonLogOnFailure(this.currentTest, daemon);
    await daemon?.stop();
    daemon?.cleanup();
    daemon = undefined;
    registrar.close();
    await proxy.close();
    await db.drop();
  });

  it('refused at start: one ERROR naming host:port, no REGISTER while it waits; once it listens, one INFO, the accounts load and register', async () => {
    await proxy.refuse();
    daemon = await startDaemon({ db: proxy.configFor(db), agent: { db_start_timeout: '0' } });
    await daemon.waitForLog(/unavailable at start-up/);
    await sleep(3500); // attempts at +1, +3 s: still one line
    const errors = errorLines(daemon.log());
    assert.equal(errors.length, 1, daemon.log());
    assert.match(errors[0] ?? '', new RegExp(`database at 127\\.0\\.0\\.1:${proxy.port} unavailable at start-up \\(SELECT 1\\): ECONNREFUSED.*waiting as long as it takes`));
    assert.equal(daemon.process.exitCode, null, 'still running');
    assert.deepEqual(datagrams, [], 'no REGISTER before the accounts are loaded');

    await proxy.restore();
    await daemon.waitForLog(/running/, 20_000);
    assert.match(daemon.log(), /INFO: \[db\] database at 127\.0\.0\.1:\d+ answers again \(unavailable for \d+ s\)/);
    await waitFor('a REGISTER for alice', () => datagrams, (d) => d.some((m) => m.startsWith('REGISTER ')), 5000);
  });

  it('frozen at start (connections accepted, never answered): no hang, it retries; SIGTERM during the wait exits 0 at once', async () => {
    proxy.hang();
    daemon = await startDaemon({ db: proxy.configFor(db), agent: { db_start_timeout: '0' } });
    // The connection attempt is given up after the driver's connect timeout (10 s).
    await daemon.waitForLog(/unavailable at start-up \(SELECT 1\): ETIMEDOUT/, 20_000);
    const started = Date.now();
    assert.equal(await daemon.stop(), 0);
    assert.ok(Date.now() - started < 3000, `stopped after ${Date.now() - started} ms`);
    assert.doesNotMatch(daemon.log(), /start-up failed/);
    assert.deepEqual(datagrams, []);
  });

  it('db_start_timeout bounds the wait: then exit 1 with one line naming the database, the key and the error', async () => {
    await proxy.refuse();
    const started = Date.now();
    daemon = await startDaemon({ db: proxy.configFor(db), agent: { db_start_timeout: '2' } });
    assert.equal(await daemon.exited(), 1);
    const took = Date.now() - started;
    assert.ok(took >= 2000 && took < 10_000, `gave up after ${took} ms`);
    assert.match(daemon.log(), new RegExp(`start-up failed: cannot use database '${db.name}' at 127\\.0\\.0\\.1:${proxy.port} as 'root': ` +
      'unavailable for 2 s \\(db_start_timeout\\): ECONNREFUSED'));
  });

  it('a refused login is a configuration error: exit 1 at once, no waiting', async () => {
    const started = Date.now();
    daemon = await startDaemon({ db: { ...db.config, user: 'no_such_user_dbreg', password: 'x' }, agent: { db_start_timeout: '0' } });
    assert.equal(await daemon.exited(), 1);
    assert.ok(Date.now() - started < 5000);
    assert.match(daemon.log(), /start-up failed: cannot use database .*Access denied/);
  });

  it('RPC calls during a long load wait for it; one still waiting after 10 s gets fault 500 naming the load and is not executed', async () => {
    // One row that takes 13 s to come: a slow load, without a database fault.
    const slowQuery = README_JOINED_QUERY.replace(/;$/, ' where sleep(13) = 0');
    daemon = await startDaemon({ db: db.config, agent: { joined_query: slowQuery } });
    await daemon.waitForLog(/XMLRPC Server listening/);
    const started = Date.now();
    const refused = await di(daemon, 'createRegistration', 2, 'bob', 'pw', 'example.test').then(
      (value) => ({ value }), (err: { faultCode?: number; faultString?: string }) => ({ err }));
    const waited = Date.now() - started;
    assert.deepEqual(Object.keys(refused), ['err'], JSON.stringify(refused));
    const err = (refused as { err: { faultCode?: number; faultString?: string } }).err;
    assert.equal(err.faultCode, 500);
    assert.match(err.faultString ?? '', /^Exception: db_reg_agent is loading its accounts from the database \(waited 10 s\); try again later$/);
    assert.ok(waited >= 9500 && waited < 13_000, `refused after ${waited} ms`);
    // A call in the last seconds of the load waits and then runs.
    const waiting = di(daemon, 'getRegistration', 1);
    await daemon.waitForLog(/running/, 20_000);
    assert.ok(await waiting, 'answered after the load');
    assert.deepEqual(await di(daemon, 'getRegistration', 2), [404, 'Not Found'], 'the refused create was not executed');
    assert.match(daemon.log(), /WARNING: \[control\] 1 call\(s\) were refused while the accounts were loading/);
  });

  describe('a load that fails half-way is read again, each account restored once', () => {
    const ACCOUNTS = 30_000;
    const logged: string[] = [];
    let savedLevel: LogLevel;
    afterEach(() => {
      logToStderr();
      setLogLevel(savedLevel);
    });
    beforeEach(async () => {
      savedLevel = getLogLevel();
      setLogLevel(LogLevel.Info);
      logged.length = 0;
      logThrough((level, line) => {
        if (level <= LogLevel.Info) logged.push(line);
      });
      await db.query('DELETE FROM subscribers');
      // Long passwords make the result far bigger than the socket buffers, so the cut
      // lands while most rows are still to come.
      const pass = 'p'.repeat(200);
      await db.insert('subscribers', Array.from({ length: ACCOUNTS }, (_v, i) => ({
        subscriber_id: i + 1, user: `u${i + 1}`, pass, realm: 'example.test', contact: '',
      })));
    });

    async function loadThrough(fault: () => Promise<void> | void): Promise<{ counts: Map<number, number>; repeated: number }> {
      const pool = createDbPool(proxy.configFor(db), { connectTimeoutMs: 2000 });
      const counts = new Map<number, number>();
      let faulted = false;
      try {
        const load = await loadAccountQuery(pool, { type: 'subscriber', sql: README_JOINED_QUERY, configKey: 'joined_query' },
          (row: AccountRow) => {
            counts.set(row.id, (counts.get(row.id) ?? 0) + 1);
            if (!faulted && counts.size === 1000) {
              faulted = true;
              void fault();
            }
          },
          {
            wait: new DatabaseWait({ where: 'proxy', giveUpAfterMs: 30_000, delayMs: { initial: 200, max: 1000 } }),
            replyTimeoutMs: 1000, monotonicNow: () => performance.now(), highWaterMark: 16,
          });
        assert.equal(load.restored, ACCOUNTS);
        return { counts, repeated: load.repeated };
      } finally {
        await endDbPool(pool, 1000);
      }
    }

    function assertEachOnce(counts: Map<number, number>): void {
      assert.equal(counts.size, ACCOUNTS, 'none lost');
      const twice = [...counts].filter(([, n]) => n !== 1);
      assert.deepEqual(twice.slice(0, 5), [], `${twice.length} accounts restored more than once`);
    }

    it('connection lost during the stream (cut, restored 1.5 s later)', async () => {
      const { counts, repeated } = await loadThrough(async () => {
        proxy.cut();
        await sleep(1500);
        await proxy.restore();
      });
      assert.ok(repeated >= 1, 'the load was read again');
      assertEachOnce(counts);
      assert.equal(logged.length, 2, logged.join('\n'));
      assert.match(logged[0] ?? '', /unavailable at start-up \(reading 'joined_query'\): PROTOCOL_CONNECTION_LOST: 'joined_query': connection to the database lost during the result/);
      assert.match(logged[1] ?? '', /answers again/);
    });

    it('connection frozen during the stream: the stall is given up after the deadline', async () => {
      const { counts, repeated } = await loadThrough(() => {
        proxy.freeze();
      });
      assert.equal(repeated, 1);
      assertEachOnce(counts);
      assert.match(logged[0] ?? '', /unavailable at start-up \(reading 'joined_query'\): PROTOCOL_SEQUENCE_TIMEOUT: 'joined_query': no row from the database within 1000 ms/);
    });
  });
});
