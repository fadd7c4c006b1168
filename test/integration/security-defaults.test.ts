/**
 * Security defaults (issue 14): what an operator gets without touching a key. The RPC
 * and metrics servers of the shipped configuration listen on loopback only,
 * allowed_clients refuses other peers, TLS towards a registrar verifies its
 * certificate, and no password reaches the log at level 2 (info) whatever the daemon
 * goes through. `npm audit` needs the network and is `make audit` (doc/reliability.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { projectRoot } from '../support/fixtures';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { freePort } from '../support/ports';
import { listeningSockets, parseProcAddress } from '../support/process-sockets';
import { di, endDaemon, ourBindings, RegStatus, sleep, waitFor, waitForStatus } from '../support/registrations';
import { methodCallXml, postXml } from '../support/rpc-fixtures';

const SHIPPED = path.join(projectRoot(), 'etc');

/** A JSON-RPC call over a netstring frame from `localAddress`; the reply text, or the error. */
function jsonRpcFrom(port: number, localAddress: string, method: string, params: unknown[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => socket.write(`${Buffer.byteLength(body)}:${body},`));
    let text = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('no JSON-RPC reply within 5 s')));
    socket.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (text.endsWith(',')) {
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed by the server after ${JSON.stringify(text)}`)));
  });
}

describe('security defaults (MariaDB + Kamailio)', function () {
  this.timeout(90_000);
  let db: TestDatabase;
  let kam: KamailioHandle;
  let daemon: RunningDaemon | undefined;

  before(async () => {
    db = await createTestDatabase({ schema: 'readme' });
    kam = await startKamailio({ nonceExpire: 6 });
  });
  after(async () => {
    await kam?.stop();
    await db?.drop();
  });
  afterEach(async function () {
    await endDaemon(this.currentTest, daemon);
    daemon = undefined;
    await db.query('DELETE FROM subscribers');
    await db.query('DELETE FROM registrations');
  });

  it('reads /proc/net addresses (the check below depends on it)', () => {
    assert.deepEqual(parseProcAddress('0100007F:1F9A'), { address: '127.0.0.1', port: 8090 });
    assert.deepEqual(parseProcAddress('00000000:1BA8'), { address: '0.0.0.0', port: 7080 });
    assert.deepEqual(parseProcAddress('00000000000000000000000001000000:0050'), { address: '0:0:0:0:0:0:0:1', port: 80 });
  });

  it('the shipped configuration keeps XML-RPC, JSON-RPC and metrics on loopback and verifies TLS certificates', () => {
    const config = loadConfig(path.join(SHIPPED, 'sems.conf'), () => undefined);
    assert.equal(config.xmlrpc?.listen, '127.0.0.1', 'xmlrpc2di.conf server_ip');
    assert.equal(config.jsonrpc?.listen, '127.0.0.1', 'jsonrpc.conf jsonrpc_listen');
    assert.equal(config.agent.metricsListen, '127.0.0.1', 'db_reg_agent.conf metrics_listen');
    assert.equal(config.agent.tls.verifyCert, true, 'db_reg_agent.conf tls_verify_cert');
  });

  it('started on the shipped files, every TCP port it listens on is bound to 127.0.0.1', async () => {
    const metricsPort = await freePort({ protocols: ['tcp'] });
    daemon = await startDaemon({ db: db.config, shipped: SHIPPED, logLevel: 2, agent: { metrics_port: String(metricsPort) } });
    await daemon.waitForLog(/\brunning$/m, 30_000);
    const tcp = listeningSockets(daemon.process.pid as number).filter((s) => s.protocol === 'tcp');
    assert.deepEqual(tcp.map((s) => s.port).sort(), [daemon.xmlrpcPort, daemon.jsonrpcPort, metricsPort].sort(), JSON.stringify(tcp));
    assert.deepEqual(tcp.filter((s) => s.address !== '127.0.0.1'), [], 'no listener beyond loopback');
  });

  it('allowed_clients: a peer outside the list is refused on both RPC servers, one inside is served', async () => {
    // 127.0.0.2 is a loopback address of its own: a client from there is "another host" to the filter.
    daemon = await startDaemon({ db: db.config, xmlrpc: { allowed_clients: '127.0.0.1' }, jsonrpc: { allowed_clients: '127.0.0.1/32' } });
    await daemon.waitForLog(/\brunning$/m, 30_000);
    const call = methodCallXml('di', ['db_reg_agent', 'getStatistics']);
    assert.match((await postXml(daemon.xmlrpcPort, call)).body, /<name>registrations<\/name>/);
    await assert.rejects(postXml(daemon.xmlrpcPort, call, { localAddress: '127.0.0.2' }), /ECONNRESET|socket hang up/);
    assert.match(await jsonRpcFrom(daemon.jsonrpcPort, '127.0.0.1', 'core.get_loglevel', []), /"result"/);
    await assert.rejects(jsonRpcFrom(daemon.jsonrpcPort, '127.0.0.2', 'core.get_loglevel', []), /ECONNRESET|closed by the server/);
    await daemon.waitForLog(/refused connection from 127\.0\.0\.2: not in allowed_clients/);
  });

  it('TLS: a registrar whose certificate is not trusted gets nothing (FAILED 480); with its CA in tls_ca_file the account registers', async () => {
    await kam.addSubscriber('tls-user', 'tls-secret-pw');
    await db.insert('subscribers', [{ subscriber_id: 1, user: 'tls-user', pass: 'tls-secret-pw', realm: `${kam.hostPort('tls')};transport=tls`, contact: '' }]);
    daemon = await startDaemon({ db: db.config, logLevel: 2 });
    const refused = await waitForStatus(db, 1, RegStatus.FAILED);
    assert.deepEqual([refused.last_code, refused.last_reason], [480, 'unable to send request']);
    assert.deepEqual(await kam.locations({ username: 'tls-user', includeExpired: true }), [], 'nothing registered over the untrusted connection');
    await daemon.stop();
    daemon.cleanup();

    daemon = await startDaemon({ db: db.config, logLevel: 2, agent: { tls_ca_file: kam.certificate?.certFile ?? '' } });
    await waitForStatus(db, 1, RegStatus.ACTIVE);
    const running = daemon;
    await waitFor('a binding over TLS', () => ourBindings(kam, running, 'tls-user'), (b) => b.length === 1 && /tls/i.test(b[0]?.socket ?? ''));
  });

  it('at log level 2 no password appears in the log: registrations, refreshes, challenges, stale nonces, failures, DI create and update with passwords', async () => {
    const secrets = Array.from({ length: 5 }, (_, i) => `Pw${i}-Xq7Zt9Lk2-${i}${i}`);
    const wrongSecret = 'Wr0ng-Pw-Vb4Nm8Hj';
    for (let i = 0; i < 4; i++) await kam.addSubscriber(`secret${i}`, secrets[i] as string);
    await kam.addSubscriber('secret-wrong', 'the-registrars-own-password');
    await kam.addSubscriber('secret-di', secrets[4] as string);
    const realm = kam.hostPort();
    await db.insert('subscribers', [
      ...[0, 1, 2, 3].map((i) => ({ subscriber_id: 10 + i, user: `secret${i}`, pass: secrets[i], realm, contact: '' })),
      // Refused credentials: two 401s, FAILED, retried every 2 s.
      { subscriber_id: 20, user: 'secret-wrong', pass: wrongSecret, realm, contact: '' },
      // No registrar there: retransmitted until Timer F.
      { subscriber_id: 21, user: 'secret-nobody', pass: 'N0b0dy-Pw-Qs3Df6', realm: '127.0.0.1:9', contact: '' },
    ]);
    const used = [...secrets, wrongSecret, 'N0b0dy-Pw-Qs3Df6', 'Upd4ted-Pw-Rt5Yu1', 'Cr34ted-Pw-Gh7Jk2', 'Js0n-Pw-Zx8Cv3'];
    // expires 4: a refresh every 2 s; the registrar's nonces last 6 s, so refreshes meet stale=true.
    daemon = await startDaemon({ db: db.config, logLevel: 2, agent: { expires: '4', error_retry_interval: '2' } });
    await daemon.waitForLog(/\brunning$/m, 30_000);
    for (const id of [10, 11, 12, 13]) await waitForStatus(db, id, RegStatus.ACTIVE);
    await waitForStatus(db, 20, RegStatus.FAILED);

    assert.deepEqual(await di(daemon, 'createRegistration', 30, 'secret-di', 'Cr34ted-Pw-Gh7Jk2', realm), [200, 'OK']);
    await waitForStatus(db, 30, RegStatus.FAILED); // a password the registrar does not know
    assert.deepEqual(await di(daemon, 'updateRegistration', 30, 'secret-di', secrets[4], realm, '', '', 'subscriber'), [200, 'OK']);
    await waitForStatus(db, 30, RegStatus.ACTIVE);
    assert.deepEqual(await di(daemon, 'updateRegistration', 11, 'secret1', 'Upd4ted-Pw-Rt5Yu1', realm), [200, 'OK']);
    assert.match(await jsonRpcFrom(daemon.jsonrpcPort, '127.0.0.1', 'db_reg_agent.createRegistration', [31, 'secret-json', 'Js0n-Pw-Zx8Cv3', '127.0.0.1:9']), /"result"/);
    await sleep(8000); // refreshes past the nonce lifetime, retries of the failing accounts
    await daemon.stop();

    const log = daemon.log();
    // The lines that name these accounts are there, without their passwords.
    assert.match(log, /REGISTER subscriber 20 \(secret-wrong@[^)]+\): 401 /);
    assert.match(log, /REGISTER subscriber 30 \(secret-di@[^)]+\): 401 /);
    assert.match(readFileSync(kam.logFile, 'utf8'), /auth failed \(-4\)/, 'the registrar sent stale=true challenges');
    for (const secret of used) assert.equal(log.includes(secret), false, `password ${secret} in the log`);
  });
});
