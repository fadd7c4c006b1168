/** Reading accounts with the operator's joined query, against the real MariaDB. */
import assert from 'node:assert/strict';
import { openAccountStream, type AccountStream } from '../../src/db/account-source';
import { AccountQueryError, type AccountRow } from '../../src/db/account-row';
import { createDbPool, type DbPool } from '../../src/db/pool';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';

/** The README's joined query, with contact (db_reg_agent.conf example). */
const README_QUERY = `select subscribers.subscriber_id as subscriber_id, subscribers.user as user,
  subscribers.pass as pass, subscribers.realm as realm, subscribers.contact as contact,
  registrations.registration_status as registration_status, registrations.expiry as expiry,
  registrations.last_registration as last_registration
  from subscribers left join registrations on subscribers.subscriber_id=registrations.subscriber_id;`;

async function collect(stream: AccountStream): Promise<AccountRow[]> {
  const rows: AccountRow[] = [];
  for await (const row of stream) rows.push(row);
  return rows;
}

describe('db: account source (joined query)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let pool: DbPool;

  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
    pool = createDbPool(db.config, { connectionLimit: 2 });
  });
  afterEach(async () => {
    try {
      await pool.end();
    } finally {
      await db.drop();
    }
  });

  it('restores rows in all six statuses and one without a registrations row', async () => {
    await db.insert('subscribers', [1, 2, 3, 4, 5, 6, 7].map((id) => ({
      subscriber_id: id, user: `u${id}`, pass: `p${id}`, realm: '127.0.0.1:5070', contact: id === 3 ? 'sip:u3@10.0.0.3' : '',
    })));
    await db.query(`INSERT INTO registrations (subscriber_id, registration_status, last_registration, expiry, last_code, last_reason)
      VALUES (1, 0, NULL, NULL, NULL, NULL),
             (2, 1, NULL, NULL, NULL, NULL),
             (3, 2, TIMESTAMPADD(SECOND, -600, NOW()), TIMESTAMPADD(SECOND, 3000, NOW()), 200, 'OK'),
             (4, 3, NULL, NULL, 408, 'Timeout'),
             (5, 4, NULL, NULL, 200, 'OK'),
             (6, 5, TIMESTAMPADD(SECOND, -7300, NOW()), TIMESTAMPADD(SECOND, -100, NOW()), 200, 'OK')`);

    const stream = await openAccountStream(pool, { type: 'subscriber', sql: README_QUERY, configKey: 'joined_query' });
    const rows = (await collect(stream)).sort((a, b) => a.id - b.id);

    assert.deepEqual(rows.map((r) => [r.id, r.status]), [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 5], [7, null]]);
    const active = rows[2];
    assert.equal(active.type, 'subscriber');
    assert.equal(active.user, 'u3');
    assert.equal(active.pass, 'p3');
    assert.equal(active.realm, '127.0.0.1:5070');
    assert.equal(active.contact, 'sip:u3@10.0.0.3');
    assert.equal(active.authUser, null);
    assert.ok(Math.abs(active.lastRegistration! + 600) <= 2, `lastRegistration ${active.lastRegistration}`);
    assert.ok(Math.abs(active.expiry! - 3000) <= 2, `expiry ${active.expiry}`);
    assert.ok(rows[5].expiry! < -98 && rows[5].expiry! > -102);
    assert.equal(rows[6].lastRegistration, null);
    assert.equal(rows[6].expiry, null);
    assert.equal(stream.fetched, 7);
    assert.equal(stream.skipped, 0);
    assert.deepEqual(await db.connectionIds().then((ids) => ids.length <= 2), true);
  });

  it('reads peerings and auth_user from the sipwise schema', async () => {
    const sipwise = await createTestDatabase({ schema: 'sipwise' });
    const sipwisePool = createDbPool(sipwise.config);
    try {
      await sipwise.insert('peerings', [
        { peer_host_id: 10, user: 'trunk', auth_user: 'trunk-auth', pass: 's', realm: 'carrier.example', contact: null },
        { peer_host_id: 11, user: 'trunk2', auth_user: '', pass: 's', realm: 'carrier.example', contact: null },
      ]);
      await sipwise.query('INSERT INTO registrations (peer_host_id, registration_status) VALUES (10, 2)');
      const sql = `select p.peer_host_id as peer_host_id, p.user as user, p.auth_user as auth_user, p.pass as pass,
        p.realm as realm, p.contact as contact, r.registration_status as registration_status, r.expiry as expiry,
        r.last_registration as last_registration from peerings p left join registrations r on r.peer_host_id = p.peer_host_id`;
      const rows = (await collect(await openAccountStream(sipwisePool, { type: 'peering', sql, configKey: 'joined_query_peerings' })))
        .sort((a, b) => a.id - b.id);
      assert.deepEqual(rows.map((r) => [r.type, r.id, r.authUser, r.status]), [['peering', 10, 'trunk-auth', 2], ['peering', 11, '', null]]);
    } finally {
      await sipwisePool.end();
      await sipwise.drop();
    }
  });

  it('streams 25k rows with backpressure instead of buffering the result', async () => {
    const total = 25_000;
    await db.insert('subscribers', Array.from({ length: total }, (_, i) => ({
      subscriber_id: i + 1, user: `user${i + 1}`, pass: 'secret'.repeat(8), realm: 'registrar.example.com:5070', contact: '',
    })));
    const stream = await openAccountStream(pool, { type: 'subscriber', sql: README_QUERY, configKey: 'joined_query' }, { highWaterMark: 100 });
    let count = 0;
    let fetchedAtFirstRow = -1;
    const ids = new Set<number>();
    for await (const row of stream) {
      if (count === 0) {
        // A slow consumer: the driver must stop reading, not pull the whole result.
        await new Promise((resolve) => setTimeout(resolve, 300));
        fetchedAtFirstRow = stream.fetched;
      }
      ids.add(row.id);
      count++;
    }
    assert.equal(count, total);
    assert.equal(ids.size, total);
    assert.equal(stream.fetched, total);
    assert.ok(fetchedAtFirstRow > 0 && fetchedAtFirstRow < total / 5,
      `only a window of rows may be read ahead of a stalled consumer, got ${fetchedAtFirstRow}`);
    // The connection went back to the pool: a query still works with connectionLimit 2 taken by nothing else.
    assert.equal((await pool.query('SELECT 1 AS one'))[0] instanceof Array, true);
  });

  it('frees the connection when the consumer stops early', async () => {
    await db.insert('subscribers', Array.from({ length: 5000 }, (_, i) => ({
      subscriber_id: i + 1, user: `u${i}`, pass: 'p', realm: 'r', contact: '',
    })));
    const single = createDbPool(db.config, { connectionLimit: 1 });
    try {
      for (let round = 0; round < 3; round++) {
        const stream = await openAccountStream(single, { type: 'subscriber', sql: README_QUERY, configKey: 'joined_query' });
        let seen = 0;
        for await (const row of stream) {
          assert.ok(row.id > 0);
          if (++seen === 10) break;
        }
      }
      const [rows] = await single.query('SELECT COUNT(*) AS n FROM subscribers');
      assert.equal((rows as { n: number }[])[0].n, 5000);
    } finally {
      await single.end();
    }
  });

  it('rejects a query that lacks a required column, naming column and config key', async () => {
    await db.insert('subscribers', [{ subscriber_id: 1, user: 'u', pass: 'p', realm: 'r', contact: '' }]);
    const sql = 'select subscriber_id, user, realm, NULL as registration_status from subscribers';
    await assert.rejects(openAccountStream(pool, { type: 'subscriber', sql, configKey: 'joined_query_subscribers' }),
      (err: unknown) => err instanceof AccountQueryError && err.message.includes("'joined_query_subscribers'") && err.message.includes("'pass'"));
    // The failed query did not keep its connection.
    const ids = await db.connectionIds();
    assert.ok(ids.length <= 2);
    assert.deepEqual((await collect(await openAccountStream(pool, {
      type: 'subscriber', sql: 'select subscriber_id, user, pass, realm, NULL as registration_status from subscribers', configKey: 'joined_query',
    }))).map((r) => [r.id, r.contact, r.status]), [[1, null, null]]);
  });

  it('rejects SQL errors and statements that return no rows', async () => {
    await assert.rejects(openAccountStream(pool, { type: 'subscriber', sql: 'select nope from subscribers', configKey: 'joined_query' }),
      (err: unknown) => err instanceof AccountQueryError && /'joined_query' failed: Unknown column 'nope'/.test(err.message));
    await assert.rejects(openAccountStream(pool, { type: 'subscriber', sql: 'update subscribers set user = user', configKey: 'joined_query' }),
      /must be a SELECT/);
  });

  it('skips rows whose key is 0 or NULL, as SEMS does', async () => {
    const sql = `select 0 as subscriber_id, 'a' as user, 'p' as pass, 'r' as realm, NULL as registration_status
      union all select NULL, 'b', 'p', 'r', NULL union all select 9, 'c', 'p', 'r', 3`;
    const stream = await openAccountStream(pool, { type: 'subscriber', sql, configKey: 'joined_query' });
    assert.deepEqual((await collect(stream)).map((r) => [r.id, r.user, r.status]), [[9, 'c', 3]]);
    assert.equal(stream.skipped, 2);
  });
});
