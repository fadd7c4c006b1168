/**
 * The SIP transports and the transaction layer against real registrars on loopback:
 * UDP, TCP and TLS servers written here with node:dgram/net/tls, answering with the
 * independent test parser (test/support/sip-message.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { buildRegisterRequest } from '../../src/sip/message/register';
import { serializeSipMessage } from '../../src/sip/message/serialize';
import { openTransactionLayer, type TransactionLayer, type TransactionLayerSetup } from '../../src/sip/transaction-layer';
import { tcpConnector } from '../../src/sip/transport/stream-connectors';
import { StreamTransport } from '../../src/sip/transport/stream-transport';
import type { Destination, TransportProtocol } from '../../src/sip/transport/transport';
import { headerParam, parseSipMessage as readTestMessage, type SipMessage as TestMessage } from '../support/sip-message';
import { answerRequest, outcomeStatus } from '../support/sip-responses';

/** Short timers for the tests that wait for Timer F: 64 × 10 ms = 640 ms. */
const FAST_TIMERS = { t1: 10, t2: 40, t4: 50 };

type Responder = (request: TestMessage, peer: { authorized: boolean }) => Array<string | Buffer>;

const answer200: Responder = (request) => [
  answerRequest(request, 200, 'OK', { headers: ['Contact: <sip:alice@127.0.0.1:5060>;expires=60'] }),
];

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  for (const start = Date.now(); !condition(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
  }
}

class UdpRegistrar {
  readonly received: { message: TestMessage; port: number }[] = [];

  private constructor(private readonly socket: dgram.Socket, respond: Responder) {
    socket.on('message', (data, rinfo) => {
      const message = readTestMessage(data.toString());
      this.received.push({ message, port: rinfo.port });
      for (const reply of respond(message, { authorized: false })) socket.send(reply, rinfo.port, rinfo.address);
    });
  }

  static async start(host: string, respond: Responder): Promise<UdpRegistrar> {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new UdpRegistrar(socket, respond);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

class StreamRegistrar {
  readonly received: TestMessage[] = [];
  accepted = 0;
  private readonly sockets = new Set<net.Socket>();

  private readonly server: net.Server;

  /** `tlsOptions` makes it a TLS server; `closeAfterReply` ends each connection after answering. */
  private constructor(respond: Responder, options: { tlsOptions?: tls.TlsOptions; closeAfterReply?: boolean }) {
    const onConnection = (socket: net.Socket): void => this.serve(socket, respond, options.closeAfterReply ?? false);
    this.server = options.tlsOptions ? tls.createServer(options.tlsOptions, onConnection) : net.createServer(onConnection);
    this.server.on('tlsClientError', () => undefined);
  }

  static async start(host: string, respond: Responder, options: { tlsOptions?: tls.TlsOptions; closeAfterReply?: boolean } = {}) {
    const registrar = new StreamRegistrar(respond, options);
    await new Promise<void>((resolve) => registrar.server.listen(0, host, resolve));
    return registrar;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private serve(socket: net.Socket, respond: Responder, closeAfterReply: boolean): void {
    this.accepted++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const authorized = socket instanceof tls.TLSSocket && socket.authorized;
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString();
      // Our REGISTERs carry no body, so a request ends at the empty line.
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const message = readTestMessage(pending.slice(0, end + 4));
        pending = pending.slice(end + 4);
        this.received.push(message);
        for (const reply of respond(message, { authorized })) socket.write(reply);
        if (closeAfterReply) socket.end();
      }
    });
  }
}

/** Throwaway self-signed certificates made with openssl: the server's names 127.0.0.1, ::1 and registrar.test. */
function makeCertificates(dir: string) {
  const make = (name: string, subjectAltName: string) => {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${subjectAltName}`,
    ], { stdio: 'ignore', timeout: 10_000 });
    return { cert, key };
  };
  return {
    server: make('registrar.test', 'IP:127.0.0.1,IP:::1,DNS:registrar.test'),
    client: make('agent.test', 'DNS:agent.test'),
  };
}

function register(cseq = 50) {
  return buildRegisterRequest({
    requestUri: 'sip:registrar.test', aor: 'sip:alice@registrar.test', fromTag: 'f1', callId: `c${cseq}`,
    cseq, contact: 'sip:alice@127.0.0.1:5060', expires: 60,
  });
}

function to(transport: TransportProtocol, port: number, host = '127.0.0.1', tlsServerName?: string): Destination {
  return { transport, host, port, tlsServerName };
}

describe('SIP transports on loopback (RFC 3261 §18)', function () {
  const cleanups: Array<() => Promise<void>> = [];

  async function openLayer(setup: TransactionLayerSetup = {}, ip = '127.0.0.1', advertisedIp = ip): Promise<TransactionLayer> {
    const layer = await openTransactionLayer({ name: 'test', ip, port: 0, advertisedIp, portKey: 'sip_port_test' }, setup);
    cleanups.push(() => layer.close());
    return layer;
  }

  async function started<T extends { close(): Promise<void> }>(peer: Promise<T>): Promise<T> {
    const p = await peer;
    cleanups.push(() => p.close());
    return p;
  }

  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((close) => close()));
  });

  describe('UDP', () => {
    it('sends a REGISTER from the SIP socket with our Via and matches the 200 by branch', async () => {
      const registrar = await started(UdpRegistrar.start('127.0.0.1', answer200));
      const layer = await openLayer();
      const outcome = await layer.send(register(), to('UDP', registrar.port));
      assert.equal(outcomeStatus(outcome), 200);
      assert.equal(outcome.kind === 'response' && outcome.response.headers.get('contact'), '<sip:alice@127.0.0.1:5060>;expires=60');
      const [{ message, port }] = registrar.received;
      assert.match(message.header('Via') ?? '', new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${port};branch=z9hG4bK[\\w-]+;rport$`));
    });

    it('ignores a reply with another branch, garbage and a 60 kB datagram, and takes the right reply', async () => {
      const registrar = await started(UdpRegistrar.start('127.0.0.1', (request) => [
        answerRequest(request, 200, 'OK', { branch: 'z9hG4bKnotours' }),
        Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a]),
        `SIP/2.0 200 OK\r\nX-Junk: ${'j'.repeat(60_000)}\r\n\r\n`,
        answerRequest(request, 401, 'Unauthorized', { headers: ['WWW-Authenticate: Digest realm="registrar.test", nonce="n"'] }),
      ]));
      const layer = await openLayer();
      const outcome = await layer.send(register(), to('UDP', registrar.port));
      assert.equal(outcomeStatus(outcome), 401);
    });

    it('retransmits an unanswered request until Timer F and reports a timeout', async () => {
      const registrar = await started(UdpRegistrar.start('127.0.0.1', () => []));
      const layer = await openLayer({ timers: FAST_TIMERS });
      const outcome = await layer.send(register(), to('UDP', registrar.port));
      assert.equal(outcome.kind, 'timeout');
      assert.ok(outcome.retransmissions >= 10, `${outcome.retransmissions} retransmissions`);
      await waitFor(() => registrar.received.length === outcome.retransmissions + 1, 'every copy to arrive');
      const branches = new Set(registrar.received.map((r) => headerParam(r.message.header('Via'), 'branch')));
      assert.equal(branches.size, 1, 'retransmissions keep the branch');
    });

    it('reports what cannot be sent as a transport error', async () => {
      const layer = await openLayer();
      const wrongFamily = await layer.send(register(), to('UDP', 5060, '::1'));
      assert.equal(wrongFamily.kind, 'transport-error');
      const notAnAddress = await layer.send(register(), to('UDP', 5060, 'registrar.test'));
      assert.match(notAnAddress.kind === 'transport-error' ? notAnAddress.error.message : '', /not an IP address/);
    });
  });

  describe('TCP', () => {
    it('reuses one connection for all requests to a destination', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', answer200));
      const layer = await openLayer();
      const first = await Promise.all([layer.send(register(50), to('TCP', registrar.port)), layer.send(register(51), to('TCP', registrar.port))]);
      const third = await layer.send(register(52), to('TCP', registrar.port));
      assert.deepEqual([...first, third].map(outcomeStatus), [200, 200, 200]);
      assert.equal(registrar.accepted, 1);
      assert.match(registrar.received[0].header('Via') ?? '', /^SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK[\w-]+;rport$/);
    });

    it('connects anew on the next send after the server closed the connection', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', answer200, { closeAfterReply: true }));
      const replies: Buffer[] = [];
      const transport = new StreamTransport(tcpConnector(undefined), (data) => replies.push(data));
      cleanups.push(() => transport.close());
      await transport.send(to('TCP', registrar.port), serializeSipMessage(register(50), 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1'));
      await waitFor(() => transport.connectionCount === 0, 'the client to see the close');
      await transport.send(to('TCP', registrar.port), serializeSipMessage(register(51), 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK2'));
      await waitFor(() => replies.length === 2, 'both replies');
      assert.equal(registrar.accepted, 2);
    });

    it('closes a connection that stays idle', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', answer200));
      const transport = new StreamTransport(tcpConnector('127.0.0.1'), () => undefined, { connectMs: 1000, idleMs: 150 });
      cleanups.push(() => transport.close());
      await transport.send(to('TCP', registrar.port), serializeSipMessage(register(), 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1'));
      assert.equal(transport.connectionCount, 1);
      await waitFor(() => transport.connectionCount === 0 && registrar.openConnections === 0, 'the idle close');
    });

    it('frames responses split across segments and several in one segment', async () => {
      const a = answerRequest(readTestMessage(serializeSipMessage(register(50), 'SIP/2.0/TCP h;branch=z9hG4bKa').toString()), 200, 'OK');
      const b = answerRequest(readTestMessage(serializeSipMessage(register(51), 'SIP/2.0/TCP h;branch=z9hG4bKb').toString()), 401, 'Unauthorized');
      const server = net.createServer((socket) => {
        socket.resume();
        socket.write(a.slice(0, 25));
        setTimeout(() => socket.write(`${a.slice(25)}${b}`), 30);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
      const received: string[] = [];
      const transport = new StreamTransport(tcpConnector(undefined), (data) => received.push(data.toString()));
      cleanups.push(() => transport.close());
      await transport.send(to('TCP', (server.address() as net.AddressInfo).port), Buffer.from('\r\n\r\n'));
      await waitFor(() => received.length === 2, 'two messages');
      assert.deepEqual(received, [a, b]);
    });

    it('drops a connection that sends a 100 kB header, which ends that transaction at once (no retransmission), and recovers on the next request', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', (request) => (
        request.header('CSeq')?.startsWith('50 ')
          ? [answerRequest(request, 200, 'OK', { headers: [`X-Huge: ${'h'.repeat(100_000)}`] })]
          : answer200(request, { authorized: false })
      )));
      const layer = await openLayer({ timers: FAST_TIMERS });
      const huge = await layer.send(register(50), to('TCP', registrar.port));
      assert.equal(huge.kind, 'transport-error');
      assert.equal(huge.retransmissions, 0);
      assert.equal(huge.kind === 'transport-error' && huge.requestSent, true);
      assert.match(huge.kind === 'transport-error' ? huge.error.message : '', /exceeds the 65536-byte limit/);
      assert.equal(registrar.received.length, 1);
      await waitFor(() => registrar.openConnections === 0, 'the client to drop the connection');
      assert.equal(outcomeStatus(await layer.send(register(51), to('TCP', registrar.port))), 200);
      assert.equal(registrar.accepted, 2);
    });

    it('reports a refused connection as a transport error', async () => {
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const layer = await openLayer();
      const outcome = await layer.send(register(), to('TCP', port));
      assert.equal(outcome.kind === 'transport-error' && outcome.error.code, 'ECONNREFUSED');
    });
  });

  describe('TLS', () => {
    let certDir: string;
    let certs: ReturnType<typeof makeCertificates>;
    let tlsOptions: tls.TlsOptions;

    before(() => {
      certDir = mkdtempSync(join(tmpdir(), 'sip-tls-'));
      certs = makeCertificates(certDir);
      tlsOptions = { cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) };
    });

    after(() => rmSync(certDir, { recursive: true, force: true }));

    it('verifies certificates by default and refuses a self-signed one', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', answer200, { tlsOptions }));
      const layer = await openLayer();
      const outcome = await layer.send(register(), to('TLS', registrar.port));
      assert.equal(outcome.kind, 'transport-error');
      assert.match(outcome.kind === 'transport-error' ? outcome.error.message : '', /self-signed certificate/);
      assert.equal(registrar.received.length, 0);
    });

    it('accepts it with verification off', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', answer200, { tlsOptions }));
      const layer = await openLayer({ tls: { verifyCert: false } });
      assert.equal(outcomeStatus(await layer.send(register(), to('TLS', registrar.port))), 200);
      assert.match(registrar.received[0].header('Via') ?? '', /^SIP\/2\.0\/TLS /);
    });

    it('accepts it with the right CA, checking the SIP domain name when given (RFC 5922)', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', answer200, { tlsOptions }));
      const layer = await openLayer({ tls: { verifyCert: true, caFile: certs.server.cert } });
      assert.equal(outcomeStatus(await layer.send(register(50), to('TLS', registrar.port))), 200);
      assert.equal(outcomeStatus(await layer.send(register(51), to('TLS', registrar.port, '127.0.0.1', 'registrar.test'))), 200);
      const wrongName = await layer.send(register(52), to('TLS', registrar.port, '127.0.0.1', 'other.test'));
      assert.match(wrongName.kind === 'transport-error' ? wrongName.error.message : '', /does not match|altnames/i);
    });

    it('presents the client certificate when configured', async () => {
      const registrar = await started(StreamRegistrar.start('127.0.0.1', (request, peer) => (
        peer.authorized ? answer200(request, peer) : [answerRequest(request, 403, 'Forbidden')]
      ), { tlsOptions: { ...tlsOptions, requestCert: true, rejectUnauthorized: false, ca: readFileSync(certs.client.cert) } }));
      const withCert = await openLayer({ tls: { verifyCert: false, certFile: certs.client.cert, keyFile: certs.client.key } });
      const without = await openLayer({ tls: { verifyCert: false } });
      assert.equal(outcomeStatus(await withCert.send(register(), to('TLS', registrar.port))), 200);
      assert.equal(outcomeStatus(await without.send(register(), to('TLS', registrar.port))), 403);
    });
  });

  describe('connect timeout', () => {
    it('fails a request as unsendable when the TLS handshake never completes', async () => {
      const silent = net.createServer((socket) => socket.resume());
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const sockets = new Set<net.Socket>();
      silent.on('connection', (socket) => sockets.add(socket));
      cleanups.push(() => new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        silent.close(() => resolve());
      }));
      const layer = await openLayer({ tls: { verifyCert: false }, connectionTimeouts: { connectMs: 200, idleMs: 1000 } });
      const outcome = await layer.send(register(), to('TLS', (silent.address() as net.AddressInfo).port));
      assert.equal(outcome.kind, 'transport-error');
      assert.match(outcome.kind === 'transport-error' ? outcome.error.message : '', /connect timeout/);
    });
  });

  describe('IPv6', () => {
    it('registers over UDP on ::1 with a bracketed Via sent-by', async () => {
      const registrar = await started(UdpRegistrar.start('::1', answer200));
      const layer = await openLayer({}, '::1');
      assert.equal(outcomeStatus(await layer.send(register(), to('UDP', registrar.port, '::1'))), 200);
      assert.match(registrar.received[0].message.header('Via') ?? '', /^SIP\/2\.0\/UDP \[::1\]:\d+;branch=/);
    });

    it('registers over TCP on ::1', async () => {
      const registrar = await started(StreamRegistrar.start('::1', answer200));
      const layer = await openLayer({}, '::1');
      assert.equal(outcomeStatus(await layer.send(register(), to('TCP', registrar.port, '::1'))), 200);
    });

    it('reaches IPv4 peers from a dual-stack socket on ::', async () => {
      const registrar = await started(UdpRegistrar.start('127.0.0.1', answer200));
      const layer = await openLayer({}, '::', '127.0.0.1');
      assert.equal(outcomeStatus(await layer.send(register(), to('UDP', registrar.port))), 200);
    });
  });
});
