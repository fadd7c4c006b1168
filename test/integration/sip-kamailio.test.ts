/**
 * The SIP registration client (src/sip), without the daemon, against a real registrar:
 * Kamailio with digest auth over UDP, TCP, TLS and IPv6 (issue 3). Every binding is
 * checked where it lands, in Kamailio's location table: our Contact, the granted
 * expires, our Call-ID, and the CSeq of SPEC §8 (50 is challenged, the re-send with
 * credentials is 51; later requests of the dialog carry the credentials up front).
 * What the registrar rejected is read from its log, which names the CSeq and Call-ID
 * of every REGISTER that failed authentication.
 */
import assert from 'node:assert/strict';
import type { RegistrationDialog, RegistrationOutcome } from '../../src/sip/registration-client';
import { AUTH_RC, authFailures, startKamailio, type KamailioHandle } from '../support/kamailio';
import { openTestClient, passwordOf, sentSummary, TEST_USER_AGENT, type TestClient, type TestClientOptions } from '../support/sip-client';

function assertRegistered(outcome: RegistrationOutcome, expires: number): void {
  assert.equal(outcome.code, 200, `outcome ${JSON.stringify(outcome)}`);
  assert.equal(outcome.grantedExpires, expires);
  assert.equal(outcome.contactMissing, undefined);
  assert.deepEqual(outcome.challenge, { code: 401, reason: 'Unauthorized' });
}

/** Kamailio and the clients a describe block opens, all closed by `closeAll()`. */
class Setup {
  kam!: KamailioHandle;
  private readonly clients: TestClient[] = [];

  async client(options: TestClientOptions = {}): Promise<TestClient> {
    const client = await openTestClient(options);
    this.clients.push(client);
    return client;
  }

  /** A subscriber named `user` with password passwordOf(user). */
  async account(user: string, domain?: string): Promise<string> {
    await this.kam.addSubscriber(user, passwordOf(user), domain);
    return user;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
    await this.kam?.stop();
  }
}

describe('SIP client at a real registrar: Kamailio over UDP, TCP, TLS, IPv6', function () {
  this.timeout(30_000);
  const setup = new Setup();
  let tc: TestClient;

  before(async function () {
    setup.kam = await startKamailio({ ipv6: true });
    const caFile = setup.kam.certificate?.certFile;
    tc = await setup.client({ tls: { verifyCert: true, caFile } });
  });

  after(() => setup.closeAll());

  /** SPEC §4: the Contact's `;transport=` selects the transport; the realm names only host:port. */
  const TRANSPORTS = [
    { transport: 'udp', contactParams: '' },
    { transport: 'tcp', contactParams: ';transport=tcp' },
    { transport: 'tls', contactParams: ';transport=tls' },
  ] as const;

  for (const { transport, contactParams } of TRANSPORTS) {
    const selectedBy = contactParams ? ` (selected by ${contactParams} on our Contact)` : '';
    it(`over ${transport.toUpperCase()}${selectedBy}: a binding with our Contact, the granted expires, our Call-ID, CSeq 51; de-REGISTER removes it`, async function () {
      const { kam } = setup;
      const user = await setup.account(`${transport}-user`);
      const params = tc.params(user, kam.hostPort(transport), { contact: tc.contact(user, contactParams), expires: 300 });
      const dialog = tc.client.newDialog();

      assertRegistered(await tc.client.register(dialog, params), 300);
      const [binding, ...others] = await kam.locations({ username: user });
      assert.deepEqual(others, []);
      assert.ok(binding, 'a binding in the location table');
      assert.equal(binding.contact, params.contact);
      assert.ok(Math.abs(binding.expiresIn - 300) <= 2, `expires in ${binding.expiresIn} s, granted 300`);
      assert.equal(binding.callId, dialog.callId);
      assert.equal(binding.cseq, 51, 'the re-send with credentials: CSeq 50 + 1');
      assert.equal(binding.userAgent, TEST_USER_AGENT);
      assert.match(binding.socket ?? '', new RegExp(`^${transport}:127\\.0\\.0\\.1:${kam.ports[transport]}$`));
      assert.deepEqual(authFailures(kam, dialog.callId), [{ cseq: 50, rc: AUTH_RC.noCredentials }]);

      const removed = await tc.client.unregister(dialog, params);
      assert.equal(removed.code, 200);
      assert.equal(removed.challenge, undefined);
      assert.deepEqual(await kam.locations({ username: user, includeExpired: true }), []);
      assert.equal(dialog.cseq, 53, 'same dialog: the de-REGISTER (52) carried the credentials up front');
      assert.deepEqual(authFailures(kam, dialog.callId), [{ cseq: 50, rc: AUTH_RC.noCredentials }]);
    });
  }

  it('TLS with verify_cert on and no CA for the self-signed certificate: nothing is sent, a clean local failure', async function () {
    const { kam } = setup;
    const noCa = await setup.client({ tls: { verifyCert: true } });
    const user = await setup.account('tls-untrusted');
    const dialog = noCa.client.newDialog();
    const started = Date.now();
    const outcome = await noCa.client.register(dialog, noCa.params(user, kam.hostPort('tls'), {
      contact: noCa.contact(user, ';transport=tls'),
    }));
    assert.deepEqual(outcome, { code: 480, reason: 'unable to send request', sent: false, retransmissions: 0 });
    assert.ok(Date.now() - started < 5000, 'a failed handshake is a transport error, not a timeout');
    assert.deepEqual(await kam.locations({ username: user, includeExpired: true }), []);
    assert.deepEqual(authFailures(kam, dialog.callId), [], 'no REGISTER reached the registrar');
  });

  it('over IPv6 ([::1]): a binding from [::1] with our [::1] Contact', async function () {
    const { kam } = setup;
    const v6 = await setup.client({ ip: '::1' });
    const user = await setup.account('ipv6-user', '[::1]');
    const params = v6.params(user, kam.hostPort('udp', true), { expires: 600 });
    assert.match(params.contact, /^sip:ipv6-user@\[::1\]:\d+$/);
    const dialog = v6.client.newDialog();

    assertRegistered(await v6.client.register(dialog, params), 600);
    const [binding] = await kam.locations({ username: user });
    assert.equal(binding?.contact, params.contact);
    assert.equal(binding?.cseq, 51);
    assert.equal(binding?.socket, `udp:[::1]:${kam.ports.udp}`);
    assert.equal((await v6.client.unregister(dialog, params)).code, 200);
    assert.deepEqual(await kam.locations({ username: user, includeExpired: true }), []);
  });

  it('wrong password: exactly one re-send with credentials, then the second 401 is the outcome', async function () {
    const { kam } = setup;
    const user = await setup.account('wrong-password');
    const dialog = tc.client.newDialog();
    const outcome = await tc.client.register(dialog, tc.params(user, kam.hostPort(), { password: 'not-the-password' }));

    assert.equal(outcome.code, 401);
    assert.equal(outcome.sent, true);
    assert.deepEqual(outcome.challenge, { code: 401, reason: 'Unauthorized' });
    assert.deepEqual(authFailures(kam, dialog.callId), [
      { cseq: 50, rc: AUTH_RC.noCredentials },
      { cseq: 51, rc: AUTH_RC.wrongPassword },
    ], 'two REGISTERs at the registrar');
    assert.deepEqual(sentSummary(tc.sent, dialog.callId), [
      '50 REGISTER, Expires: 3600, without credentials',
      '51 REGISTER, Expires: 3600, with credentials',
    ]);
    assert.deepEqual(await kam.locations({ username: user, includeExpired: true }), []);
  });

  it('the password changes at the registrar: the refresh with credentials up front is challenged, re-sent once, then 401', async function () {
    const { kam } = setup;
    const user = await setup.account('changed-password');
    const dialog = tc.client.newDialog();
    const params = tc.params(user, kam.hostPort());
    assertRegistered(await tc.client.register(dialog, params), 3600);
    await kam.setPassword(user, 'changed-at-the-registrar');

    const outcome = await tc.client.register(dialog, params);
    assert.deepEqual([outcome.code, outcome.challenge], [401, { code: 401, reason: 'Unauthorized' }]);
    assert.deepEqual(authFailures(kam, dialog.callId), [
      { cseq: 50, rc: AUTH_RC.noCredentials },
      { cseq: 52, rc: AUTH_RC.wrongPassword },
      { cseq: 53, rc: AUTH_RC.wrongPassword },
    ]);
    assert.deepEqual(sentSummary(tc.sent, dialog.callId).slice(2), [
      '52 REGISTER, Expires: 3600, with credentials',
      '53 REGISTER, Expires: 3600, with credentials',
    ]);
  });

  it('authenticate=false (uac_auth not loaded): the 401 is the outcome, nothing re-sent', async function () {
    const { kam } = setup;
    const noAuth = await setup.client({ authenticate: false });
    const user = await setup.account('no-uac-auth');
    const dialog = noAuth.client.newDialog();
    const outcome = await noAuth.client.register(dialog, noAuth.params(user, kam.hostPort()));

    assert.deepEqual(outcome, { code: 401, reason: 'Unauthorized', sent: true, retransmissions: 0, challenge: undefined });
    assert.deepEqual(authFailures(kam, dialog.callId), [{ cseq: 50, rc: AUTH_RC.noCredentials }]);
    assert.deepEqual(sentSummary(noAuth.sent, dialog.callId), ['50 REGISTER, Expires: 3600, without credentials']);
    assert.equal(dialog.cseq, 51);
  });
});

describe('SIP client at a real registrar: a burst of replies while the client is busy (Kamailio)', function () {
  this.timeout(30_000);
  const setup = new Setup();
  /** Below T1 (500 ms): no retransmission falls due while the client is blocked. */
  const BUSY_MS = 300;

  before(async function () {
    setup.kam = await startKamailio();
  });

  after(() => setup.closeAll());

  // 250 replies: about 320 kB of kernel memory on loopback; more than the usual 208 kB
  // default buffer holds, well within the 416 kB a stock net.core.rmem_max still allows.
  it('250 replies that arrive while the event loop is blocked are all read: no retransmission (UDP receive buffer)', async function () {
    const { kam } = setup;
    // Challenged without credentials: one short transaction per account, no subscribers needed.
    const burst = await setup.client({ authenticate: false });
    const users = Array.from({ length: 250 }, (_, i) => `burst-${i}`);
    const outcomes = Promise.all(users.map((user) => burst.client.register(burst.client.newDialog(), burst.params(user, kam.hostPort()))));
    while (burst.sent.length < users.length) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve)); // every datagram handed to the kernel
    for (const until = Date.now() + BUSY_MS; Date.now() < until;) {
      // busy: the 401s queue up in the socket's receive buffer meanwhile
    }
    const answered = await outcomes;
    assert.deepEqual([...new Set(answered.map((outcome) => outcome.code))], [401]);
    assert.equal(answered.reduce((sum, outcome) => sum + outcome.retransmissions, 0), 0, 'no reply was lost');
  });
});

describe('SIP client at a real registrar: SHA-256 challenges, credentials up front and stale nonces (Kamailio)', function () {
  this.timeout(30_000);
  /** Kamailio's auth nonce_expire here, seconds. */
  const NONCE_EXPIRE_S = 2;
  const setup = new Setup();
  /** Call-IDs whose first re-send with credentials is held until its nonce expired. */
  const slowCallIds = new Set<string>();
  let tc: TestClient;

  before(async function () {
    setup.kam = await startKamailio({ algorithm: 'SHA-256', nonceExpire: NONCE_EXPIRE_S });
    tc = await setup.client({
      beforeSend: async (request) => {
        const callId = request.headers.get('call-id') ?? '';
        if (!request.headers.has('authorization') || !slowCallIds.delete(callId)) return;
        await new Promise((resolve) => setTimeout(resolve, NONCE_EXPIRE_S * 1000 + 1500));
      },
    });
  });

  after(() => setup.closeAll());

  /** The Authorization header values sent in this dialog, in order. */
  function credentialsSent(dialog: RegistrationDialog): string[] {
    return tc.sent
      .filter((request) => request.headers.get('call-id') === dialog.callId)
      .map((request) => request.headers.get('authorization'))
      .filter((value): value is string => value !== undefined);
  }

  it('answers a SHA-256 challenge (RFC 7616, RFC 8760) with a SHA-256 digest; the registrar accepts it', async function () {
    const { kam } = setup;
    const user = await setup.account('sha256-user');
    const dialog = tc.client.newDialog();
    assertRegistered(await tc.client.register(dialog, tc.params(user, kam.hostPort(), { expires: 900 })), 900);

    const [credentials, ...more] = credentialsSent(dialog);
    assert.deepEqual(more, []);
    assert.match(credentials ?? '', /\balgorithm=SHA-256\b/);
    assert.match(credentials ?? '', /\bresponse="[0-9a-f]{64}"/, 'a 256-bit digest');
    const [binding] = await kam.locations({ username: user });
    assert.equal(binding?.cseq, 51);
  });

  it('a refresh while the nonce is valid: one transaction (CSeq 52) with the credentials up front, nc 2, answered 200', async function () {
    const { kam } = setup;
    const user = await setup.account('upfront-user');
    const dialog = tc.client.newDialog();
    const params = tc.params(user, kam.hostPort(), { expires: 900 });
    assertRegistered(await tc.client.register(dialog, params), 900);

    const refresh = await tc.client.register(dialog, params);
    assert.deepEqual([refresh.code, refresh.grantedExpires, refresh.challenge], [200, 900, undefined]);
    assert.equal(dialog.cseq, 53);
    assert.deepEqual(authFailures(kam, dialog.callId), [{ cseq: 50, rc: AUTH_RC.noCredentials }]);
    const [binding] = await kam.locations({ username: user });
    assert.equal(binding?.cseq, 52);
    const [answer, upFront] = credentialsSent(dialog).map((value) => /\bnc=(\w+)/.exec(value)?.[1]);
    assert.deepEqual([answer, upFront], ['00000001', '00000002']);
  });

  it('a refresh after the nonce expired: Kamailio\'s 401 stale=true to the credentials sent up front is answered once → 200', async function () {
    const { kam } = setup;
    const user = await setup.account('expired-user');
    const dialog = tc.client.newDialog();
    const params = tc.params(user, kam.hostPort(), { expires: 900 });
    assertRegistered(await tc.client.register(dialog, params), 900);
    await new Promise((resolve) => setTimeout(resolve, NONCE_EXPIRE_S * 1000 + 1500));

    assertRegistered(await tc.client.register(dialog, params), 900);
    assert.deepEqual(authFailures(kam, dialog.callId), [
      { cseq: 50, rc: AUTH_RC.noCredentials },
      { cseq: 52, rc: AUTH_RC.stale },
    ]);
    assert.deepEqual(sentSummary(tc.sent, dialog.callId).slice(2), [
      '52 REGISTER, Expires: 900, with credentials',
      '53 REGISTER, Expires: 900, with credentials',
    ]);
    const [binding] = await kam.locations({ username: user });
    assert.equal(binding?.cseq, 53);
  });

  it('a re-challenge with stale=true (nonce expired) is answered again with the new nonce: 200 at CSeq 52', async function () {
    const { kam } = setup;
    const user = await setup.account('stale-user');
    const dialog = tc.client.newDialog();
    slowCallIds.add(dialog.callId);
    assertRegistered(await tc.client.register(dialog, tc.params(user, kam.hostPort(), { expires: 900 })), 900);

    assert.deepEqual(authFailures(kam, dialog.callId), [
      { cseq: 50, rc: AUTH_RC.noCredentials },
      { cseq: 51, rc: AUTH_RC.stale },
    ]);
    const nonces = credentialsSent(dialog).map((value) => /\bnonce="([^"]*)"/.exec(value)?.[1]);
    assert.equal(nonces.length, 2);
    assert.notEqual(nonces[0], nonces[1], 'the second answer uses the fresh nonce');
    const [binding] = await kam.locations({ username: user });
    assert.equal(binding?.cseq, 52);
    assert.equal(binding?.callId, dialog.callId);
  });
});
