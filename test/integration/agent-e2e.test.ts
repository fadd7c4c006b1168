/**
 * The daemon as an operator runs it: real MariaDB, real Kamailio registrar, the
 * compiled daemon as a process, provisioning over XML-RPC.
 */
import assert from 'node:assert/strict';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { di, registrationRows as registrations, waitFor, type RegRow } from '../support/registrations';

describe('daemon end to end (MariaDB + Kamailio)', function () {
  this.timeout(60_000);
  let kam: KamailioHandle;
  let db: TestDatabase;
  let daemon: RunningDaemon | undefined;

  before(async () => {
    kam = await startKamailio();
    await kam.addSubscribers([
      { user: 'alice', password: 'alice-pw' },
      { user: 'bob', password: 'bob-pw' },
      { user: 'carol', password: 'carol-pw' },
    ]);
  });
  after(async () => {
    await kam?.stop();
  });
  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    daemon = undefined;
    await db?.drop();
  });

  it('registers the accounts of the joined query at start-up: ACTIVE rows, bindings at the registrar', async () => {
    const realm = kam.hostPort('udp');
    await db.insert('subscribers', [
      { subscriber_id: 1, user: 'alice', pass: 'alice-pw', realm, contact: '' },
      { subscriber_id: 2, user: 'bob', pass: 'bob-pw', realm, contact: '' },
      { subscriber_id: 3, user: 'carol', pass: 'wrong', realm, contact: '' },
    ]);
    daemon = await startDaemon({ db: db.config, agent: { expires: '600' } });
    const rows = await waitFor('three final replies', () => registrations(db), (r) => r.length === 3 && r.every((x) => x.last_code !== null));
    const [alice, bob, carol] = rows as [RegRow, RegRow, RegRow];
    for (const r of [alice, bob]) {
      assert.equal(r.registration_status, 2);
      assert.equal(r.last_code, 200);
      assert.ok(r.expires_in !== null && r.expires_in > 590 && r.expires_in <= 600, `expires_in ${r.expires_in}`);
      assert.ok(r.registered_ago !== null && r.registered_ago <= 2);
      assert.match(r.contacts ?? '', new RegExp(`sip:${r.subscriber_id === 1 ? 'alice' : 'bob'}@127\\.0\\.0\\.1:${daemon.sipPort}`));
    }
    assert.equal(carol.registration_status, 3, 'wrong password → FAILED');
    assert.equal(carol.last_code, 401);
    const bindings = (await kam.locations()).filter((b) => b.contact.endsWith(`:${daemon?.sipPort}`));
    assert.deepEqual(bindings.map((b) => b.username).sort(), ['alice', 'bob']);
    for (const b of bindings) {
      assert.equal(b.contact, `sip:${b.username}@127.0.0.1:${daemon.sipPort}`);
      assert.ok(b.expiresIn > 590 && b.expiresIn <= 600);
    }
  });

  it('stores statuses in a table without the contacts column (older SEMS schema) with save_contacts left at yes', async () => {
    await db.query('ALTER TABLE registrations DROP COLUMN contacts');
    const realm = kam.hostPort('udp');
    await db.insert('subscribers', [{ subscriber_id: 1, user: 'alice', pass: 'alice-pw', realm, contact: '' }]);
    daemon = await startDaemon({ db: db.config, agent: { expires: '600' } });
    await daemon.waitForLog(/'registrations' has no contacts column: Contact sets of 2xx replies are not stored \(save_contacts=yes\)/);
    const [row] = await waitFor('ACTIVE', () => db.query<{ registration_status: number; last_code: number | null; expiry: string | null }>(
      'SELECT registration_status, last_code, expiry FROM registrations WHERE subscriber_id = 1'), (r) => r[0]?.registration_status === 2);
    assert.equal(row?.last_code, 200);
    assert.ok(row?.expiry);
    assert.doesNotMatch(daemon.log(), /registration status of .* not stored/);
  });

  it('createRegistration over XML-RPC → ACTIVE; removeRegistration → row deleted, binding gone', async () => {
    daemon = await startDaemon({ db: db.config });
    await daemon.waitForLog(/running/);
    const realm = kam.hostPort('udp');
    assert.deepEqual(await di(daemon, 'createRegistration', 7, 'alice', 'alice-pw', realm), [200, 'OK']);
    const [row] = await waitFor('ACTIVE', () => registrations(db), (r) => r[0]?.registration_status === 2);
    assert.equal(row?.subscriber_id, 7);
    const ours = `sip:alice@127.0.0.1:${daemon.sipPort}`;
    await kam.waitForLocations((b) => b.some((x) => x.contact === ours), { username: 'alice' });
    assert.deepEqual(await di(daemon, 'removeRegistration', 7), [200, 'OK']);
    await waitFor('row deleted', () => registrations(db), (r) => r.length === 0);
    await kam.waitForLocations((b) => !b.some((x) => x.contact === ours), { username: 'alice' });
  });
});
