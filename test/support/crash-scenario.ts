/**
 * Crash safety (issue 14): SIGKILL during a mass start, then a restart on the same
 * configuration (test/integration/crash-safety.test.ts runs it with 50 000 accounts).
 * It asserts as it goes and returns what it measured. Its
 * deadlines allow for a loaded machine: ~80 accounts/s (a shared 2-core host at
 * load 17 made ~110/s; an idle one makes thousands).
 *
 * Proof at three places: the registrations table (every account ends ACTIVE, no row
 * is left PENDING, INACTIVE or FAILED), the registrar's bindings (exactly one per
 * account) and the registrar's REGISTER trace (per daemon process, one Call-ID per
 * account and never two transactions of one account under way at once; the restart
 * sends nothing for accounts the table already shows registered).
 */
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from './daemon';
import { startKamailio, type KamailioHandle } from './kamailio';
import { createTestDatabase, type TestDatabase } from './mariadb';
import { overlappingTransactions, readRegisterTrace, transactionSpans, type TransactionSpan } from './register-trace';
import { di, RegStatus, sleep, waitFor } from './registrations';

export interface CrashFigures {
  accounts: number;
  /** Seconds from the first daemon's spawn to the SIGKILL. */
  killedAfterSeconds: number;
  /** The first daemon's own figures at its last getStatistics before the kill. */
  atKill: { activeInMemory: number; inFlight: number; windowQueue: number };
  /** registrations rows by status right after the kill ('none': accounts without a row). */
  tableAfterKill: Record<string, number>;
  /** Seconds from the second daemon's spawn until every row was ACTIVE. */
  recoverySeconds: number;
  /** REGISTER transactions (branches) the registrar saw from each process, and copies received. */
  transactions: { first: number; second: number; retransmissions: number };
  /** Accounts the second process registered (the rest were restored as registered). */
  registeredBySecond: number;
  /** Final outcomes other than 200 in the second process (getStatistics' replies). */
  secondFailures: Record<string, number>;
}

const userOf = (id: number): string => `crash${id}`;

/** registrations rows by status, and accounts without a row as 'none'. */
async function tableByStatus(db: TestDatabase, accounts: number): Promise<Record<string, number>> {
  const rows = await db.query<{ s: number; n: number }>('SELECT registration_status AS s, COUNT(*) AS n FROM registrations GROUP BY registration_status');
  const counts: Record<string, number> = Object.fromEntries(rows.map((r) => [String(r.s), Number(r.n)]));
  counts.none = accounts - rows.reduce((n, r) => n + Number(r.n), 0);
  return counts;
}

type Statistics = { by_status?: Record<string, number>; in_flight?: number; window_queue?: number; replies?: Record<string, number> };

export async function crashDuringMassStart(accounts: number): Promise<CrashFigures> {
  let kam: KamailioHandle | undefined;
  let db: TestDatabase | undefined;
  const daemons: RunningDaemon[] = [];
  try {
    kam = await startKamailio({
      tls: false,
      logLevel: 1,
      usrlocDbMode: 2, // in memory: counted through its statistics
      usrlocTimerInterval: 3600,
      children: 4,
      sharedMemoryMb: 128 + Math.ceil((accounts * 3) / 1024),
      traceRegisters: true,
    });
    const ids = Array.from({ length: accounts }, (_, i) => i + 1);
    await kam.addSubscribers(ids.map((id) => ({ user: userOf(id), password: `crash-pw-${id}` })));
    db = await createTestDatabase({ schema: 'readme' });
    const realm = kam.hostPort('udp');
    await db.insert('subscribers', ids.map((id) => ({ subscriber_id: id, user: userOf(id), pass: `crash-pw-${id}`, realm, contact: '' })));
    // What an earlier SEMS may have left: PENDING and FAILED rows beside accounts without one.
    await db.insert('registrations', ids.filter((id) => id % 10 === 0 || id % 10 === 5).map((id) => (
      id % 10 === 0
        ? { subscriber_id: id, registration_status: RegStatus.PENDING, last_code: null, last_reason: null }
        : { subscriber_id: id, registration_status: RegStatus.FAILED, last_code: 408, last_reason: 'Timeout' })));

    // error_retry_interval 5: an account that fails under the load is retried within the test.
    const agent = { error_retry_interval: '5' };
    const spawnedAt = Date.now();
    const first = await startDaemon({ db: db.config, logLevel: 2, agent });
    daemons.push(first);
    await first.waitForLog(/\brunning$/m, 120_000);
    // Half-way: half the accounts answered, the rest in flight or waiting for a window slot.
    const stats = await waitFor('half the accounts ACTIVE in the first daemon', () => di(first, 'getStatistics') as Promise<Statistics>,
      (s) => (s.by_status?.['2'] ?? 0) >= accounts / 2, 60_000 + accounts * 6, 20);
    await first.kill();
    const killedAfterSeconds = (Date.now() - spawnedAt) / 1000;
    const atKill = { activeInMemory: stats.by_status?.['2'] ?? 0, inFlight: stats.in_flight ?? 0, windowQueue: stats.window_queue ?? 0 };
    assert.ok(atKill.inFlight > 0, 'transactions were in flight at the kill');
    await sleep(1000); // the registrar reads what the dead process had sent
    const tableAfterKill = await tableByStatus(db, accounts);
    const activeAtRestart = new Set((await db.query<{ id: number }>(
      'SELECT subscriber_id AS id FROM registrations WHERE registration_status = ? AND expiry > NOW()', [RegStatus.ACTIVE])).map((r) => Number(r.id)));
    assert.ok(activeAtRestart.size < accounts, 'the kill came before every status was written');

    const restartAt = Date.now();
    const second = await startDaemon({ db: db.config, logLevel: 2, agent, reuse: first });
    daemons.push(second);
    await waitFor('every row ACTIVE after the restart', () => tableByStatus(db as TestDatabase, accounts),
      (c) => c['2'] === accounts, 60_000 + accounts * 12, 1000);
    const recoverySeconds = (Date.now() - restartAt) / 1000;
    const [expired] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM registrations WHERE expiry <= NOW() OR expiry IS NULL');
    assert.equal(Number(expired?.n), 0, 'no ACTIVE row past its expiry');

    // The registrar (usrloc in memory): as many AORs as accounts and as many contacts, so one binding each.
    const usrloc = await kam.rpc('stats.get_statistics', 'usrloc:');
    const stat = (name: string): number => Number(new RegExp(`usrloc:${name} = (\\d+)`).exec(usrloc)?.[1] ?? -1);
    assert.deepEqual({ users: stat('location_users'), contacts: stat('location_contacts') }, { users: accounts, contacts: accounts },
      'the registrar holds exactly one binding per account');

    // The registrar's trace, split by process: a Call-ID belongs to the process that used it first.
    const spans = transactionSpans(readRegisterTrace(kam.logFile));
    const firstCallIds = new Set(spans.filter((s) => s.first < restartAt).map((s) => s.callId));
    const ofFirst = spans.filter((s) => firstCallIds.has(s.callId));
    const ofSecond = spans.filter((s) => !firstCallIds.has(s.callId));
    assert.ok(ofSecond.every((s) => s.first >= restartAt), 'no REGISTER of the second process before it started');
    for (const [name, list] of [['first', ofFirst], ['second', ofSecond]] as const) {
      const overlaps = overlappingTransactions(list);
      assert.deepEqual(overlaps.slice(0, 3), [], `${overlaps.length} overlapping transactions for one account in the ${name} process`);
      const callIds = new Map<string, Set<string>>();
      for (const s of list) callIds.set(s.user, (callIds.get(s.user) ?? new Set()).add(s.callId));
      const several = [...callIds].filter(([, set]) => set.size > 1);
      assert.deepEqual(several.slice(0, 3).map(([user, set]) => [user, [...set]]), [], `${several.length} accounts with several Call-IDs in the ${name} process`);
    }
    const registeredBySecond = new Set(ofSecond.map((s) => s.user));
    const sentAgain = [...activeAtRestart].filter((id) => registeredBySecond.has(userOf(id)));
    assert.deepEqual(sentAgain.slice(0, 5), [], `${sentAgain.length} accounts ACTIVE in the table at the restart were registered again`);
    assert.equal(registeredBySecond.size, accounts - activeAtRestart.size, 'the second process registered every account not ACTIVE in the table');

    const secondStats = (await di(second, 'getStatistics')) as Statistics;
    const secondFailures = Object.fromEntries(Object.entries(secondStats.replies ?? {}).filter(([code]) => code !== '200'));
    assert.equal(await second.stop(), 0, 'the second daemon stops in order');
    const copies = (list: TransactionSpan[]): number => list.reduce((n, s) => n + s.arrivals - 1, 0);
    return {
      accounts,
      killedAfterSeconds,
      atKill,
      tableAfterKill,
      recoverySeconds,
      transactions: { first: ofFirst.length, second: ofSecond.length, retransmissions: copies(ofFirst) + copies(ofSecond) },
      registeredBySecond: registeredBySecond.size,
      secondFailures,
    };
  } catch (err) {
    const last = daemons.at(-1);
    if (last) process.stderr.write(`\n----- daemon log (crash during a mass start) -----\n${last.log().slice(-8000)}\n-----\n`);
    throw err;
  } finally {
    for (const d of daemons) {
      await d.stop();
      d.cleanup();
    }
    await kam?.stop();
    await db?.drop();
  }
}
