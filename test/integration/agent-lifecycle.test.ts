/**
 * Registration engine against a real registrar (issue 4): the DI life cycle of one
 * registration — create, update, refresh, remove — seen both in the registrations
 * table (MariaDB) and at Kamailio's location table (what the registrar really holds).
 *
 * Kamailio challenges a REGISTER without credentials, so a new registration is two
 * requests at the wire (CSeq 50 without credentials → 401, 51 with them → 200); later
 * requests of the dialog carry the credentials up front (SEMS uac_auth) and are one
 * while the nonce is valid. The location row keeps the accepted one's Call-ID and CSeq.
 */
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { AUTH_RC, authFailures, startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import {
  bindingStamp, defaultContact, di, endDaemon, ourBindings, RegStatus, sleep,
  waitFor, waitForBinding, waitForRow, waitForStatus,
} from '../support/registrations';

const OK = [200, 'OK'];

describe('registration engine: DI life cycle at a real registrar (MariaDB + Kamailio)', function () {
  this.timeout(60_000);
  let kam: KamailioHandle;
  /** A second registrar, for updates that move a registration to another realm. */
  let kamB: KamailioHandle;
  let db: TestDatabase;
  let daemon: RunningDaemon | undefined;

  const users = ['life-create', 'life-move', 'life-same', 'life-refresh', 'life-remove', 'life-brief'];

  before(async () => {
    [kam, kamB] = await Promise.all([startKamailio(), startKamailio()]);
    const subscribers = users.map((user) => ({ user, password: `${user}-pw` }));
    await Promise.all([kam.addSubscribers(subscribers), kamB.addSubscribers(subscribers)]);
  });
  after(async () => {
    await Promise.all([kam?.stop(), kamB?.stop()]);
  });
  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
  });
  afterEach(async function () {
    await endDaemon(this.currentTest, daemon);
    daemon = undefined;
    await db?.drop();
  });

  async function start(agent: Record<string, string> = {}): Promise<RunningDaemon> {
    daemon = await startDaemon({ db: db.config, agent: { expires: '600', ...agent } });
    await daemon.waitForLog(/running/);
    return daemon;
  }

  it('createRegistration → ACTIVE with expiry, last_registration and contacts; the binding is at the registrar', async () => {
    const d = await start();
    assert.deepEqual(await di(d, 'createRegistration', 11, 'life-create', 'life-create-pw', kam.hostPort()), OK);
    const row = await waitForStatus(db, 11, RegStatus.ACTIVE);
    assert.equal(row.last_code, 200);
    assert.equal(row.last_reason, 'OK');
    assert.ok(row.expires_in !== null && row.expires_in >= 595 && row.expires_in <= 600, `expires_in ${row.expires_in}`);
    assert.ok(row.registered_ago !== null && row.registered_ago >= 0 && row.registered_ago <= 2, `registered_ago ${row.registered_ago}`);
    assert.ok(row.contacts?.includes(`<${defaultContact(d, 'life-create')}>`), `contacts ${row.contacts}`);
    const binding = await waitForBinding(kam, d, 'life-create', 'registered');
    assert.ok(binding.expiresIn > 590 && binding.expiresIn <= 600, `binding expires in ${binding.expiresIn}`);
    assert.equal(binding.cseq, 51, 'CSeq 50 got the challenge, 51 carried the credentials');
  });

  it('updateRegistration with a new realm re-registers at once there, with a new Call-ID; the old binding is left alone', async () => {
    const d = await start();
    await di(d, 'createRegistration', 12, 'life-move', 'life-move-pw', kam.hostPort());
    const atA = bindingStamp(await waitForBinding(kam, d, 'life-move', 'registered at A'));
    await waitForStatus(db, 12, RegStatus.ACTIVE);

    const updatedAt = Date.now();
    assert.deepEqual(await di(d, 'updateRegistration', 12, 'life-move', 'life-move-pw', kamB.hostPort()), OK);
    const atB = await waitForBinding(kamB, d, 'life-move', 'registered at B', () => true, 5000);
    assert.ok(Date.now() - updatedAt < 3000, `re-REGISTER came ${Date.now() - updatedAt} ms after the update`);
    assert.notEqual(atB.callId, atA.callId, 'a new realm is a new registration: new Call-ID');
    assert.equal(atB.cseq, 51, 'the new dialog starts at CSeq 50 again');

    // README: "the old binding is not deregistered".
    const [stillAtA] = await ourBindings(kam, d, 'life-move');
    assert.deepEqual(stillAtA && bindingStamp(stillAtA), atA);
    const row = await waitForStatus(db, 12, RegStatus.ACTIVE);
    assert.equal(row.last_code, 200);
  });

  it('updateRegistration changing nothing sends no REGISTER; changing the password re-registers in the same dialog', async () => {
    const d = await start();
    await di(d, 'createRegistration', 13, 'life-same', 'life-same-pw', kam.hostPort());
    const before = bindingStamp(await waitForBinding(kam, d, 'life-same', 'registered'));
    await waitForStatus(db, 13, RegStatus.ACTIVE);
    await sleep(1100); // last_modified has whole seconds: any REGISTER from now on would move it

    assert.deepEqual(await di(d, 'updateRegistration', 13, 'life-same', 'life-same-pw', kam.hostPort()), OK);
    await sleep(2000);
    const [unchanged] = await ourBindings(kam, d, 'life-same');
    assert.deepEqual(unchanged && bindingStamp(unchanged), before, 'no REGISTER reached the registrar');
    const row = await waitForStatus(db, 13, RegStatus.ACTIVE);
    assert.ok((row.registered_ago ?? 0) >= 3, `last_registration untouched (registered ${row.registered_ago} s ago)`);

    // Positive control: the same observation does see a REGISTER when one is due.
    await kam.setPassword('life-same', 'life-same-pw2');
    await di(d, 'updateRegistration', 13, 'life-same', 'life-same-pw2', kam.hostPort());
    const after = await waitForBinding(kam, d, 'life-same', 're-registered', (b) => b.cseq !== before.cseq, 5000);
    assert.equal(after.callId, before.callId, 'same user and realm: same Call-ID');
    assert.equal(after.cseq, before.cseq + 2, 'one challenged request and one with the new credentials');
    await waitForRow(db, 13, 'fresh last_registration', (r) => r?.registration_status === RegStatus.ACTIVE && (r.registered_ago ?? 99) <= 1);
  });

  it('refreshRegistration sends a new REGISTER in the same dialog (same Call-ID, CSeq continues), credentials up front', async () => {
    const d = await start();
    await di(d, 'createRegistration', 14, 'life-refresh', 'life-refresh-pw', kam.hostPort());
    const before = bindingStamp(await waitForBinding(kam, d, 'life-refresh', 'registered'));
    await waitForStatus(db, 14, RegStatus.ACTIVE);
    await sleep(1100);

    assert.deepEqual(await di(d, 'refreshRegistration', 14), OK);
    const after = await waitForBinding(kam, d, 'life-refresh', 'refreshed', (b) => b.cseq !== before.cseq, 5000);
    assert.equal(after.callId, before.callId);
    // 52 carries the credentials answering 50's challenge: accepted at once, nothing challenged.
    assert.equal(after.cseq, before.cseq + 1);
    assert.deepEqual(authFailures(kam, after.callId), [{ cseq: 50, rc: AUTH_RC.noCredentials }]);
    assert.ok(after.lastModified.getTime() > before.lastModified, 'binding refreshed');
    assert.ok(after.expiresIn > 590, `binding expires in ${after.expiresIn}`);
    await waitForRow(db, 14, 'fresh last_registration', (r) => r?.registration_status === RegStatus.ACTIVE && (r.registered_ago ?? 99) <= 1);

    // SPEC §8: an unknown id is answered OK and ignored.
    assert.deepEqual(await di(d, 'refreshRegistration', 999), OK);
  });

  it('removeRegistration with delete_removed_registrations=no → status 4 REMOVED, binding gone, account forgotten', async () => {
    const d = await start({ delete_removed_registrations: 'no' });
    await di(d, 'createRegistration', 15, 'life-remove', 'life-remove-pw', kam.hostPort());
    await waitForBinding(kam, d, 'life-remove', 'registered');
    await waitForStatus(db, 15, RegStatus.ACTIVE);

    assert.deepEqual(await di(d, 'removeRegistration', 15), OK);
    const row = await waitForStatus(db, 15, RegStatus.REMOVED);
    assert.equal(row.last_code, 200);
    await waitFor('binding removed', () => ourBindings(kam, d, 'life-remove'), (b) => b.length === 0, 5000);

    // The removed account is gone from the engine: a refresh must not bring it back.
    await di(d, 'refreshRegistration', 15);
    await sleep(1500);
    assert.deepEqual(await ourBindings(kam, d, 'life-remove'), []);
    assert.equal((await waitForStatus(db, 15, RegStatus.REMOVED)).last_code, 200);
  });

  it('a refresh after the registrar\'s nonce expired: its stale=true challenge is answered once, the account stays ACTIVE', async () => {
    const shortNonces = await startKamailio({ nonceExpire: 2 });
    try {
      await shortNonces.addSubscriber('life-stale', 'life-stale-pw');
      const d = await start();
      await di(d, 'createRegistration', 17, 'life-stale', 'life-stale-pw', shortNonces.hostPort());
      const before = bindingStamp(await waitForBinding(shortNonces, d, 'life-stale', 'registered'));
      await waitForStatus(db, 17, RegStatus.ACTIVE);
      await sleep(3500); // nonce_expire 2 s

      assert.deepEqual(await di(d, 'refreshRegistration', 17), OK);
      const after = await waitForBinding(shortNonces, d, 'life-stale', 'refreshed', (b) => b.cseq !== before.cseq, 5000);
      assert.equal(after.cseq, before.cseq + 2, '52 (expired nonce) drew stale=true, 53 (new nonce) was accepted');
      assert.deepEqual(authFailures(shortNonces, after.callId), [
        { cseq: 50, rc: AUTH_RC.noCredentials },
        { cseq: 52, rc: AUTH_RC.stale },
      ]);
      const row = await waitForRow(db, 17, 'fresh last_registration',
        (r) => r?.registration_status === RegStatus.ACTIVE && (r.registered_ago ?? 99) <= 1);
      assert.deepEqual([row?.last_code, row?.last_reason], [200, 'OK']);
    } finally {
      await shortNonces.stop();
    }
  });

  it('423 Interval Too Brief from Kamailio (min_expires 1200) → retried with Min-Expires → ACTIVE for 1200 s', async () => {
    const strict = await startKamailio({ minExpires: 1200 });
    try {
      await strict.addSubscriber('life-brief', 'life-brief-pw');
      const d = await start({ expires: '600' });
      await di(d, 'createRegistration', 16, 'life-brief', 'life-brief-pw', strict.hostPort());
      const row = await waitForStatus(db, 16, RegStatus.ACTIVE);
      assert.equal(row.last_code, 200);
      assert.ok(row.expires_in !== null && row.expires_in >= 1195 && row.expires_in <= 1200, `expires_in ${row.expires_in}`);
      const binding = await waitForBinding(strict, d, 'life-brief', 'registered');
      assert.ok(binding.expiresIn > 1190 && binding.expiresIn <= 1200, `binding expires in ${binding.expiresIn}`);
      // 50 → 401, 51 (credentials) → 423, 52 (Expires 1200, credentials) → 200
      assert.equal(binding.cseq, 52, 'the accepted request is the retry after the 423');
    } finally {
      await strict.stop();
    }
  });
});
