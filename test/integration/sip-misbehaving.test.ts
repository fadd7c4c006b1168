/**
 * The SIP registration client (src/sip), without the daemon, against registrars that
 * misbehave (issue 3): sipp peers that never answer, answer 503, 423, a 2xx without
 * our Contact, garbage, a reply for another branch, or challenge forever; and a small
 * TCP peer written here that answers with a 100 kB header. Each outcome is checked
 * together with what the peer received (sipp's message trace, with arrival times).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { RegistrationOutcome } from '../../src/sip/registration-client';
import { cseqNumber, parseSipMessage as readTestMessage, type SipMessage as TestMessage } from '../support/sip-message';
import { liveHeapBytes } from '../support/heap';
import { waitUntil } from '../support/peer-process';
import { answerRequest } from '../support/sip-responses';
import { openTestClient, sentSummary, type TestClient } from '../support/sip-client';
import { startSipp, type SippHandle, type SippOptions, type SippScenario, type SippTraceEntry } from '../support/sipp';

/** RFC 3261 §17.1.2.2 over UDP: Timer E doubles from T1 = 0.5 s up to T2 = 4 s; Timer F = 64·T1 = 32 s. */
const EXPECTED_GAPS_MS = [500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000];
const GAP_TOLERANCE_MS = 150;
const TIMER_F_MS = 32_000;

/** One line per REGISTER the peer received: `<CSeq> <Expires> <credentials?>`, as sentSummary() writes them. */
function receivedSummary(entries: readonly SippTraceEntry[]): string[] {
  return entries.map(({ message }) => [
    message.header('CSeq'),
    `Expires: ${message.header('Expires')}`,
    message.header('Authorization') === undefined ? 'without credentials' : 'with credentials',
  ].join(', '));
}

describe('SIP client against misbehaving registrars (sipp)', function () {
  this.timeout(60_000);
  let tc: TestClient;
  const peers: SippHandle[] = [];

  before(async function () {
    tc = await openTestClient();
  });

  afterEach(async function () {
    await Promise.all(peers.splice(0).map((peer) => peer.stop()));
  });

  after(async function () {
    await tc?.close();
  });

  async function peer(scenario: SippScenario, options?: SippOptions): Promise<SippHandle> {
    const handle = await startSipp(scenario, options);
    peers.push(handle);
    return handle;
  }

  /** A REGISTER for `user` at `registrar` in a new dialog; the outcome and the dialog's Call-ID. */
  async function register(user: string, registrar: SippHandle, expires = 3600): Promise<{ outcome: RegistrationOutcome; callId: string }> {
    const dialog = tc.client.newDialog();
    const outcome = await tc.client.register(dialog, tc.params(user, registrar.hostPort, { expires }));
    return { outcome, callId: dialog.callId };
  }

  /** Waits until the peer's trace shows it sent `count` responses that match (sipp logs a message after sending it). */
  async function sentResponses(registrar: SippHandle, count: number, match: (entry: SippTraceEntry) => boolean): Promise<SippTraceEntry[]> {
    const found = () => registrar.responses().filter(match);
    assert.ok(await waitUntil(() => found().length >= count, 5000, 20), `${count} responses in sipp's trace: ${found().length}`);
    return found();
  }

  /** The REGISTERs of this Call-ID the peer received, once at least `count` are in its trace. */
  const registersOf = (registrar: SippHandle, callId: string, count = 1): Promise<SippTraceEntry[]> =>
    registrar.waitForRequests(count, 5000, (entry) => entry.message.method === 'REGISTER' && entry.message.header('Call-ID') === callId);

  it('no answer: retransmits at 0.5, 1, 2, 4, 4, … s (±150 ms at the peer), then 408 at Timer F (32 s)', async function () {
    const silent = await peer('no-answer');
    const started = Date.now();
    const { outcome, callId } = await register('silent', silent);
    const elapsed = Date.now() - started;

    assert.deepEqual(outcome, { code: 408, reason: 'Timeout', sent: true, retransmissions: EXPECTED_GAPS_MS.length, challenge: undefined });
    assert.ok(elapsed >= TIMER_F_MS - 100 && elapsed < TIMER_F_MS + 1500, `408 after ${elapsed} ms`);
    const arrivals = silent.arrivalTimes(callId, 50);
    const gaps = arrivals.slice(1).map((at, i) => Math.round(at - (arrivals[i] as number)));
    assert.equal(gaps.length, EXPECTED_GAPS_MS.length, `gaps ${JSON.stringify(gaps)} ms`);
    gaps.forEach((gap, i) => assert.ok(Math.abs(gap - (EXPECTED_GAPS_MS[i] as number)) <= GAP_TOLERANCE_MS,
      `gap ${i + 1}: ${gap} ms, expected ${EXPECTED_GAPS_MS[i]} (all: ${JSON.stringify(gaps)})`));
    assert.deepEqual(silent.transactions().map((t) => t.cseq), [50], 'one transaction, no new CSeq');
  });

  it('TCP: the registrar dies after reading the REGISTER: 408 as soon as the connection closes, not at Timer F', async function () {
    const dying = await peer('no-answer', { transport: 'tcp' });
    const dialog = tc.client.newDialog();
    const pending = tc.client.register(dialog, tc.params('orphan', dying.hostPort, { contact: tc.contact('orphan', ';transport=tcp') }));
    await registersOf(dying, dialog.callId);
    const killedAt = Date.now();
    await dying.stop();
    const outcome = await pending;
    const afterKill = Date.now() - killedAt;
    assert.deepEqual(outcome, { code: 408, reason: 'Timeout', sent: true, retransmissions: 0, challenge: undefined });
    assert.ok(afterKill < 5000, `outcome ${afterKill} ms after the registrar was stopped (Timer F: ${TIMER_F_MS} ms)`);
  });

  it('503: the outcome is 503; the next account at that registrar is still sent, and another registrar is unaffected', async function () {
    const unavailable = await peer('reply-503');
    const healthy = await peer('reply-200-expires-60');

    const first = await register('unavailable-a', unavailable);
    assert.deepEqual(first.outcome, { code: 503, reason: 'Service Unavailable', sent: true, retransmissions: 0, challenge: undefined });
    assert.equal((await registersOf(unavailable, first.callId)).length, 1, 'no failover: there is no other target');

    // SEMS would now fail every account behind this next hop locally with 500 (SPEC §8).
    const second = await register('unavailable-b', unavailable);
    assert.deepEqual([second.outcome.code, second.outcome.sent], [503, true]);
    assert.equal((await registersOf(unavailable, second.callId)).length, 1, 'the second account went on the wire');

    const other = await register('healthy', healthy);
    assert.deepEqual([other.outcome.code, other.outcome.grantedExpires], [200, 60]);
  });

  it('423 with Min-Expires: retried at once with Expires = Min-Expires → 200; later refreshes ask for it directly', async function () {
    const registrar = await peer('reply-423', { minExpires: 3600 });
    const dialog = tc.client.newDialog();
    const params = tc.params('brief', registrar.hostPort, { expires: 600 });
    const outcome = await tc.client.register(dialog, params);

    assert.equal(outcome.code, 200);
    assert.equal(outcome.grantedExpires, 3600);
    const received = await registersOf(registrar, dialog.callId, 2);
    assert.deepEqual(receivedSummary(received), [
      '50 REGISTER, Expires: 600, without credentials',
      '51 REGISTER, Expires: 3600, without credentials',
    ]);
    const [tooBrief] = await sentResponses(registrar, 1, (entry) => entry.message.status === 423);
    const retryAfterMs = (received[1] as SippTraceEntry).at - (tooBrief as SippTraceEntry).at;
    assert.ok(retryAfterMs < 300, `retried ${Math.round(retryAfterMs)} ms after the 423`);

    assert.equal((await tc.client.register(dialog, params)).grantedExpires, 3600);
    assert.deepEqual(sentSummary(tc.sent, dialog.callId).slice(2), ['52 REGISTER, Expires: 3600, without credentials']);
  });

  it('a 2xx that lacks our Contact: outcome 200 with contactMissing, no granted expires', async function () {
    const registrar = await peer('reply-200-without-contact', { foreignContact: 'sip:someone-else@192.0.2.1:5060' });
    const { outcome } = await register('forgotten', registrar);
    assert.deepEqual(outcome, {
      code: 200, reason: 'OK', sent: true, retransmissions: 0, challenge: undefined,
      contacts: '<sip:someone-else@192.0.2.1:5060>;expires=3600', contactMissing: true,
    });
  });

  it('non-SIP bytes are dropped, the 200 with a 60 kB header is read like any valid reply, the late 200 is absorbed; no crash', async function () {
    // The padded 200 is valid SIP within the 64 kB message limit (no UDP datagram is larger): it is the answer.
    const gapMs = 1000;
    const registrar = await peer('garbage', { pauseMs: gapMs, paddingBytes: 60_000 });
    const started = Date.now();
    const { outcome, callId } = await register('garbled', registrar);
    const elapsed = Date.now() - started;

    assert.equal(outcome.code, 200);
    assert.equal(outcome.grantedExpires, 3600);
    assert.equal(outcome.contacts, `<${tc.contact('garbled')}>;expires=3600`);
    assert.ok(elapsed < gapMs, `answered by the padded 200 after ${elapsed} ms, before the plain one`);
    await sentResponses(registrar, 1, (entry) => entry.bytes > 60_000); // the peer did send the 60 kB reply
    assert.equal((await registersOf(registrar, callId)).length, 1);

    await new Promise((resolve) => setTimeout(resolve, gapMs)); // the plain 200 arrives and is absorbed (Timer K)
    const again = await register('garbled-again', registrar);
    assert.equal(again.outcome.code, 200, 'the socket still works');
  });

  it('outcomes keep their reason and Contact list, not the 60 kB reply they were read from', async function () {
    const registrar = await peer('garbage', { pauseMs: 10, paddingBytes: 60_000 });
    // A completed transaction holds its reply until Timer K (T4): 20 ms here, not 5 s.
    const shortK = await openTestClient({ timers: { t1: 500, t2: 4000, t4: 20 } });
    const before = liveHeapBytes();
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => {
      const user = `kept-${i}`;
      return shortK.client.register(shortK.client.newDialog(), shortK.params(user, registrar.hostPort));
    }));
    await new Promise((resolve) => setTimeout(resolve, 100)); // Timer K, and the late plain 200s absorbed
    const grown = liveHeapBytes() - before;
    await shortK.close();
    assert.deepEqual([...new Set(outcomes.map((outcome) => outcome.code))], [200]);
    assert.ok(grown < 2_000_000, `${(grown / 1e6).toFixed(1)} MB kept with 100 outcomes (6 MB if the replies were)`);
  });

  it('a 200 for another branch is ignored; the right one, 200 ms later, is taken', async function () {
    const registrar = await peer('wrong-branch', { pauseMs: 200 });
    const started = Date.now();
    const { outcome, callId } = await register('misdirected', registrar);
    const elapsed = Date.now() - started;

    assert.equal(outcome.code, 200);
    assert.equal(outcome.grantedExpires, 3600);
    assert.equal(outcome.retransmissions, 0);
    assert.ok(elapsed >= 180, `answered after ${elapsed} ms: the wrong-branch 200 was not taken`);
    assert.equal((await registersOf(registrar, callId)).length, 1);
    await sentResponses(registrar, 2, (entry) => entry.message.status === 200); // the wrong one, then the right one
  });

  it('a registrar that challenges every REGISTER: exactly 2 REGISTERs (one re-send with credentials), outcome 401', async function () {
    const registrar = await peer('reply-401-always', { challengeRealm: 'sipp.test' });
    const { outcome, callId } = await register('rejected', registrar);

    assert.deepEqual(outcome, {
      code: 401, reason: 'Unauthorized', sent: true, retransmissions: 0, challenge: { code: 401, reason: 'Unauthorized' },
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more may arrive
    const received = await registersOf(registrar, callId, 2);
    assert.deepEqual(receivedSummary(received), [
      '50 REGISTER, Expires: 3600, without credentials',
      '51 REGISTER, Expires: 3600, with credentials',
    ]);
    assert.match(received[1]?.message.header('Authorization') ?? '', /realm="sipp\.test"/);
  });
});

/**
 * A TCP registrar written here: answers the first request of its first connection with
 * a 200 carrying a 100 kB header (beyond the 64 kB a SIP message may have here), every
 * other request with a plain 200 echoing the Contact.
 */
class OversizedReplyPeer {
  accepted = 0;
  /** When the client closed the first connection, ms since epoch. */
  firstClosedAt: number | undefined;
  oversizedSentAt: number | undefined;
  private readonly server = net.createServer((socket) => this.serve(socket));
  private readonly sockets = new Set<net.Socket>();

  static async start(): Promise<OversizedReplyPeer> {
    const peer = new OversizedReplyPeer();
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get hostPort(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private serve(socket: net.Socket): void {
    const connection = ++this.accepted;
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (connection === 1) this.firstClosedAt = Date.now();
    });
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      // Our REGISTERs carry no body: a request ends at the empty line.
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        this.answer(socket, readTestMessage(pending.slice(0, end + 4)), connection);
        pending = pending.slice(end + 4);
      }
    });
  }

  private answer(socket: net.Socket, request: TestMessage, connection: number): void {
    const contact = `Contact: ${request.header('Contact')};expires=60`;
    if (connection === 1 && cseqNumber(request) === 50) {
      socket.write(answerRequest(request, 200, 'OK', { headers: [contact, `X-Padding: ${'p'.repeat(100_000)}`] }));
      this.oversizedSentAt = Date.now();
    } else {
      socket.write(answerRequest(request, 200, 'OK', { headers: [contact] }));
    }
  }
}

describe('SIP client against a TCP registrar sending a 100 kB header', function () {
  this.timeout(20_000);
  /** Timer F = 64 × 50 ms = 3.2 s. */
  const FAST_TIMERS = { t1: 50, t2: 200, t4: 250 };
  let tc: TestClient | undefined;
  let registrar: OversizedReplyPeer | undefined;

  after(async function () {
    await tc?.close();
    await registrar?.close();
  });

  it('drops the connection at once (no crash); that transaction ends with it (408), not at Timer F; the next request works on a new connection', async function () {
    registrar = await OversizedReplyPeer.start();
    tc = await openTestClient({ timers: FAST_TIMERS });
    const params = tc.params('oversized', registrar.hostPort, { contact: tc.contact('oversized', ';transport=tcp') });
    const dialog = tc.client.newDialog();

    const started = Date.now();
    const first = await tc.client.register(dialog, params);
    assert.deepEqual([first.code, first.reason, first.sent], [408, 'Timeout', true]);
    assert.ok(Date.now() - started < 64 * FAST_TIMERS.t1, `ended after ${Date.now() - started} ms, Timer F is ${64 * FAST_TIMERS.t1} ms`);
    const peer = registrar;
    await waitUntil(() => peer.firstClosedAt !== undefined, 1000, 10); // the peer sees the close a moment later
    const { firstClosedAt, oversizedSentAt } = registrar;
    assert.ok(firstClosedAt !== undefined && oversizedSentAt !== undefined, 'the client closed the connection');
    assert.ok(firstClosedAt - oversizedSentAt < 1000, `closed ${firstClosedAt - oversizedSentAt} ms after the 100 kB reply`);

    const second = await tc.client.register(dialog, params);
    assert.deepEqual([second.code, second.grantedExpires], [200, 60]);
    assert.equal(registrar.accepted, 2, 'a new connection');
  });
});
