/**
 * DATETIME handling must not depend on the process time zone (TZ) nor on the DB
 * session's time zone. Each case runs in a child `node` with its own TZ, against
 * connections whose session time_zone is set to a non-UTC offset.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';

interface ChildReport {
  processOffsetMinutes: number;
  sessionZone: string;
  storedVsUtcSeconds: number;
  lastRegistration: number;
  expiry: number;
  dstNightSeconds: number;
}

/** Runs in the child: writes a 2xx through the store, reads it back through the account source. */
const CHILD = `
const [dbDir, configJson, sessionZone] = process.argv.slice(1);
const { createDbPool } = require(dbDir + '/pool.js');
const { RegistrationStore } = require(dbDir + '/registration-store.js');
const { openAccountStream } = require(dbDir + '/account-source.js');
const { secondsFromDbNow, parseDbDateTime } = require(dbDir + '/db-clock.js');
(async () => {
  const pool = createDbPool(JSON.parse(configJson));
  pool.on('connection', (c) => c.query('SET time_zone = ?', [sessionZone]));
  const store = new RegistrationStore(pool, 'registrations');
  await store.update({ type: 'subscriber', id: 1 }, { lastCode: 200, lastReason: 'OK', status: 2, registered: { grantedSeconds: 3600 } });
  const [[check]] = await pool.query('SELECT @@session.time_zone AS zone, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), last_registration) AS diff FROM registrations WHERE subscriber_id = 1');
  const stream = await openAccountStream(pool, { type: 'subscriber', configKey: 'joined_query', sql:
    'select s.subscriber_id, s.user, s.pass, s.realm, r.registration_status, r.last_registration, r.expiry from subscribers s left join registrations r on r.subscriber_id = s.subscriber_id' });
  const rows = [];
  for await (const row of stream) rows.push(row);
  await pool.end();
  const dstNow = '2026-03-08 01:30:00';
  process.stdout.write(JSON.stringify({
    processOffsetMinutes: new Date(2026, 0, 1).getTimezoneOffset(),
    sessionZone: check.zone,
    storedVsUtcSeconds: Number(check.diff),
    lastRegistration: rows[0].lastRegistration,
    expiry: rows[0].expiry,
    dstNightSeconds: secondsFromDbNow('2026-03-08 03:30:00', { dbNow: dstNow, dbNowMs: parseDbDateTime(dstNow), monotonicMs: 0 }),
  }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

function runChild(tz: string, sessionZone: string, db: TestDatabase): Promise<ChildReport> {
  const dbDir = path.resolve(__dirname, '../../src/db');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', CHILD, dbDir, JSON.stringify(db.config), sessionZone],
      { env: { ...process.env, TZ: tz }, timeout: 15_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as ChildReport)));
  });
}

describe('db: time zones', function () {
  this.timeout(30_000);
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
    await db.insert('subscribers', [{ subscriber_id: 1, user: 'u', pass: 'p', realm: 'r', contact: '' }]);
  });
  afterEach(async () => {
    await db.drop();
  });

  const cases = [
    { tz: 'America/New_York', sessionZone: '+05:30', processOffsetMinutes: 300, sessionOffsetSeconds: 19_800 },
    { tz: 'Asia/Kolkata', sessionZone: '-03:00', processOffsetMinutes: -330, sessionOffsetSeconds: -10_800 },
  ];
  for (const c of cases) {
    it(`reads back what it wrote: process TZ=${c.tz}, DB session time_zone ${c.sessionZone}`, async () => {
      const report = await runChild(c.tz, c.sessionZone, db);
      // The child really ran in that zone, and the DB really stored session-local times.
      assert.equal(report.processOffsetMinutes, c.processOffsetMinutes);
      assert.equal(report.sessionZone, c.sessionZone);
      assert.ok(Math.abs(report.storedVsUtcSeconds - c.sessionOffsetSeconds) <= 2, `stored ${report.storedVsUtcSeconds}s from UTC`);
      // Yet the times come back relative to the DB's own NOW(): just registered, expiring in an hour.
      assert.ok(report.lastRegistration <= 0 && report.lastRegistration > -3, `lastRegistration ${report.lastRegistration}`);
      assert.ok(report.expiry > 3597 && report.expiry <= 3600, `expiry ${report.expiry}`);
      // Naive arithmetic across the US DST change, whatever the process zone.
      assert.equal(report.dstNightSeconds, 7200);
    });
  }
});
