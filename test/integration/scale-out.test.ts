/**
 * Scaling out (issue 13, doc/scaling.md): two instances share one database, each
 * owning a disjoint share of the accounts through its own joined_query (modulo on
 * subscriber_id). Checked at the registrar (Kamailio's location table and its
 * REGISTER counter) and in the registrations table: every account is registered
 * once, by its owner; a standby with the owner's configuration takes over a share
 * after an orderly stop (SIGTERM) and after a crash (SIGKILL) without a REGISTER
 * before each account's refresh time, and then refreshes on schedule.
 */
import assert from 'node:assert/strict';
import { README_JOINED_QUERY, startDaemon, type RunningDaemon } from '../support/daemon';
import { registersReceived, startKamailio, type KamailioHandle, type LocationRow } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import {
  bindingStamp, defaultContact, di, printDaemonLogOnFailure, registrationRows, RegStatus, sleep, waitFor,
} from '../support/registrations';

const ACCOUNTS = 200;
const SHARES = 2;
/** Short, so that the refresh (at half of it) comes within the test; long enough for a quiet window before it. */
const EXPIRES_S = 40;
const REREGISTER_INTERVAL = 0.5;
/** DATETIME columns hold whole seconds: a time read back from them is off by up to 1 s, plus polling. */
const CLOCK_SLACK_MS = 2000;

const userOf = (id: number): string => `scale-${id}`;
const idOf = (user: string): number => Number(user.slice('scale-'.length));

/** The README's joined query restricted to one share, as an operator writes it in each instance's db_reg_agent.conf. */
function shareQuery(share: number): string {
  return `${README_JOINED_QUERY.replace(/;$/, '')} where subscribers.subscriber_id % ${SHARES} = ${share}`;
}

interface Statistics {
  registrations: number;
  by_status: Record<string, number>;
  sent: { REGISTER?: number };
}

const statistics = async (d: RunningDaemon): Promise<Statistics> => (await di(d, 'getStatistics')) as Statistics;
const registersSent = async (d: RunningDaemon): Promise<number> => (await statistics(d)).sent.REGISTER ?? 0;

/** Every binding at the registrar, by user; fails unless each account has exactly one. */
async function oneBindingEach(kam: KamailioHandle): Promise<Map<string, LocationRow>> {
  const rows = await kam.locations();
  const byUser = new Map<string, LocationRow[]>();
  for (const row of rows) byUser.set(row.username, [...(byUser.get(row.username) ?? []), row]);
  const doubled = [...byUser].filter(([, b]) => b.length !== 1).map(([user, b]) => `${user}: ${b.map((x) => x.contact).join(', ')}`);
  assert.deepEqual(doubled, [], 'accounts with more than one binding');
  assert.equal(byUser.size, ACCOUNTS, 'every account has a binding');
  return new Map([...byUser].map(([user, b]) => [user, b[0] as LocationRow]));
}

describe('scale-out: instances sharing one database, each owning a share (MariaDB + Kamailio)', function () {
  this.timeout(120_000);
  let kam: KamailioHandle;
  let db: TestDatabase;
  /** The owners of share 0 and share 1, in that order. */
  let owners: RunningDaemon[] = [];
  const daemons: RunningDaemon[] = [];

  const ownerOf = (id: number): RunningDaemon => owners[id % SHARES] as RunningDaemon;

  async function start(options: { share?: number; reuse?: RunningDaemon }): Promise<RunningDaemon> {
    const d = await startDaemon({
      db: db.config,
      reuse: options.reuse,
      agent: { joined_query: shareQuery(options.share ?? 0), expires: String(EXPIRES_S), reregister_interval: String(REREGISTER_INTERVAL) },
    });
    daemons.push(d);
    await d.waitForLog(/running/, 20_000);
    return d;
  }

  before(async () => {
    kam = await startKamailio();
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => i + 1);
    await kam.addSubscribers(ids.map((id) => ({ user: userOf(id), password: `${userOf(id)}-pw` })));
    db = await createTestDatabase({ schema: 'readme' });
    await db.insert('subscribers', ids.map((id) => ({
      subscriber_id: id, user: userOf(id), pass: `${userOf(id)}-pw`, realm: kam.hostPort(), contact: '',
    })));
    owners = await Promise.all(Array.from({ length: SHARES }, (_, share) => start({ share })));
    await waitFor('every row ACTIVE with a 200',
      () => db.query<{ n: number }>('SELECT COUNT(*) AS n FROM registrations WHERE registration_status = ? AND last_code = 200', [RegStatus.ACTIVE]),
      ([row]) => Number(row?.n) === ACCOUNTS, 30_000, 200);
  });
  afterEach(function () {
    for (const d of daemons) printDaemonLogOnFailure(this.currentTest, d);
  });
  after(async () => {
    for (const d of daemons) {
      await d.stop();
      d.cleanup();
    }
    await db?.drop();
    await kam?.stop();
  });

  it('every account is registered exactly once, by the instance whose joined_query selects it, and its row is ACTIVE', async () => {
    const bindings = await oneBindingEach(kam);
    for (const [user, b] of bindings) {
      assert.equal(b.contact, defaultContact(ownerOf(idOf(user)), user), `${user} registered by its owner`);
      // CSeq 50 challenged, 51 with credentials: one registration per account, not two.
      assert.equal(b.cseq, 51, `${user}: one REGISTER with credentials`);
    }
    assert.equal(new Set([...bindings.values()].map((b) => b.callId)).size, ACCOUNTS, 'one Call-ID per account');

    const rows = await registrationRows(db);
    assert.equal(rows.length, ACCOUNTS);
    for (const r of rows) {
      assert.deepEqual([r.registration_status, r.last_code], [RegStatus.ACTIVE, 200], `row ${r.subscriber_id}`);
      assert.ok((r.expires_in ?? 0) > EXPIRES_S / 2, `row ${r.subscriber_id} expires in ${r.expires_in} s`);
      assert.match(r.contacts ?? '', new RegExp(`^<${defaultContact(ownerOf(r.subscriber_id), userOf(r.subscriber_id))}>`));
    }

    for (const owner of owners) {
      const s = await statistics(owner);
      assert.deepEqual([s.registrations, s.by_status[String(RegStatus.ACTIVE)], s.sent.REGISTER], [ACCOUNTS / SHARES, ACCOUNTS / SHARES, ACCOUNTS / SHARES],
        'each instance holds, registered and sent only its own share');
    }
  });

  it('a standby with the owner\'s configuration takes over after SIGTERM and after SIGKILL: no REGISTER before each refresh time, then the refreshes on schedule', async () => {
    const before = await oneBindingEach(kam);
    // Each account's refresh, as the daemon computes it from its row: last_registration + (expiry − last_registration) × 0.5.
    const readAt = Date.now();
    const dueAt = new Map((await registrationRows(db)).map((r) => {
      const lastRegistration = -(r.registered_ago ?? 0);
      const expiry = r.expires_in ?? 0;
      return [userOf(r.subscriber_id), readAt + (lastRegistration + (expiry - lastRegistration) * REREGISTER_INTERVAL) * 1000];
    }));
    const firstDue = Math.min(...dueAt.values());
    const lastDue = Math.max(...dueAt.values());

    // Share 0: a planned switch-over (orderly stop). Share 1: a crashed host.
    const [planned, crashed] = owners as [RunningDaemon, RunningDaemon];
    assert.equal(await planned.stop(), 0, 'orderly stop exits 0');
    await crashed.kill();
    // Neither de-registered anything (SPEC §1): the registrar still holds every binding unchanged.
    for (const [user, b] of await oneBindingEach(kam)) assert.deepEqual(bindingStamp(b), bindingStamp(before.get(user) as LocationRow), `${user} untouched by the stop`);
    const receivedAtStop = await registersReceived(kam);

    const standbys = await Promise.all(owners.map((owner) => start({ reuse: owner })));
    for (const s of standbys) assert.match(s.log(), new RegExp(`loaded ${ACCOUNTS / SHARES} registrations`));
    const quietUntil = firstDue - CLOCK_SLACK_MS;
    assert.ok(quietUntil - Date.now() >= 5000,
      `the standbys were running only ${quietUntil - Date.now()} ms before the first refresh was due: the quiet window proves little`);

    // Until the first refresh is due: no REGISTER from anyone.
    await sleep(quietUntil - Date.now());
    assert.equal(await registersReceived(kam) - receivedAtStop, 0, 'REGISTERs received by the registrar before the first refresh time');
    for (const s of standbys) assert.equal(await registersSent(s), 0, 'REGISTERs sent by a standby before the first refresh time');

    // Then each account's binding is refreshed by the standby (a new process: a new Call-ID, the same Contact), at its own time.
    const refreshedAt = new Map<string, number>();
    await waitFor('every binding refreshed', async () => {
      const now = Date.now();
      for (const b of await kam.locations()) {
        if (!refreshedAt.has(b.username) && b.callId !== before.get(b.username)?.callId) refreshedAt.set(b.username, now);
      }
      return refreshedAt.size;
    }, (n) => n === ACCOUNTS, lastDue + 10_000 - Date.now(), 200);
    const early = [...refreshedAt].filter(([user, at]) => at < (dueAt.get(user) as number) - CLOCK_SLACK_MS)
      .map(([user, at]) => `${user}: ${(dueAt.get(user) as number) - at} ms early`);
    assert.deepEqual(early, [], 'refreshed before its refresh time');
    const late = [...refreshedAt].filter(([user, at]) => at > (dueAt.get(user) as number) + 5000)
      .map(([user, at]) => `${user}: ${at - (dueAt.get(user) as number)} ms late`);
    assert.deepEqual(late, [], 'refreshed long after its refresh time');

    const after = await oneBindingEach(kam);
    for (const [user, b] of after) {
      assert.equal(b.contact, defaultContact(ownerOf(idOf(user)), user), `${user}: the standby registers the owner's Contact, replacing its binding`);
      assert.ok(b.expiresIn > EXPIRES_S / 2, `${user}: binding renewed (expires in ${b.expiresIn} s)`);
    }
    await waitFor('every row ACTIVE and refreshed', () => registrationRows(db),
      (rows) => rows.length === ACCOUNTS && rows.every((r) => r.registration_status === RegStatus.ACTIVE && (r.registered_ago ?? EXPIRES_S) < EXPIRES_S / 2),
      10_000, 200);
    for (const s of standbys) assert.equal(await registersSent(s), ACCOUNTS / SHARES, 'one refresh per account of the share');
  });
});
