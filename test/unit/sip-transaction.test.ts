import assert from 'node:assert/strict';
import { FakeClock } from '../../src/core/clock';
import { buildRegisterRequest } from '../../src/sip/message/register';
import { SipHeaders } from '../../src/sip/message/headers';
import { SipRequest } from '../../src/sip/message/sip-message';
import { DEFAULT_TIMER_VALUES, nextTimerE, timerF, timerK } from '../../src/sip/timers';
import { TransactionLayer } from '../../src/sip/transaction-layer';
import type { TransactionOutcome } from '../../src/sip/transaction-non-invite-client';
import {
  TransportError,
  type Destination,
  type Transport,
  type TransportProtocol,
} from '../../src/sip/transport/transport';
import { collectGarbage } from '../support/heap';
import { headerParam, parseSipMessage as readTestMessage } from '../support/sip-message';
import { answerRequest, outcomeStatus, type AnswerOptions } from '../support/sip-responses';

/** Records what the layer sends; sends number `failFrom` and later fail. */
class FakeTransport implements Transport {
  readonly sent: { at: number; data: Buffer }[] = [];
  failFrom = Infinity;
  closed = false;

  constructor(readonly protocol: TransportProtocol, readonly reliable: boolean, private readonly clock: FakeClock) {}

  send(_destination: Destination, data: Buffer): Promise<void> {
    const index = this.sent.length;
    this.sent.push({ at: this.clock.now(), data });
    return index >= this.failFrom ? Promise.reject(new TransportError('host unreachable', 'EHOSTUNREACH')) : Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  get sendTimes(): number[] {
    return this.sent.map((s) => s.at);
  }
}

const UDP: Destination = { transport: 'UDP', host: '192.0.2.50', port: 5060 };
const TCP: Destination = { transport: 'TCP', host: '192.0.2.50', port: 5060 };
const TLS: Destination = { transport: 'TLS', host: '192.0.2.50', port: 5061 };

function setup(protocols: readonly TransportProtocol[] = ['UDP', 'TCP', 'TLS']) {
  const clock = new FakeClock();
  const transports = new Map(protocols.map((p) => [p, new FakeTransport(p, p !== 'UDP', clock)] as const));
  const layer = new TransactionLayer(transports, { sentBy: { host: '192.0.2.1', port: 5060 }, clock });
  const transport = (p: TransportProtocol): FakeTransport => transports.get(p) as FakeTransport;
  return { clock, layer, transport };
}

function register(cseq = 50) {
  return buildRegisterRequest({
    requestUri: 'sip:example.com', aor: 'sip:alice@example.com', fromTag: 'f1', callId: 'c1',
    cseq, contact: 'sip:alice@192.0.2.1:5060', expires: 3600,
  });
}

/** The outcome once it has settled. */
function track(promise: Promise<TransactionOutcome>): { value?: TransactionOutcome } {
  const box: { value?: TransactionOutcome } = {};
  void promise.then((outcome) => (box.value = outcome));
  return box;
}

/** Lets rejected sends and resolved outcomes run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A registrar's response to a request the layer sent. */
function answer(request: Buffer, status: number, reason: string, options: AnswerOptions = {}): Buffer {
  return Buffer.from(answerRequest(request.toString(), status, reason, options));
}

const FROM_REGISTRAR = { transport: 'UDP', host: '192.0.2.50', port: 5060 } as const;

describe('SIP transactions: timer values (RFC 3261 §17.1.2.2)', () => {
  it('uses T1 500 ms, T2 4 s, T4 5 s; Timer F 32 s; Timer K T4 over UDP and 0 over streams', () => {
    assert.deepEqual(DEFAULT_TIMER_VALUES, { t1: 500, t2: 4000, t4: 5000 });
    assert.equal(timerF(DEFAULT_TIMER_VALUES), 32_000);
    assert.equal(timerK(DEFAULT_TIMER_VALUES, false), 5000);
    assert.equal(timerK(DEFAULT_TIMER_VALUES, true), 0);
  });

  it('doubles Timer E up to T2 while trying, and uses T2 once proceeding', () => {
    assert.deepEqual([500, 1000, 2000, 4000].map((i) => nextTimerE(DEFAULT_TIMER_VALUES, i, false)), [1000, 2000, 4000, 4000]);
    assert.equal(nextTimerE(DEFAULT_TIMER_VALUES, 500, true), 4000);
  });
});

describe('SIP transactions: the non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('stamps each request with our Via and a fresh branch (§8.1.1.7), replacing any Via given', async () => {
    const { layer, transport } = setup();
    const given = register();
    void layer.send(new SipRequest('REGISTER', given.uri, SipHeaders.of([['Via', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKold'], ...given.headers])), UDP);
    void layer.send(register(51), TCP);
    const [udp] = transport('UDP').sent.map((s) => readTestMessage(s.data.toString()));
    const [tcp] = transport('TCP').sent.map((s) => readTestMessage(s.data.toString()));
    assert.equal(udp.headerAll('Via').length, 1);
    assert.match(udp.header('Via') ?? '', /^SIP\/2\.0\/UDP 192\.0\.2\.1:5060;branch=z9hG4bK[0-9a-f]{32};rport$/);
    assert.match(tcp.header('Via') ?? '', /^SIP\/2\.0\/TCP 192\.0\.2\.1:5060;branch=z9hG4bK[0-9a-f]{32};rport$/);
    assert.notEqual(headerParam(udp.header('Via'), 'branch'), headerParam(tcp.header('Via'), 'branch'));
    assert.equal(layer.activeTransactions, 2);
  });

  it('retransmits over UDP at 0.5, 1, 2, 4, 4 ... s and times out at 32 s with Timer F', async () => {
    const { clock, layer, transport } = setup();
    const outcome = track(layer.send(register(), UDP));
    clock.advance(31_999);
    await flush();
    const udp = transport('UDP');
    assert.deepEqual(udp.sendTimes, [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    assert.ok(udp.sent.every((s) => s.data.equals(udp.sent[0].data)), 'retransmissions are byte-identical');
    assert.equal(outcome.value, undefined);
    assert.equal(clock.pendingTimers, 1, 'one armed timer per transaction');
    clock.advance(1);
    await flush();
    assert.deepEqual(outcome.value, { kind: 'timeout', retransmissions: 10 });
    assert.equal(clock.pendingTimers, 0);
    assert.equal(layer.activeTransactions, 0);
  });

  for (const destination of [TCP, TLS]) {
    it(`never retransmits over ${destination.transport} and times out at 32 s`, async () => {
      const { clock, layer, transport } = setup();
      const outcome = track(layer.send(register(), destination));
      clock.advance(31_999);
      await flush();
      assert.equal(outcome.value, undefined);
      clock.advance(1);
      await flush();
      assert.deepEqual(transport(destination.transport).sendTimes, [0]);
      assert.deepEqual(outcome.value, { kind: 'timeout', retransmissions: 0 });
    });
  }

  it('moves to Proceeding on a 1xx: hook called, retransmissions every T2, then the final response', async () => {
    const { clock, layer, transport } = setup();
    const provisional: number[] = [];
    const outcome = track(layer.send(register(), UDP, { onProvisional: (r) => provisional.push(r.status) }));
    const udp = transport('UDP');
    clock.advance(200);
    layer.receive(answer(udp.sent[0].data, 100, 'Trying'), FROM_REGISTRAR);
    clock.advance(6000);
    layer.receive(answer(udp.sent[0].data, 183, 'Progress'), FROM_REGISTRAR);
    clock.advance(2800);
    assert.deepEqual(udp.sendTimes, [0, 500, 4500, 8500]);
    layer.receive(answer(udp.sent[0].data, 200, 'OK'), FROM_REGISTRAR);
    clock.advance(10_000);
    await flush();
    assert.deepEqual(provisional, [100, 183]);
    assert.equal(outcomeStatus(outcome.value), 200);
    assert.equal(outcome.value?.retransmissions, 3);
    assert.equal(udp.sent.length, 4, 'no retransmission after the final response');
  });

  it('keeps a completed UDP transaction for Timer K (T4) to absorb retransmitted responses', async () => {
    const { clock, layer, transport } = setup();
    const provisional: number[] = [];
    const outcome = track(layer.send(register(), UDP, { onProvisional: (r) => provisional.push(r.status) }));
    const request = transport('UDP').sent[0].data;
    clock.advance(600);
    layer.receive(answer(request, 401, 'Unauthorized'), FROM_REGISTRAR);
    await flush();
    const first = outcome.value;
    assert.equal(outcomeStatus(first), 401);
    assert.equal(first?.retransmissions, 1);
    clock.advance(4999);
    layer.receive(answer(request, 401, 'Unauthorized'), FROM_REGISTRAR);
    layer.receive(answer(request, 100, 'Trying'), FROM_REGISTRAR);
    await flush();
    assert.equal(outcome.value, first);
    assert.deepEqual(provisional, []);
    assert.equal(layer.activeTransactions, 1);
    assert.equal(transport('UDP').sent.length, 2);
    clock.advance(1);
    assert.equal(layer.activeTransactions, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('does not keep the response alive while it waits for Timer K', async () => {
    const { layer, transport } = setup();
    // The outcome (and its response) is referenced only through a WeakRef once delivered.
    let response: WeakRef<object> | undefined;
    void layer.send(register(), UDP).then((o) => {
      if (o.kind === 'response') response = new WeakRef(o.response);
    });
    layer.receive(answer(transport('UDP').sent[0].data, 200, 'OK'), FROM_REGISTRAR);
    await flush();
    assert.ok(response, 'outcome delivered');
    assert.equal(layer.activeTransactions, 1, 'still in Timer K');
    await new Promise((r) => setImmediate(r));
    collectGarbage();
    assert.equal(response.deref(), undefined, 'the completed transaction still holds its response');
  });

  it('terminates a TCP transaction at once on its final response (Timer K = 0)', async () => {
    const { clock, layer, transport } = setup();
    const outcome = track(layer.send(register(), TCP));
    layer.receive(answer(transport('TCP').sent[0].data, 200, 'OK'), { ...FROM_REGISTRAR, transport: 'TCP' });
    await flush();
    assert.equal(outcome.value?.kind, 'response');
    assert.equal(layer.activeTransactions, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('ends at once with a transport error when the request cannot be sent (§17.1.4)', async () => {
    const { clock, layer, transport } = setup();
    transport('UDP').failFrom = 0;
    const outcome = track(layer.send(register(), UDP));
    await flush();
    assert.equal(outcome.value?.kind, 'transport-error');
    assert.equal(outcome.value?.kind === 'transport-error' && outcome.value.error.code, 'EHOSTUNREACH');
    assert.equal(outcome.value?.retransmissions, 0);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(layer.activeTransactions, 0);
  });

  it('ends with a transport error when a retransmission cannot be sent', async () => {
    const { clock, layer, transport } = setup();
    transport('UDP').failFrom = 2;
    const outcome = track(layer.send(register(), UDP));
    clock.advance(1500);
    await flush();
    assert.deepEqual(
      outcome.value && { kind: outcome.value.kind, retransmissions: outcome.value.retransmissions },
      { kind: 'transport-error', retransmissions: 2 },
    );
    clock.advance(40_000);
    assert.equal(transport('UDP').sent.length, 3);
  });

  it('fails the transactions sent on a stream connection at once when it is lost, and only those (§17.1.4)', async () => {
    const { clock, layer } = setup();
    const onLostConnection = track(layer.send(register(50), TCP));
    const otherPort = track(layer.send(register(51), { ...TCP, port: 5070 }));
    const overUdp = track(layer.send(register(52), UDP));
    await flush();
    clock.advance(1000);
    layer.connectionLost(TCP, new TransportError('TCP connection to 192.0.2.50:5060: read ECONNRESET', 'ECONNRESET'));
    await flush();
    const lost = onLostConnection.value;
    assert.equal(lost?.kind, 'transport-error');
    assert.equal(lost?.kind === 'transport-error' && lost.requestSent, true, 'the registrar may have the request');
    assert.equal(lost?.kind === 'transport-error' && lost.error.code, 'ECONNRESET');
    assert.equal(otherPort.value, undefined, 'another connection is not affected');
    assert.equal(overUdp.value, undefined, 'UDP is not affected');
    assert.equal(layer.activeTransactions, 2);
  });

  it('says whether the request went out when a send fails', async () => {
    const { layer, transport } = setup();
    transport('TCP').failFrom = 0;
    const outcome = await layer.send(register(), TCP);
    assert.equal(outcome.kind === 'transport-error' && outcome.requestSent, false);
  });

  it('reports a transport error for a transport it does not have', async () => {
    const { layer } = setup(['UDP']);
    const outcome = await layer.send(register(), TLS);
    assert.equal(outcome.kind, 'transport-error');
    assert.match(outcome.kind === 'transport-error' ? outcome.error.message : '', /no TLS transport/);
  });

  it('matches responses by top-Via branch and CSeq method only (§17.1.3); drops the rest', async () => {
    const { clock, layer, transport } = setup();
    const outcome = track(layer.send(register(), UDP));
    const request = transport('UDP').sent[0].data;
    layer.receive(answer(request, 200, 'OK', { branch: 'z9hG4bKsomeoneelse' }), FROM_REGISTRAR);
    layer.receive(answer(request, 200, 'OK', { method: 'OPTIONS' }), FROM_REGISTRAR);
    layer.receive(Buffer.from('\x00\xff garbage \r\n\r\n'), FROM_REGISTRAR);
    layer.receive(request, FROM_REGISTRAR);
    layer.receive(Buffer.alloc(100_000, 'a'), FROM_REGISTRAR);
    await flush();
    assert.equal(outcomeStatus(outcome.value), undefined);
    clock.advance(700);
    layer.receive(answer(request, 423, 'Interval Too Brief'), FROM_REGISTRAR);
    await flush();
    assert.equal(outcomeStatus(outcome.value), 423);
  });

  it('discards a response with more than one Via, in two rows or one comma list (§8.1.3.3); takes the one with ours only', async () => {
    const { layer, transport } = setup();
    const outcome = track(layer.send(register(), UDP));
    const request = transport('UDP').sent[0].data;
    const twoRows = answer(request, 200, 'OK', { headers: ['Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKproxy'] });
    const text = answer(request, 200, 'OK').toString();
    const commaList = Buffer.from(text.replace(/^(Via: [^\r]*)/m, '$1, SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKproxy'));
    assert.notEqual(commaList.toString(), text, 'the comma list was written');
    layer.receive(twoRows, FROM_REGISTRAR);
    layer.receive(commaList, FROM_REGISTRAR);
    await flush();
    assert.equal(outcomeStatus(outcome.value), undefined);
    layer.receive(answer(request, 401, 'Unauthorized'), FROM_REGISTRAR);
    await flush();
    assert.equal(outcomeStatus(outcome.value), 401);
  });

  it('never throws out of receive(): a header value with a bare LF gets no answer, and a failure while answering costs that message only', () => {
    const { layer, transport } = setup();
    const options = (via: string): Buffer => Buffer.from([
      'OPTIONS sip:alice@192.0.2.1 SIP/2.0', `Via: ${via}`, 'From: <sip:r@192.0.2.50>;tag=1', 'To: <sip:alice@192.0.2.1>',
      'Call-ID: q1', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    // Copied into our answer, the LF would inject a header row; building that answer threw before.
    assert.doesNotThrow(() => layer.receive(options('SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKq\nInjected: 1'), FROM_REGISTRAR));
    assert.equal(transport('UDP').sent.length, 0);
    transport('UDP').send = () => {
      throw new Error('a bug of ours');
    };
    assert.doesNotThrow(() => layer.receive(options('SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKq'), FROM_REGISTRAR));
  });

  it('keeps going when the provisional hook throws', async () => {
    const { layer, transport } = setup();
    const outcome = track(layer.send(register(), TCP, { onProvisional: () => { throw new Error('hook bug'); } }));
    const request = transport('TCP').sent[0].data;
    layer.receive(answer(request, 100, 'Trying'), FROM_REGISTRAR);
    layer.receive(answer(request, 200, 'OK'), FROM_REGISTRAR);
    await flush();
    assert.equal(outcome.value?.kind, 'response');
  });

  it('close() (even twice) refuses new requests, waits for outcomes in flight, drops Timer K and closes the transports', async () => {
    const { clock, layer, transport } = setup();
    const answered = track(layer.send(register(), UDP));
    const pending = track(layer.send(register(51), UDP));
    layer.receive(answer(transport('UDP').sent[0].data, 200, 'OK'), FROM_REGISTRAR);
    let closed = 0;
    void layer.close().then(() => closed++);
    void layer.close().then(() => closed++);
    const refused = await layer.send(register(52), UDP);
    assert.equal(refused.kind, 'transport-error');
    await flush();
    assert.equal(answered.value?.kind, 'response');
    assert.equal(closed, 0, 'a transaction is still in flight');
    clock.advance(32_000);
    await flush();
    assert.equal(pending.value?.kind, 'timeout');
    assert.equal(closed, 2, 'both close() calls resolve');
    assert.equal(clock.pendingTimers, 0);
    assert.equal(layer.activeTransactions, 0);
    assert.ok(transport('UDP').closed && transport('TCP').closed && transport('TLS').closed);
  });
});
