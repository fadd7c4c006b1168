/**
 * Proves every misbehaving-registrar scenario (test/support/sipp.ts, fixtures in
 * test/fixtures/sipp) answers as documented, that sipp's message trace is read back
 * with arrival times, and that the sipp REGISTER load client works against Kamailio.
 */
import assert from 'node:assert/strict';
import { startKamailio } from '../support/kamailio';
import { startedProcessGroups, strayPeerProcesses } from '../support/peer-process';
import { buildRegister, probeContact, randomToken, registerWithDigest, SipProbe, SipTransport } from '../support/sip-probe';
import { headerParam, SipMessage, uriOf } from '../support/sip-message';
import { SippHandle, SippOptions, SippScenario, sippRegisterClient, startSipp } from '../support/sipp';

/** A REGISTER dialog from a fresh probe towards a sipp peer. */
class Registration {
  readonly callId = `${randomToken()}@harness`;
  readonly fromTag = randomToken(4);
  cseq = 0;

  private constructor(readonly probe: SipProbe) {}

  static async towards(peer: SippHandle, transport: SipTransport = peer.transport): Promise<Registration> {
    return new Registration(await SipProbe.open(transport, { host: peer.host, port: peer.port }));
  }

  get contact(): string {
    return probeContact(this.probe, 'alice');
  }

  /** Sends the next REGISTER of the dialog; returns its CSeq. */
  send(expires: number, authorization?: string): number {
    this.cseq += 1;
    this.probe.send(buildRegister(this.probe, {
      user: 'alice', domain: 'example.test', expires, callId: this.callId, fromTag: this.fromTag,
      cseq: this.cseq, authorization,
    }));
    return this.cseq;
  }

  async request(expires: number, authorization?: string): Promise<SipMessage> {
    const cseq = this.send(expires, authorization);
    return this.probe.finalResponse(this.callId, cseq, 3000);
  }

  /** Replies to one CSeq, in arrival order. */
  repliesTo(cseq: number): SipMessage[] {
    return this.probe.received.map((r) => r.message)
      .filter((m) => m.header('Call-ID') === this.callId && Number.parseInt(m.header('CSeq') ?? '', 10) === cseq);
  }

  close(): void {
    this.probe.close();
  }
}

describe('harness: sipp misbehaving registrars', function () {
  this.timeout(20000);
  let firstGroup: number;
  const peers: SippHandle[] = [];
  const probes: Registration[] = [];

  async function peer(scenario: SippScenario, options: SippOptions = {}): Promise<SippHandle> {
    const handle = await startSipp(scenario, options);
    peers.push(handle);
    return handle;
  }

  async function registration(towards: SippHandle): Promise<Registration> {
    const reg = await Registration.towards(towards);
    probes.push(reg);
    return reg;
  }

  before(function () {
    firstGroup = startedProcessGroups().length;
  });

  afterEach(async function () {
    for (const reg of probes.splice(0)) reg.close();
    await Promise.all(peers.splice(0).map((handle) => handle.stop()));
  });

  after(function () {
    assert.deepEqual(strayPeerProcesses(startedProcessGroups().slice(firstGroup)), []);
  });

  it('no-answer: stays silent and records the arrival time of every retransmission', async function () {
    const sipp = await peer('no-answer', { pauseMs: 5000 });
    const reg = await registration(sipp);
    // Timer E schedule of a UDP client: first send, then +0.5 s, then +1 s.
    const raw = buildRegister(reg.probe, { user: 'alice', domain: 'example.test', callId: reg.callId, fromTag: reg.fromTag, cseq: 1 });
    for (const gapMs of [0, 500, 1000]) {
      await sleep(gapMs);
      reg.probe.send(raw);
    }
    assert.ok(await reg.probe.staysSilent(1000), 'no-answer must never reply');
    const arrivals = sipp.arrivalTimes(reg.callId, 1);
    assert.equal(arrivals.length, 3);
    const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]);
    assert.ok(Math.abs(gaps[0] - 500) < 150 && Math.abs(gaps[1] - 1000) < 150, `gaps ${gaps.join(', ')}`);
    assert.ok(Math.abs(arrivals[0] - Date.now()) < 10000, 'arrival times are wall-clock ms');
    assert.equal(sipp.responses().length, 0);
    const [transaction, ...others] = sipp.transactions();
    assert.deepEqual(others, []);
    assert.deepEqual({ ...transaction, first: undefined }, { callId: reg.callId, cseq: 1, method: 'REGISTER', first: undefined, arrivals });
  });

  it('reply-503: every REGISTER gets 503', async function () {
    const reg = await registration(await peer('reply-503'));
    assert.equal((await reg.request(3600)).status, 503);
    assert.equal((await reg.request(3600)).status, 503);
  });

  it('reply-423: 423 with Min-Expires 3600 below it, 200 echoing our Contact at it', async function () {
    const reg = await registration(await peer('reply-423'));
    const brief = await reg.request(60);
    assert.equal(brief.status, 423);
    assert.equal(brief.header('Min-Expires'), '3600');
    const ok = await reg.request(3600);
    assert.equal(ok.status, 200);
    assert.equal(uriOf(ok.header('Contact')), reg.contact);
    assert.equal(headerParam(ok.header('Contact'), 'expires'), '3600');
  });

  it('reply-423 takes its minimum from the minExpires option', async function () {
    const reg = await registration(await peer('reply-423', { minExpires: 120 }));
    assert.equal((await reg.request(119)).header('Min-Expires'), '120');
    assert.equal((await reg.request(120)).status, 200);
  });

  it("reply-200-without-contact: 200 OK carrying only someone else's Contact", async function () {
    const reg = await registration(await peer('reply-200-without-contact'));
    const reply = await reg.request(3600);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.headerAll('Contact').map(uriOf), ['sip:someone-else@192.0.2.1:5060']);
  });

  it('reply-401-always: challenges again even when credentials come', async function () {
    const reg = await registration(await peer('reply-401-always', { challengeRealm: 'nowhere.test' }));
    const first = await reg.request(3600);
    assert.equal(first.status, 401);
    const challenge = first.header('WWW-Authenticate') ?? '';
    assert.match(challenge, /realm="nowhere\.test"/);
    assert.match(challenge, /qop="auth"/);
    const withCredentials = await registerWithDigest(reg.probe, { user: 'alice', password: 'any', domain: 'example.test' });
    assert.equal(withCredentials.second?.status, 401);
    assert.notEqual(withCredentials.second?.header('WWW-Authenticate'), withCredentials.first.header('WWW-Authenticate'),
      'each challenge has a fresh nonce');
  });

  it('reply-200-expires-60: grants 60 s on our Contact; a de-REGISTER gets 200 without Contact', async function () {
    const reg = await registration(await peer('reply-200-expires-60'));
    const granted = await reg.request(3600);
    assert.equal(granted.status, 200);
    assert.equal(uriOf(granted.header('Contact')), reg.contact);
    assert.equal(headerParam(granted.header('Contact'), 'expires'), '60');
    const removed = await reg.request(0);
    assert.equal(removed.status, 200);
    assert.equal(removed.header('Contact'), undefined);
  });

  it('garbage: non-SIP bytes, then a 200 with a 60 kB header, then a plain 200', async function () {
    const reg = await registration(await peer('garbage'));
    const cseq = reg.send(1800);
    await reg.probe.waitFor((m) => m.status === 200 && m.raw.length < 2000, 3000);
    assert.equal(reg.probe.unparsable.length, 1);
    assert.match(reg.probe.unparsable[0].toString('utf8'), /this is not SIP/);
    const replies = reg.probe.received.filter((r) => r.message.header('Call-ID') === reg.callId);
    assert.equal(replies.length, 2);
    assert.ok(replies[0].bytes > 60000, `padded reply is ${replies[0].bytes} bytes`);
    assert.equal(replies[0].message.header('X-Padding')?.length, 60000);
    assert.ok(replies[1].bytes < 2000);
    for (const reply of reg.repliesTo(cseq)) assert.equal(headerParam(reply.header('Contact'), 'expires'), '1800');
  });

  it('wrong-branch: a 200 for another branch first, the right one about 200 ms later', async function () {
    const sipp = await peer('wrong-branch');
    const reg = await registration(sipp);
    const cseq = reg.send(3600);
    await reg.probe.waitFor(() => reg.repliesTo(cseq).length === 2, 3000);
    const [ourRequest] = sipp.requests('REGISTER');
    const ourBranch = headerParam(ourRequest.message.header('Via'), 'branch');
    const [wrong, right] = reg.repliesTo(cseq);
    assert.notEqual(headerParam(wrong.header('Via'), 'branch'), ourBranch);
    assert.equal(headerParam(right.header('Via'), 'branch'), ourBranch);
    const [wrongAt, rightAt] = reg.probe.received.map((r) => r.at);
    assert.ok(rightAt - wrongAt >= 150, `gap ${rightAt - wrongAt} ms`);
  });

  it('runs over TCP', async function () {
    const sipp = await peer('reply-200-expires-60', { transport: 'tcp' });
    const reg = await registration(sipp);
    const reply = await reg.request(3600);
    assert.equal(reply.status, 200);
    assert.match(reg.contact, /transport=tcp/);
    assert.equal(sipp.requests()[0].transport, 'TCP');
  });

  it('runs on IPv6 (::1)', async function () {
    const sipp = await peer('reply-503', { host: '::1' });
    assert.equal(sipp.hostPort, `[::1]:${sipp.port}`);
    const reg = await registration(sipp);
    assert.equal((await reg.request(3600)).status, 503);
  });

  it('exposes the raw text of what it received and sent, and exits by itself after maxCalls', async function () {
    const sipp = await peer('reply-503', { maxCalls: 1 });
    const reg = await registration(sipp);
    await reg.request(3600);
    const exit = await sipp.finished(5000);
    assert.equal(exit.code, 0);
    const [request] = sipp.requests('REGISTER');
    assert.match(request.raw, /^REGISTER sip:example\.test SIP\/2\.0\r\n/);
    assert.equal(request.bytes, Buffer.byteLength(request.raw));
    assert.equal(request.message.header('Call-ID'), reg.callId);
    const [response] = sipp.responses();
    assert.equal(response.message.status, 503);
    assert.ok(response.at >= request.at);
  });

  it('waitForRequests() waits for arrivals and times out clearly', async function () {
    const sipp = await peer('reply-503');
    const reg = await registration(sipp);
    const waiting = sipp.waitForRequests(2, 3000);
    await reg.request(60);
    await reg.request(60);
    assert.equal((await waiting).length, 2);
    await assert.rejects(sipp.waitForRequests(3, 200), /2 of 3 requests/);
  });
});

describe('harness: sipp REGISTER load client', function () {
  this.timeout(60000);
  let firstGroup: number;

  before(function () {
    firstGroup = startedProcessGroups().length;
  });

  after(function () {
    assert.deepEqual(strayPeerProcesses(startedProcessGroups().slice(firstGroup)), []);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`registers 500 accounts against Kamailio over ${transport} and reports the rate`, async function () {
      const kam = await startKamailio({ tls: false, logLevel: 1 });
      try {
        const accounts = Array.from({ length: 500 }, (_, i) => ({ user: `load${i}`, password: `p${i}`, domain: kam.defaultDomain }));
        await kam.addSubscribers(accounts.map(({ user, password }) => ({ user, password })));
        const result = await sippRegisterClient({
          target: { host: kam.host, port: kam.ports[transport] }, accounts, transport, rate: 1000, expires: 600,
        });
        assert.equal(result.successful, 500, result.logTail);
        assert.equal(result.failed, 0);
        assert.equal(result.exitCode, 0);
        assert.ok(result.registrationsPerSecond > 50, `rate ${result.registrationsPerSecond}`);
        const rows = await kam.locations();
        assert.equal(rows.length, 500);
        assert.ok(rows.every((row) => row.expiresIn > 590));
      } finally {
        await kam.stop();
      }
    });
  }
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
