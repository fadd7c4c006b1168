/**
 * The control plane as operators use it, end to end: a Python provisioning script
 * (xmlrpc.client, like an operator's) creates 1 000 accounts over XML-RPC against the
 * compiled daemon, which registers them at a real Kamailio and writes MariaDB. The
 * registrations table, getRegistration, getStatistics and /metrics must all agree.
 * Then the same create/remove flow over JSON-RPC with a raw netstring client.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { fixturePath } from '../support/fixtures';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { waitUntil } from '../support/peer-process';
import { freePort } from '../support/ports';
import { parseExposition, scrape, type Exposition } from '../support/prometheus';
import { NetstringClient } from '../support/rpc-fixtures';

const ACCOUNTS = 1000;
const FIRST_ID = 1;
const JSON_IDS = [5001, 5002, 5003, 5004, 5005];
const STATUSES = ['0', '1', '2', '3', '4', '5'];

interface Registration {
  status: number;
  last_code: number;
  last_reason: string;
  expires: number;
  contacts: string;
}

interface Statistics {
  by_status: Record<string, number>;
  sent: { REGISTER: number; deREGISTER: number };
  replies: Record<string, number>;
}

interface RegRow {
  subscriber_id: number;
  registration_status: number;
  last_code: number;
  last_reason: string;
  contacts: string;
  granted: number;
}

const run = promisify(execFile);

/** The provisioning script; its stdout is one JSON document. */
async function provision<T>(xmlrpcPort: number, ...args: Array<string | number>): Promise<T> {
  const script = fixturePath('provisioning', 'provision.py');
  const { stdout } = await run('python3', [script, `http://127.0.0.1:${xmlrpcPort}/RPC2`, ...args.map(String)], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}

async function statusCounts(db: TestDatabase): Promise<Record<string, number>> {
  const rows = await db.query<{ status: number; n: number }>(
    'SELECT registration_status AS status, COUNT(*) AS n FROM registrations GROUP BY registration_status');
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of rows) counts[String(r.status)] = Number(r.n);
  return counts;
}

async function rowsOf(db: TestDatabase, ids: number[]): Promise<Map<number, RegRow>> {
  const rows = await db.query<RegRow>(
    'SELECT subscriber_id, registration_status, last_code, last_reason, contacts, ' +
    'TIMESTAMPDIFF(SECOND, last_registration, expiry) AS granted FROM registrations WHERE subscriber_id IN (?)', [ids]);
  return new Map(rows.map((r) => [r.subscriber_id, r]));
}

async function waitForCounts(db: TestDatabase, expected: Record<string, number>, timeoutMs: number): Promise<void> {
  let last: Record<string, number> = {};
  const reached = await waitUntil(async () => {
    last = await statusCounts(db);
    return STATUSES.every((s) => last[s] === (expected[s] ?? 0));
  }, timeoutMs, 250);
  assert.ok(reached, `registrations table: ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`);
}

function assertRowMatches(row: RegRow | undefined, reg: Registration, id: number): void {
  assert.ok(row, `row of ${id}`);
  assert.deepEqual(
    { status: reg.status, last_code: reg.last_code, last_reason: reg.last_reason, contacts: reg.contacts, expires: reg.expires },
    { status: row.registration_status, last_code: row.last_code, last_reason: row.last_reason, contacts: row.contacts, expires: row.granted },
    `getRegistration(${id}) and its row`,
  );
}

async function metricsOf(port: number): Promise<Exposition> {
  const reply = await scrape(port);
  assert.equal(reply.status, 200);
  return parseExposition(reply.body);
}

describe('control plane end to end (XML-RPC and JSON-RPC, MariaDB + Kamailio)', function () {
  this.timeout(180_000);
  let kam: KamailioHandle;
  let db: TestDatabase;
  let daemon: RunningDaemon;
  let metricsPort: number;
  let realm: string;

  before(async () => {
    kam = await startKamailio();
    realm = kam.hostPort('udp');
    const users = [...Array.from({ length: ACCOUNTS }, (_, i) => FIRST_ID + i), ...JSON_IDS];
    await kam.addSubscribers(users.map((id) => ({ user: `user${id}`, password: `pw-${id}` })));
    db = await createTestDatabase({ schema: 'readme' });
    metricsPort = await freePort({ protocols: ['tcp'] });
    daemon = await startDaemon({ db: db.config, agent: { metrics_port: String(metricsPort) }, logLevel: 2 });
    await daemon.waitForLog(/running/);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await db?.drop();
    await kam?.stop();
  });

  it(`${ACCOUNTS} accounts provisioned by an XML-RPC script reach ACTIVE; getRegistration, getStatistics and /metrics agree with the table`, async () => {
    const created = await provision<{ ok: number; unexpected: unknown[] }>(daemon.xmlrpcPort, 'create', FIRST_ID, ACCOUNTS, 'user', 'pw-', realm);
    assert.deepEqual(created, { ok: ACCOUNTS, unexpected: [] });
    await waitForCounts(db, { '2': ACCOUNTS }, 90_000);

    const ours = (await kam.locations()).filter((b) => b.contact.endsWith(`@127.0.0.1:${daemon.sipPort}`));
    assert.equal(new Set(ours.map((b) => b.username)).size, ACCOUNTS, 'one binding per account at the registrar');

    // A sample spread over the id range, through the same script.
    const sample = Array.from({ length: 25 }, (_, i) => FIRST_ID + Math.floor((i * ACCOUNTS) / 25) + (i % 7));
    const described = await provision<Record<string, Registration>>(daemon.xmlrpcPort, 'get', ...sample);
    const rows = await rowsOf(db, sample);
    for (const id of sample) {
      const reg = described[String(id)];
      assert.ok(reg, `getRegistration(${id})`);
      assert.equal(reg.status, 2);
      assert.equal(reg.last_code, 200);
      assert.ok(reg.contacts.includes(`sip:user${id}@127.0.0.1:${daemon.sipPort}`), reg.contacts);
      assertRowMatches(rows.get(id), reg, id);
    }

    const table = await statusCounts(db);
    const stats = await provision<Statistics>(daemon.xmlrpcPort, 'stats');
    assert.deepEqual(stats.by_status, table, 'getStatistics by_status = the table');
    assert.equal(stats.sent.REGISTER, ACCOUNTS, 'one REGISTER transaction per account');
    assert.equal(stats.replies['200'], ACCOUNTS);

    const m = await metricsOf(metricsPort);
    for (const status of STATUSES) {
      assert.equal(m.value('db_reg_agent_registrations', { status }), table[status], `/metrics status ${status}`);
    }
    assert.equal(m.value('db_reg_agent_requests_sent_total', { method: 'REGISTER' }), stats.sent.REGISTER);
    assert.equal(m.value('db_reg_agent_final_replies_total', { method: 'REGISTER', code: '200' }), stats.replies['200']);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_count', { method: 'REGISTER' }), ACCOUNTS);
    assert.ok((m.value('db_reg_agent_transaction_duration_seconds_sum', { method: 'REGISTER' }) ?? 0) > 0);
    assert.ok((m.value('db_reg_agent_db_writes_total') ?? 0) >= ACCOUNTS);
    assert.equal(m.value('db_reg_agent_db_write_duration_seconds_count'), m.value('db_reg_agent_db_writes_total'));
    // Write errors are not asserted: concurrent first inserts may deadlock and be retried.
    assert.equal(m.value('db_reg_agent_db_writes_pending'), 0);
    assert.equal(m.value('db_reg_agent_db_writes_dropped_total'), 0);
    assert.equal(m.value('db_reg_agent_db_available'), 1);
    assert.equal(m.value('db_reg_agent_ratelimit_queue_length'), 0);
    assert.equal(m.value('db_reg_agent_transactions_in_flight'), 0);
  });

  it('JSON-RPC over a raw netstring connection: create, getRegistration, remove', async () => {
    const before = await metricsOf(metricsPort);
    const active = before.value('db_reg_agent_registrations', { status: '2' }) ?? 0;
    const client = await NetstringClient.open(daemon.jsonrpcPort);
    let next = 0;
    const call = async (method: string, params: unknown[]): Promise<unknown> => {
      const id = ++next;
      const reply = (await client.call({ jsonrpc: '2.0', method: `db_reg_agent.${method}`, params, id })) as { id: number; result?: unknown; error?: unknown };
      assert.equal(reply.id, id);
      assert.equal(reply.error, undefined, JSON.stringify(reply));
      return reply.result;
    };
    try {
      for (const id of JSON_IDS) assert.deepEqual(await call('createRegistration', [id, `user${id}`, `pw-${id}`, realm]), [200, 'OK']);
      await waitForCounts(db, { '2': active + JSON_IDS.length }, 30_000);
      const rows = await rowsOf(db, JSON_IDS);
      for (const id of JSON_IDS) assertRowMatches(rows.get(id), (await call('getRegistration', [id])) as Registration, id);
      await kam.waitForLocations((b) => JSON_IDS.every((id) => b.some((x) => x.contact === `sip:user${id}@127.0.0.1:${daemon.sipPort}`)));

      for (const id of JSON_IDS) assert.deepEqual(await call('removeRegistration', [id, 'subscriber']), [200, 'OK']);
      await waitForCounts(db, { '2': active }, 30_000);
      assert.equal((await rowsOf(db, JSON_IDS)).size, 0, 'rows deleted (delete_removed_registrations=yes)');
      for (const id of JSON_IDS) assert.deepEqual(await call('getRegistration', [id]), [404, 'Not Found']);
      await kam.waitForLocations((b) => !b.some((x) => JSON_IDS.some((id) => x.username === `user${id}`)));
    } finally {
      client.close();
    }

    const after = await metricsOf(metricsPort);
    const delta = (name: string, labels: Record<string, string>): number => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
    assert.equal(delta('db_reg_agent_requests_sent_total', { method: 'REGISTER' }), JSON_IDS.length);
    assert.equal(delta('db_reg_agent_requests_sent_total', { method: 'deREGISTER' }), JSON_IDS.length);
    assert.equal(delta('db_reg_agent_final_replies_total', { method: 'deREGISTER', code: '200' }), JSON_IDS.length);
    assert.equal(after.value('db_reg_agent_registrations', { status: '2' }), active);
  });
});
