/**
 * Proves the Kamailio test registrar (test/support/kamailio.ts) does what other tests
 * rely on: starts fast, registers subscribers with digest auth over UDP, TCP, TLS and
 * IPv6, shows bindings in locations(), honours its expires options, and goes away
 * completely on stop().
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { dropOrphanedDatabases, KamailioHandle, startKamailio } from '../support/kamailio';
import { startedProcessGroups, strayPeerProcesses, sweepOrphans, waitUntil } from '../support/peer-process';
import {
  buildRegister, digestAuthorization, parseDigestChallenge, probeContact, randomToken, registerWithDigest, SipProbe,
  SipTransport,
} from '../support/sip-probe';
import { readRegisterTrace, transactionSpans } from '../support/register-trace';
import { headerParam, uriOf } from '../support/sip-message';

const LOOPBACK = '127.0.0.1';

/** Opens a probe, runs `body`, always closes the probe. */
async function withProbe<T>(transport: SipTransport, host: string, port: number, body: (p: SipProbe) => Promise<T>): Promise<T> {
  const probe = await SipProbe.open(transport, { host, port });
  try {
    return await body(probe);
  } finally {
    probe.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function databaseExists(name: string): Promise<boolean> {
  const db = await mysql.createConnection({ host: LOOPBACK, port: 3306, user: 'root', password: '' });
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>('SHOW DATABASES LIKE ?', [name]);
    return rows.length > 0;
  } finally {
    await db.end();
  }
}

describe('harness: Kamailio registrar', function () {
  this.timeout(30000);
  let kam: KamailioHandle;
  let firstGroup: number;

  before(async function () {
    firstGroup = startedProcessGroups().length;
    kam = await startKamailio({ ipv6: true });
    await kam.addSubscriber('alice', 'secret');
    await kam.addSubscriber('bob', 'bob-pass');
  });

  after(async function () {
    await kam?.stop();
    assert.deepEqual(strayPeerProcesses(startedProcessGroups().slice(firstGroup)), []);
  });

  it('starts in a few seconds with distinct UDP, TCP and TLS ports', function () {
    assert.ok(kam.running);
    assert.ok(kam.startupMs < 10000, `startup took ${kam.startupMs} ms`);
    const { udp, tcp, tls } = kam.ports;
    assert.equal(new Set([udp, tcp, tls]).size, 3);
    assert.equal(kam.hostPort('tcp'), `127.0.0.1:${tcp}`);
    assert.equal(kam.hostPort('udp', true), `[::1]:${udp}`);
  });

  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    it(`registers a subscriber over ${transport}; the binding shows in locations() with the granted expires`, async function () {
      await withProbe(transport, LOOPBACK, kam.ports[transport], async (probe) => {
        const result = await registerWithDigest(probe, { user: 'alice', password: 'secret', domain: LOOPBACK, expires: 120 });
        assert.equal(result.first.status, 401);
        const challenge = parseDigestChallenge(result.first.header('WWW-Authenticate') ?? '');
        assert.equal(challenge.realm, LOOPBACK);
        assert.equal(challenge.qop, 'auth');
        assert.equal(result.final.status, 200);
        const ours = probeContact(probe, 'alice');
        const granted = result.final.headerAll('Contact').join(',').split(/,\s*(?=<)/)
          .find((value) => uriOf(value) === ours);
        assert.equal(headerParam(granted, 'expires'), '120');

        const [row] = await kam.locations({ username: 'alice' }).then((rows) => rows.filter((r) => r.contact === ours));
        assert.ok(row, 'binding missing from location table');
        assert.equal(row.domain, LOOPBACK);
        assert.equal(row.callId, result.callId);
        assert.ok(row.socket?.startsWith(`${transport}:127.0.0.1:`), row.socket ?? 'no socket');
        assert.ok(row.expiresIn >= 115 && row.expiresIn <= 121, `expiresIn ${row.expiresIn}`);
        assert.ok(Math.abs(row.expires.getTime() - (Date.now() + 120000)) < 5000);
      });
    });
  }

  it('registers over IPv6 ([::1], UDP)', async function () {
    await withProbe('udp', '::1', kam.ports.udp, async (probe) => {
      const result = await registerWithDigest(probe, { user: 'bob', password: 'bob-pass', domain: LOOPBACK, expires: 300 });
      assert.equal(result.final.status, 200);
      const rows = await kam.waitForLocations((r) => r.length === 1, { username: 'bob' });
      assert.equal(rows[0].contact, probeContact(probe, 'bob'));
      assert.match(rows[0].socket ?? '', /^udp:\[?::1\]?:/);
    });
  });

  it('answers a wrong password with a second 401 and stores nothing', async function () {
    await kam.addSubscriber('carol', 'right');
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      const result = await registerWithDigest(probe, { user: 'carol', password: 'right', answerWith: 'wrong', domain: LOOPBACK });
      assert.equal(result.first.status, 401);
      assert.equal(result.second?.status, 401);
      assert.ok(result.second?.header('WWW-Authenticate'), 'the second 401 challenges again');
    });
    assert.deepEqual(await kam.locations({ username: 'carol' }), []);
  });

  it('answers an unknown subscriber with 401', async function () {
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      const result = await registerWithDigest(probe, { user: 'nobody', password: 'x', domain: LOOPBACK });
      assert.equal(result.final.status, 401);
    });
  });

  it('follows password changes made with setPassword()', async function () {
    await kam.addSubscriber('dave', 'old');
    await kam.setPassword('dave', 'new');
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      assert.equal((await registerWithDigest(probe, { user: 'dave', password: 'old', domain: LOOPBACK })).final.status, 401);
      assert.equal((await registerWithDigest(probe, { user: 'dave', password: 'new', domain: LOOPBACK })).final.status, 200);
    });
  });

  it('removes the binding on a de-REGISTER (Expires: 0)', async function () {
    await kam.addSubscriber('erin', 'pw');
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      assert.equal((await registerWithDigest(probe, { user: 'erin', password: 'pw', domain: LOOPBACK })).final.status, 200);
      assert.equal((await kam.locations({ username: 'erin' })).length, 1);
      const result = await registerWithDigest(probe, { user: 'erin', password: 'pw', domain: LOOPBACK, expires: 0 });
      assert.equal(result.final.status, 200);
      assert.deepEqual(await kam.locations({ username: 'erin' }), []);
    });
  });

  it('answers other methods with 405', async function () {
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      const callId = `${randomToken()}@harness`;
      probe.send(buildRegister(probe, { user: 'alice', domain: LOOPBACK, callId, fromTag: 'x', cseq: 7 })
        .replace(/^REGISTER/, 'OPTIONS').replace('CSeq: 7 REGISTER', 'CSeq: 7 OPTIONS'));
      const reply = await probe.finalResponse(callId, 7, 3000);
      assert.equal(reply.status, 405);
    });
  });

  it('answers RPC commands through kamcmd', async function () {
    assert.match(await kam.rpc('core.version'), /kamailio 5\./);
  });

  it('bulk-inserts 100 000 subscribers, any of which can register', async function () {
    this.timeout(60000);
    const subscribers = Array.from({ length: 100000 }, (_, i) => ({ user: `bulk${i}`, password: `pw${i}` }));
    const started = Date.now();
    await kam.addSubscribers(subscribers);
    const insertMs = Date.now() - started;
    const [{ n }] = await kam.query<Array<{ n: number }>>("SELECT COUNT(*) AS n FROM subscriber WHERE username LIKE 'bulk%'");
    assert.equal(Number(n), 100000);
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      const result = await registerWithDigest(probe, { user: 'bulk99999', password: 'pw99999', domain: LOOPBACK });
      assert.equal(result.final.status, 200);
    });
    assert.ok(insertMs < 30000, `bulk insert took ${insertMs} ms`);
  });
});

describe('harness: Kamailio options', function () {
  this.timeout(30000);
  let firstGroup: number;
  const started: KamailioHandle[] = [];

  async function start(options: Parameters<typeof startKamailio>[0]): Promise<KamailioHandle> {
    const handle = await startKamailio(options);
    started.push(handle);
    await handle.addSubscriber('alice', 'secret');
    return handle;
  }

  async function registerAlice(kam: KamailioHandle, expires: number | null, domain = kam.defaultDomain) {
    return withProbe('udp', LOOPBACK, kam.ports.udp,
      (probe) => registerWithDigest(probe, { user: 'alice', password: 'secret', domain, expires }));
  }

  before(function () {
    firstGroup = startedProcessGroups().length;
  });

  after(async function () {
    await Promise.all(started.map((handle) => handle.stop()));
    assert.deepEqual(strayPeerProcesses(startedProcessGroups().slice(firstGroup)), []);
  });

  it('minExpires answers 423 with Min-Expires, and grants requests at or above it', async function () {
    const kam = await start({ minExpires: 3600, tls: false });
    const brief = await registerAlice(kam, 60);
    assert.equal(brief.final.status, 423);
    assert.equal(brief.final.header('Min-Expires'), '3600');
    const ok = await registerAlice(kam, 3600);
    assert.equal(ok.final.status, 200);
  });

  it("briefExpires 'raise' grants the minimum instead of answering 423", async function () {
    const kam = await start({ minExpires: 600, briefExpires: 'raise', tls: false });
    const result = await registerAlice(kam, 60);
    assert.equal(result.final.status, 200);
    assert.equal(headerParam(result.final.header('Contact'), 'expires'), '600');
  });

  it('maxExpires cuts a longer request down; defaultExpires applies when none is asked', async function () {
    const kam = await start({ maxExpires: 900, defaultExpires: 300, tls: false });
    assert.equal(headerParam((await registerAlice(kam, 7200)).final.header('Contact'), 'expires'), '900');
    assert.equal(headerParam((await registerAlice(kam, null)).final.header('Contact'), 'expires'), '300');
  });

  it('algorithm SHA-256 challenges with SHA-256 and accepts a SHA-256 answer', async function () {
    const kam = await start({ algorithm: 'SHA-256', tls: false });
    const result = await registerAlice(kam, 600);
    assert.equal(parseDigestChallenge(result.first.header('WWW-Authenticate') ?? '').algorithm, 'SHA-256');
    assert.equal(result.final.status, 200);
  });

  it('accounting counts every REGISTER per account; transactionDelayMs holds each transaction open', async function () {
    const kam = await start({ accounting: true, transactionDelayMs: [150, 200], tls: false });
    const started = performance.now();
    const result = await registerAlice(kam, 600);
    const elapsedMs = performance.now() - started;
    assert.equal(result.first.status, 401);
    assert.equal(result.final.status, 200);
    assert.ok(elapsedMs >= 2 * 150, `two transactions of >= 150 ms each took ${elapsedMs.toFixed(0)} ms`);
    assert.match(await kam.rpc('htable.get', 'acc', 'alice'), /value: 2\b/);
    assert.equal((await kam.locations({ username: 'alice' })).length, 1);
  });

  it('nonceExpire: an expired nonce gets a stale=true challenge, whose answer is accepted', async function () {
    const kam = await start({ nonceExpire: 1, tls: false });
    await withProbe('udp', LOOPBACK, kam.ports.udp, async (probe) => {
      const dialog = { user: 'alice', domain: LOOPBACK, callId: `${randomToken()}@harness`, fromTag: 'f' };
      const answer = (challenge: string | undefined) => digestAuthorization(parseDigestChallenge(challenge ?? ''),
        { user: 'alice', password: 'secret', method: 'REGISTER', uri: `sip:${LOOPBACK}` });
      probe.send(buildRegister(probe, { ...dialog, cseq: 1 }));
      const first = await probe.finalResponse(dialog.callId, 1, 3000);
      await sleep(2100);
      probe.send(buildRegister(probe, { ...dialog, cseq: 2, authorization: answer(first.header('WWW-Authenticate')) }));
      const stale = await probe.finalResponse(dialog.callId, 2, 3000);
      assert.equal(stale.status, 401);
      assert.equal(parseDigestChallenge(stale.header('WWW-Authenticate') ?? '').stale, 'true');
      probe.send(buildRegister(probe, { ...dialog, cseq: 3, authorization: answer(stale.header('WWW-Authenticate')) }));
      assert.equal((await probe.finalResponse(dialog.callId, 3, 3000)).status, 200);
    });
  });

  it('a fixed realm is used for challenges and as the default subscriber domain', async function () {
    const kam = await start({ realm: 'example.test', tls: false });
    assert.equal(kam.defaultDomain, 'example.test');
    const result = await registerAlice(kam, 600, 'example.test');
    assert.equal(parseDigestChallenge(result.first.header('WWW-Authenticate') ?? '').realm, 'example.test');
    assert.equal(result.final.status, 200);
    const [row] = await kam.locations();
    assert.equal(row.domain, 'example.test');
  });

  it('runs two instances side by side without clashing', async function () {
    const [a, b] = await Promise.all([start({ children: 1 }), start({ children: 1 })]);
    assert.notEqual(a.database, b.database);
    assert.notEqual(a.dir, b.dir);
    const portsA = new Set(Object.values(a.ports));
    assert.ok(Object.values(b.ports).every((port) => !portsA.has(port)));
    assert.equal((await registerAlice(a, 600)).final.status, 200);
    assert.equal((await b.locations()).length, 0, 'a binding on one instance must not show on the other');
  });

  it('stop() ends every Kamailio process and drops the database', async function () {
    const kam = await startKamailio({ tls: false, children: 1 });
    assert.ok(await databaseExists(kam.database));
    await kam.stop();
    assert.equal(kam.running, false);
    assert.deepEqual(strayPeerProcesses([kam.pid]), []);
    assert.equal(await databaseExists(kam.database), false);
  });

  it('freeze() silences the registrar until thaw(); kill() and restart() bring it back on the same ports with its bindings', async function () {
    const kam = await startKamailio({ tls: false, children: 1, traceRegisters: true });
    try {
      await kam.addSubscriber('dave', 'dave-pw');
      const register = (timeoutMs = 2000) => withProbe('udp', LOOPBACK, kam.ports.udp,
        (probe) => registerWithDigest(probe, { user: 'dave', password: 'dave-pw', domain: LOOPBACK, expires: 600, timeoutMs }));
      assert.equal((await register()).final.status, 200);
      kam.freeze();
      await assert.rejects(register(1000), 'no answer while frozen');
      kam.thaw();
      assert.equal((await register()).final.status, 200);
      const portsBefore = { ...kam.ports };
      await kam.kill();
      assert.equal(kam.running, false);
      await assert.rejects(register(1000), 'no answer while killed');
      await kam.restart();
      assert.deepEqual(kam.ports, portsBefore);
      assert.equal((await kam.locations({ username: 'dave' })).length, 2, 'bindings reloaded from the location table');
      assert.equal((await register()).final.status, 200);
      // Two per flow answered 200; the frozen flow's first request, read from the socket after thaw(); none while killed.
      assert.equal(transactionSpans(readRegisterTrace(kam.logFile)).filter((t) => t.user === 'dave').length, 7);
    } finally {
      await kam.stop();
    }
  });

  it('what a killed test run leaves (registrar, temp dir, database) is cleaned up by the next', async function () {
    const orphan = await startInCrashingProcess();
    assert.ok(orphan.running(), 'the registrar outlived its killed owner');
    sweepOrphans();
    assert.ok(await waitUntil(() => !orphan.running(), 5000), 'orphaned Kamailio still running');
    assert.equal(fs.existsSync(orphan.dir), false);
    await dropOrphanedDatabases();
    assert.equal(await databaseExists(orphan.database), false);
  });

  it('a failed start rejects with the log tail and leaves no database behind', async function () {
    const before = await countTestDatabases();
    await assert.rejects(startKamailio({ binary: '/bin/false', startTimeoutMs: 3000 }), /Kamailio did not start/);
    assert.equal(await countTestDatabases(), before);
  });
});

/** Test databases this process owns right now. */
async function countTestDatabases(): Promise<number> {
  const db = await mysql.createConnection({ host: LOOPBACK, port: 3306, user: 'root', password: '' });
  try {
    // only this process's: kamtest_<host>_<pid>_<random>
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW DATABASES LIKE 'kamtest\\_%\\_${process.pid}\\_%'`);
    return rows.length;
  } finally {
    await db.end();
  }
}

/**
 * Starts Kamailio from a separate node process and SIGKILLs that process, the way a
 * crashed or killed test run would leave it.
 */
async function startInCrashingProcess(): Promise<{ pid: number; dir: string; database: string; running: () => boolean }> {
  const modulePath = path.join(__dirname, '..', 'support', 'kamailio.js');
  const script = `require(${JSON.stringify(modulePath)}).startKamailio({ tls: false, children: 1 })
    .then((k) => { console.log(JSON.stringify({ pid: k.pid, dir: k.dir, database: k.database })); setInterval(() => {}, 1000); })
    .catch((e) => { console.error(e); process.exit(1); });`;
  const owner = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    owner.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)));
  });
  const info = JSON.parse(line) as { pid: number; dir: string; database: string };
  owner.kill('SIGKILL');
  await new Promise((resolve) => owner.once('exit', resolve));
  const running = () => {
    try {
      process.kill(info.pid, 0);
      return fs.readFileSync(`/proc/${info.pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  };
  return { ...info, running };
}
