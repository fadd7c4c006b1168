/**
 * Restart safety (issue 4, SPEC §3 start-up): the daemon resumes from the
 * registrations table. Checked where it matters — at the registrar: Kamailio's
 * location rows keep their Call-ID, CSeq and last_modified until a refresh is due.
 */
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { startKamailio, type KamailioHandle, type LocationRow } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import {
  bindingStamp, ourBindings, printDaemonLogOnFailure, registrationRow, RegStatus, sleep,
  waitFor, waitForBinding, waitForRow, waitForStatus,
} from '../support/registrations';

describe('registration engine: restart safety (MariaDB + Kamailio)', function () {
  this.timeout(60_000);
  let kam: KamailioHandle;
  let db: TestDatabase;
  /** Every daemon a test started: stopped after it, whichever step failed. */
  let daemons: RunningDaemon[] = [];

  const users = ['boot-active', 'boot-failed', 'boot-inactive', 'boot-expired', 'boot-remove', 'boot-removed'];

  before(async () => {
    kam = await startKamailio();
    await kam.addSubscribers(users.map((user) => ({ user, password: `${user}-pw` })));
  });
  after(async () => {
    await kam?.stop();
  });
  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
    daemons = [];
  });
  afterEach(async function () {
    printDaemonLogOnFailure(this.currentTest, daemons.at(-1));
    for (const d of daemons) {
      await d.stop();
      d.cleanup();
    }
    await db?.drop();
  });

  async function start(options: { agent?: Record<string, string>; reuse?: RunningDaemon } = {}): Promise<RunningDaemon> {
    const d = await startDaemon({ db: db.config, agent: options.agent, reuse: options.reuse });
    daemons.push(d);
    await d.waitForLog(/running/);
    return d;
  }

  async function addSubscribers(rows: Array<{ id: number; user: string }>): Promise<void> {
    await db.insert('subscribers', rows.map(({ id, user }) => ({
      subscriber_id: id, user, pass: `${user}-pw`, realm: kam.hostPort(), contact: '',
    })));
  }

  it('after SIGKILL: ACTIVE rows wait for their refresh time (at +10 s of 20 s); FAILED, INACTIVE and expired rows register at once', async () => {
    await addSubscribers([
      { id: 31, user: 'boot-active' }, { id: 32, user: 'boot-failed' }, { id: 33, user: 'boot-inactive' }, { id: 36, user: 'boot-expired' },
    ]);
    const agent = { expires: '20', reregister_interval: '0.5' };
    const first = await start({ agent });
    const registered = await Promise.all(['boot-active', 'boot-failed', 'boot-inactive', 'boot-expired'].map((user) =>
      waitForBinding(kam, first, user, 'registered').then((b) => ({ user, b, seenAt: Date.now() }))));
    for (const id of [31, 32, 33, 36]) await waitForStatus(db, id, RegStatus.ACTIVE);
    const active = registered[0] as { b: LocationRow; seenAt: number };
    const activeBefore = bindingStamp(active.b);
    const rowBefore = await registrationRow(db, 31);

    await first.kill();
    await db.query('UPDATE registrations SET registration_status = ? WHERE subscriber_id = ?', [RegStatus.FAILED, 32]);
    await db.query('UPDATE registrations SET registration_status = ? WHERE subscriber_id = ?', [RegStatus.INACTIVE, 33]);
    // Still ACTIVE, but its expiry has passed (e.g. the daemon was down too long).
    await db.query('UPDATE registrations SET expiry = NOW() - INTERVAL 1 SECOND WHERE subscriber_id = ?', [36]);
    const second = await start({ agent, reuse: first });

    // FAILED, INACTIVE and expired rows: registered at once, by the new process (new Call-ID).
    for (const { user, b } of registered.slice(1)) {
      const again = await waitForBinding(kam, second, user, 're-registered after restart', (x) => x.callId !== b.callId, 5000);
      assert.equal(again.cseq, 51, `${user}: a new dialog`);
    }
    await waitForStatus(db, 32, RegStatus.ACTIVE);
    await waitForStatus(db, 33, RegStatus.ACTIVE);
    await waitForRow(db, 36, 'registered again', (r) => (r?.expires_in ?? 0) > 15);

    // The ACTIVE row: nothing until its refresh is due, 10 s after the original registration.
    await sleep(Math.max(0, active.seenAt + 7000 - Date.now()));
    const [untouched] = await ourBindings(kam, second, 'boot-active');
    assert.deepEqual(untouched && bindingStamp(untouched), activeBefore, 'no REGISTER for the ACTIVE row before its refresh time');
    const rowAfter = await registrationRow(db, 31);
    assert.deepEqual([rowAfter?.registration_status, rowAfter?.last_registration, rowAfter?.expiry],
      [RegStatus.ACTIVE, rowBefore?.last_registration, rowBefore?.expiry]);

    const refreshed = await waitForBinding(kam, second, 'boot-active', 'refreshed',
      (b) => b.callId !== activeBefore.callId || b.cseq !== activeBefore.cseq, 8000);
    const refreshedAfterMs = Date.now() - active.seenAt;
    // DATETIME columns carry whole seconds, so the restored due time is ±1 s.
    assert.ok(refreshedAfterMs >= 8500 && refreshedAfterMs <= 12_500, `refresh came ${refreshedAfterMs} ms after the registration`);
    assert.ok(refreshed.expiresIn > 15, `binding renewed for 20 s (expires in ${refreshed.expiresIn})`);
    await waitForRow(db, 31, 'refreshed', (r) => r?.registration_status === RegStatus.ACTIVE && r.last_registration !== rowBefore?.last_registration);
  });

  it('at start-up, TO_BE_REMOVED (5) rows are de-registered and deleted; REMOVED (4) rows are ignored', async () => {
    await addSubscribers([{ id: 34, user: 'boot-remove' }, { id: 35, user: 'boot-removed' }]);
    await db.insert('registrations', [{ subscriber_id: 35, registration_status: RegStatus.REMOVED }]);
    const first = await start();
    await waitForBinding(kam, first, 'boot-remove', 'registered');
    await waitForStatus(db, 34, RegStatus.ACTIVE);
    await first.stop();
    // SPEC §1: bindings are not removed at shutdown.
    assert.equal((await ourBindings(kam, first, 'boot-remove')).length, 1, 'binding kept over an orderly stop');

    await db.query('UPDATE registrations SET registration_status = ? WHERE subscriber_id = ?', [RegStatus.TO_BE_REMOVED, 34]);
    const second = await start({ reuse: first });
    await waitFor('boot-remove de-registered', () => ourBindings(kam, second, 'boot-remove'), (b) => b.length === 0, 5000);
    await waitForRow(db, 34, 'deleted', (r) => r === undefined, 5000);

    // The REMOVED row was ignored by both starts: never registered, row untouched.
    await sleep(500);
    assert.deepEqual(await ourBindings(kam, second, 'boot-removed'), []);
    const removed = await registrationRow(db, 35);
    assert.deepEqual([removed?.registration_status, removed?.last_code], [RegStatus.REMOVED, null]);
  });
});
