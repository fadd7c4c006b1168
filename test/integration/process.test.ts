/**
 * The daemon as a process (SPEC §1): flags, configuration errors, pid file, signals,
 * privileges, and what reaches the log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, startMariadbProxy, type TestDatabase } from '../support/mariadb';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { waitUntil } from '../support/peer-process';
import { answerRequest } from '../support/sip-responses';
import { parseSipMessage } from '../support/sip-message';

const run = promisify(execFile);
const MAIN = path.resolve(__dirname, '../../src/main.js');

async function daemonCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** SIGTERM to a daemon that runs in the background; resolves when its pid file is gone. */
async function stopBackgroundDaemon(pid: number, pidFile: string): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const gone = Date.now() + 10_000;
  while (existsSync(pidFile) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  assert.equal(existsSync(pidFile), false, 'the child removed its pid file on SIGTERM');
}

describe('the db-reg-agent process', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let daemon: RunningDaemon | undefined;

  before(async () => {
    db = await createTestDatabase({ schema: 'readme' });
  });
  after(async () => {
    await db?.drop();
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    daemon = undefined;
  });

  it('-v prints the version, -h the usage, both exit 0', async () => {
    const v = await daemonCli(['-v']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^db-reg-agent \d+\.\d+\.\d+\n$/);
    const h = await daemonCli(['-h']);
    assert.equal(h.code, 0);
    for (const flag of ['-f', '-E', '-D', '-P', '-u', '-g', '-v', '-h']) assert.ok(h.stdout.includes(flag), flag);
  });

  it('an unknown flag is one line on stderr and a non-zero exit', async () => {
    const r = await daemonCli(['-x']);
    assert.notEqual(r.code, 0);
    assert.deepEqual(lines(r.stderr).length, 1);
    assert.match(r.stderr, /unknown option '-x'/);
  });

  it('a missing sems.conf is one line naming the file', async () => {
    const r = await daemonCli(['-E', '-f', '/nonexistent/sems.conf']);
    assert.equal(r.code, 1);
    assert.equal(lines(r.stderr).length, 1);
    assert.match(r.stderr, /cannot read configuration file '\/nonexistent\/sems\.conf'/);
  });

  it('reregister_interval=2 exits non-zero with one line, before touching the database', async () => {
    // A closed port as database: reaching it would produce a different error.
    daemon = await startDaemon({
      db: { ...db.config, host: '127.0.0.1', port: 1 },
      agent: { reregister_interval: '2' },
    });
    const code = await daemon.exited();
    assert.equal(code, 1);
    assert.equal(lines(daemon.log()).length, 1, daemon.log());
    assert.match(daemon.log(), /db_reg_agent\.conf: 'reregister_interval' must be in \(0, 1\]/);
  });

  it('an unreachable database is an error naming it, exit 1 (after db_start_timeout)', async () => {
    daemon = await startDaemon({ db: { ...db.config, host: '127.0.0.1', port: 1 }, agent: { db_start_timeout: '1' } });
    assert.equal(await daemon.exited(), 1);
    assert.match(daemon.log(), /cannot use database '.*' at 127\.0\.0\.1:1/);
  });

  it('a taken XML-RPC port fails the start naming xmlrpc_port, before any REGISTER is sent', async () => {
    const registrar = createSocket('udp4');
    const blocker = createServer();
    const datagrams: string[] = [];
    registrar.on('message', (data) => datagrams.push(data.toString('latin1')));
    try {
      await new Promise<void>((resolve) => registrar.bind(0, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const takenPort = (blocker.address() as AddressInfo).port;
      await db.query('DELETE FROM subscribers');
      await db.query("INSERT INTO subscribers (subscriber_id, user, pass, realm, contact) VALUES (1, 'alice', 'pw', ?, '')",
        [`127.0.0.1:${registrar.address().port}`]);
      daemon = await startDaemon({ db: db.config, xmlrpc: { xmlrpc_port: String(takenPort) } });
      assert.equal(await daemon.exited(), 1, daemon.log());
      assert.match(daemon.log(), new RegExp(`start-up failed: xmlrpc_port=${takenPort}: cannot listen on 127\\.0\\.0\\.1: .*EADDRINUSE`));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(datagrams, [], 'no REGISTER before every port was bound');
    } finally {
      registrar.close();
      blocker.close();
      await db.query('DELETE FROM subscribers');
    }
  });

  it('writes the pid file, stops on SIGTERM with exit 0 within seconds, removes the pid file', async () => {
    const pidFile = path.join('/tmp', `dra-test-${process.pid}.pid`);
    daemon = await startDaemon({ db: db.config, extraArgs: ['-P', pidFile] });
    await daemon.waitForLog(/running/);
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(daemon.process.pid));
    const started = Date.now();
    assert.equal(await daemon.stop(), 0);
    assert.ok(Date.now() - started < 5000, `stopped after ${Date.now() - started} ms`);
    assert.equal(existsSync(pidFile), false);
  });

  it('forks into the background without -E (fork=yes): the parent exits 0 once the child runs, the pid file names the child', async () => {
    const pidFile = path.join('/tmp', `dra-fork-${process.pid}.pid`);
    daemon = await startDaemon({ db: db.config, foreground: false, sems: { fork: 'yes', stderr: 'no' }, extraArgs: ['-P', pidFile] });
    assert.equal(await daemon.exited(), 0);
    assert.equal(daemon.log(), '', 'nothing on the parent\'s stderr: the child logs to syslog');
    // The parent waited for the child's report: the pid file is there already.
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.notEqual(childPid, daemon.process.pid);
    await stopBackgroundDaemon(childPid, pidFile);
  });

  it('daemon mode: a child that cannot start makes the parent exit 1 with its one line', async () => {
    daemon = await startDaemon({
      db: { ...db.config, host: '127.0.0.1', port: 1 }, agent: { db_start_timeout: '1' }, foreground: false, sems: { fork: 'yes', stderr: 'no' },
    });
    assert.equal(await daemon.exited(), 1);
    assert.equal(lines(daemon.log()).length, 1, daemon.log());
    assert.match(daemon.log(), /^db-reg-agent: start-up failed: cannot use database '.*' at 127\.0\.0\.1:1/);
  });

  it('daemon mode with stderr=yes: the child logs to the stderr it was started with', async () => {
    const pidFile = path.join('/tmp', `dra-fork-stderr-${process.pid}.pid`);
    daemon = await startDaemon({ db: db.config, foreground: false, sems: { fork: 'yes', stderr: 'yes' }, extraArgs: ['-P', pidFile] });
    assert.equal(await daemon.exited(), 0);
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    await daemon.waitForLog(new RegExp(`\\[${childPid}\\] INFO: \\[daemon\\] running`));
    await stopBackgroundDaemon(childPid, pidFile);
    await daemon.waitForLog(new RegExp(`\\[${childPid}\\] INFO: \\[main\\] stopped`));
  });

  it('keeps running when a datagram to its SIP port holds a request with a bare LF in a header (one used to stop it)', async () => {
    daemon = await startDaemon({ db: db.config });
    await daemon.waitForLog(/ running$/m);
    const crafted = [
      'OPTIONS sip:a@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKlf;rport\nInjected: 1',
      'From: <sip:r@127.0.0.1>;tag=1', 'To: <sip:a@127.0.0.1>', 'Call-ID: lf', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
    ].join('\r\n');
    const peer = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => peer.send(crafted, daemon?.sipPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
      const exited = await Promise.race([daemon.exited(), new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 2000))]);
      assert.equal(exited, 'running', daemon.log().slice(-1000));
    } finally {
      peer.close();
    }
  });

  it('stops on SIGTERM with exit 0 within its 8 s budget while status writes hang on a frozen database connection and an RPC client never lets go', async () => {
    const accounts = 50;
    const proxy = await startMariadbProxy();
    const registrar = createSocket('udp4');
    /** The first REGISTER of each account (by Call-ID), with where it came from. */
    const registers = new Map<string, { text: string; port: number }>();
    registrar.on('message', (data, from) => {
      const text = data.toString('latin1');
      const callId = parseSipMessage(text).header('Call-ID') ?? '';
      if (!registers.has(callId)) registers.set(callId, { text, port: from.port });
    });
    try {
      await new Promise<void>((resolve) => registrar.bind(0, '127.0.0.1', resolve));
      await db.query('DELETE FROM subscribers');
      await db.query('DELETE FROM registrations');
      await db.insert('subscribers', Array.from({ length: accounts }, (_, i) => ({
        subscriber_id: i + 1, user: `u${i + 1}`, pass: 'pw', realm: `127.0.0.1:${registrar.address().port}`, contact: '',
      })));
      daemon = await startDaemon({ db: proxy.configFor(db) });
      await daemon.waitForLog(/running/);
      assert.ok(await waitUntil(() => registers.size === accounts, 10_000), `${registers.size} REGISTERs`);
      assert.ok(await waitUntil(async () => (await db.query('SELECT 1 FROM registrations')).length === accounts, 10_000));
      assert.ok(proxy.freeze() > 0);
      // Each answer is a status write, sent on a connection that no longer answers.
      for (const { text, port } of registers.values()) registrar.send(answerRequest(text, 403, 'Forbidden'), port, '127.0.0.1');
      await daemon.waitForLog(/403/);
      // A JSON-RPC client that keeps its side open when the server ends the connection.
      const stuckClient = connect({ port: daemon.jsonrpcPort, host: '127.0.0.1', allowHalfOpen: true });
      stuckClient.on('error', () => undefined);
      await new Promise((resolve) => stuckClient.once('connect', resolve));
      await new Promise((resolve) => setTimeout(resolve, 300));

      const started = Date.now();
      daemon.process.kill('SIGTERM');
      assert.equal(await daemon.exited(), 0, daemon.log().slice(-2000));
      stuckClient.destroy();
      const took = Date.now() - started;
      assert.ok(took < 9_000, `stopped after ${took} ms (the stop budget is 8 s)`);
      assert.match(daemon.log(), /status writer closed with [1-9]\d* registration status record\(s\) not stored/);
      assert.match(daemon.log(), /database connection\(s\) did not close within 1000 ms; dropped/);
    } finally {
      registrar.close();
      await proxy.close();
      await db.query('DELETE FROM subscribers');
      await db.query('DELETE FROM registrations');
    }
  });

  it('SIGINT stops it too', async () => {
    daemon = await startDaemon({ db: db.config });
    await daemon.waitForLog(/running/);
    daemon.process.kill('SIGINT');
    assert.equal(await daemon.exited(), 0);
  });

  /** The daemon's uid once it has left root (or '0' after 5 s). */
  async function uidOf(pid: number | undefined): Promise<string> {
    const deadline = Date.now() + 5000;
    let uid = '';
    while (Date.now() < deadline) {
      uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
      if (uid !== '0') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return uid;
  }

  /** Its real gid and supplementary groups (read after uidOf saw it leave root: the groups change first). */
  function groupsOf(pid: number | undefined): { gid: string; groups: string[] } {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      gid: /^Gid:\s+(\d+)/m.exec(status)?.[1] ?? '',
      groups: (/^Groups:[ \t]*(.*)$/m.exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
    };
  }

  it('runs as the -u user after binding its sockets; -u / -g win over daemon_uid / daemon_gid', async () => {
    assert.equal(process.getuid?.(), 0, 'this test needs root (CI and the dev machines run as root)');
    daemon = await startDaemon({
      db: db.config,
      sems: { daemon_uid: 'no-such-user-dra', daemon_gid: 'no-such-group-dra' },
      extraArgs: ['-u', 'nobody', '-g', 'nogroup'],
    });
    await daemon.waitForLog(/running/);
    assert.equal(await uidOf(daemon.process.pid), (await run('id', ['-u', 'nobody'])).stdout.trim());
    const nogroup = (await run('getent', ['group', 'nogroup'])).stdout.split(':')[2];
    const { gid, groups } = groupsOf(daemon.process.pid);
    assert.equal(gid, nogroup);
    assert.ok(!groups.includes('0'), `root's group is dropped: Groups: ${groups.join(' ')}`);
  });

  it("-u alone takes the user's primary group and its own groups, not root's", async () => {
    assert.equal(process.getuid?.(), 0, 'this test needs root (CI and the dev machines run as root)');
    daemon = await startDaemon({ db: db.config, extraArgs: ['-u', 'nobody'] });
    await daemon.waitForLog(/running/);
    assert.equal(await uidOf(daemon.process.pid), (await run('id', ['-u', 'nobody'])).stdout.trim());
    const { gid, groups } = groupsOf(daemon.process.pid);
    assert.equal(gid, (await run('id', ['-g', 'nobody'])).stdout.trim());
    assert.ok(!groups.includes('0'), `root's group is dropped: Groups: ${groups.join(' ')}`);
  });

  it('runs as daemon_uid / daemon_gid of sems.conf without -u / -g', async () => {
    assert.equal(process.getuid?.(), 0, 'this test needs root (CI and the dev machines run as root)');
    daemon = await startDaemon({ db: db.config, sems: { daemon_uid: 'nobody', daemon_gid: 'nogroup' } });
    await daemon.waitForLog(/running/);
    assert.equal(await uidOf(daemon.process.pid), (await run('id', ['-u', 'nobody'])).stdout.trim());
  });

  it('an unknown -u user or daemon_gid group is one line naming it, exit 1, before the database', async () => {
    const unreachable = { ...db.config, host: '127.0.0.1', port: 1 };
    daemon = await startDaemon({ db: unreachable, extraArgs: ['-u', 'no-such-user-dra'] });
    assert.equal(await daemon.exited(), 1);
    assert.equal(daemon.log(), "db-reg-agent: -u: unknown user 'no-such-user-dra'\n");
    daemon.cleanup();
    daemon = await startDaemon({ db: unreachable, foreground: false, sems: { fork: 'yes', daemon_gid: 'no-such-group-dra' } });
    assert.equal(await daemon.exited(), 1);
    assert.match(daemon.log(), /^db-reg-agent: \/.*\/sems\.conf: 'daemon_gid': unknown group 'no-such-group-dra'\n$/);
  });

  it('never logs a password, not even at debug level', async () => {
    const secret = 'S3cr3t-Pa55word-xyz';
    await db.insert('subscribers', [{ subscriber_id: 1, user: 'u1', pass: secret, realm: '127.0.0.1:9', contact: '' }]);
    daemon = await startDaemon({ db: db.config, logLevel: 3 });
    await daemon.waitForLog(/running/);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(daemon.log().length > 0);
    assert.equal(daemon.log().includes(secret), false);
  });

  it('refuses a config with an unwritable pid file location with one line', async () => {
    writeFileSync('/tmp/.dra-not-a-dir', '');
    daemon = await startDaemon({ db: db.config, extraArgs: ['-P', '/tmp/.dra-not-a-dir/x.pid'] });
    assert.equal(await daemon.exited(), 1);
    assert.match(daemon.log(), /cannot write pid file '\/tmp\/\.dra-not-a-dir\/x\.pid'/);
  });
});
