/**
 * A minimal hand-driven SIP endpoint for harness tests: sends raw requests over UDP,
 * TCP or TLS from a loopback socket and collects whatever comes back. It does no
 * retransmission and no transaction matching beyond Call-ID + CSeq, on purpose: tests
 * use it to poke peers (Kamailio, sipp scenarios) and see exactly what they answer.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { cseqNumber, parseSipMessage, SipMessage } from './sip-message';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface ProbeTarget {
  host: string;
  port: number;
}

export interface ReceivedSip {
  message: SipMessage;
  /** Wall-clock arrival, ms since epoch. */
  at: number;
  /** Byte length as received (UDP datagram or framed TCP message). */
  bytes: number;
}

export class SipProbe {
  readonly received: ReceivedSip[] = [];
  /** Datagrams or stream chunks that did not parse as SIP (kept raw). */
  readonly unparsable: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private streamBuffer = Buffer.alloc(0);

  private constructor(
    readonly transport: SipTransport,
    readonly target: ProbeTarget,
    readonly localHost: string,
    readonly localPort: number,
    private readonly sendBytes: (data: Buffer) => void,
    private readonly closeSocket: () => void,
  ) {}

  /** Open a socket towards `target` (connects for TCP/TLS; TLS does not verify the peer). */
  static async open(transport: SipTransport, target: ProbeTarget, timeoutMs = 5000): Promise<SipProbe> {
    if (transport === 'udp') return SipProbe.openUdp(target);
    return SipProbe.openStream(transport, target, timeoutMs);
  }

  private static async openUdp(target: ProbeTarget): Promise<SipProbe> {
    const v6 = net.isIPv6(target.host);
    const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, address: v6 ? '::1' : '127.0.0.1' }, () => resolve());
    });
    const address = socket.address();
    const probe = new SipProbe('udp', target, address.address, address.port,
      (data) => socket.send(data, target.port, target.host),
      () => socket.close());
    socket.on('message', (data) => probe.onDatagram(data));
    return probe;
  }

  private static async openStream(transport: 'tcp' | 'tls', target: ProbeTarget, timeoutMs: number): Promise<SipProbe> {
    const socket = await connectStream(transport, target, timeoutMs);
    socket.on('error', () => undefined); // a peer resetting the connection is something tests look at, not a crash
    const probe = new SipProbe(transport, target, socket.localAddress ?? '127.0.0.1', socket.localPort ?? 0,
      (data) => socket.write(data),
      () => socket.destroy());
    socket.on('data', (chunk: Buffer) => probe.onStreamData(chunk));
    return probe;
  }

  /** Host:port for Via and Contact (IPv6 in brackets). */
  get localHostPort(): string {
    return `${net.isIPv6(this.localHost) ? `[${this.localHost}]` : this.localHost}:${this.localPort}`;
  }

  send(raw: string | Buffer): void {
    this.sendBytes(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
  }

  /** Waits for a message matching `predicate` among those received so far and later. */
  async waitFor(predicate: (message: SipMessage) => boolean, timeoutMs: number): Promise<SipMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find((r) => predicate(r.message));
      if (hit) return hit.message;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SIP message within ${timeoutMs} ms (got ${this.received.length})`);
      await this.nextArrival(left);
    }
  }

  /** Final (>= 200) response to the request with this Call-ID and CSeq number. */
  finalResponse(callId: string, cseq: number, timeoutMs: number): Promise<SipMessage> {
    return this.waitFor((m) => !m.isRequest && (m.status ?? 0) >= 200
      && m.header('Call-ID') === callId && cseqNumber(m) === cseq, timeoutMs);
  }

  /** Resolves true when nothing at all arrives for `ms` after the messages already seen. */
  async staysSilent(ms: number): Promise<boolean> {
    const before = this.received.length + this.unparsable.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.received.length + this.unparsable.length === before;
  }

  close(): void {
    try {
      this.closeSocket();
    } catch {
      // already closed
    }
    this.wake();
  }

  private nextArrival(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private onDatagram(data: Buffer): void {
    this.record(data);
    this.wake();
  }

  /** TCP/TLS framing: headers up to the blank line, then Content-Length bytes of body. */
  private onStreamData(chunk: Buffer): void {
    this.streamBuffer = Buffer.concat([this.streamBuffer, chunk]);
    for (;;) {
      const headerEnd = this.streamBuffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) break;
      const head = this.streamBuffer.subarray(0, headerEnd).toString('latin1');
      const length = Number(/^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(head)?.[1] ?? 0);
      const total = headerEnd + 4 + length;
      if (this.streamBuffer.length < total) break;
      this.record(this.streamBuffer.subarray(0, total));
      this.streamBuffer = this.streamBuffer.subarray(total);
    }
    this.wake();
  }

  private record(data: Buffer): void {
    const text = data.toString('utf8');
    const message = parseSipMessage(text);
    if (message.isRequest || message.status !== undefined) {
      this.received.push({ message, at: Date.now(), bytes: data.length });
    } else {
      this.unparsable.push(Buffer.from(data));
    }
  }
}

function connectStream(transport: 'tcp' | 'tls', target: ProbeTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const options = { host: target.host, port: target.port };
    const socket = transport === 'tls'
      ? tls.connect({ ...options, rejectUnauthorized: false })
      : net.connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${transport} connect to ${target.host}:${target.port} timed out`));
    }, timeoutMs);
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// ---------------------------------------------------------------------------------
// REGISTER building and digest authentication
// ---------------------------------------------------------------------------------

export interface RegisterRequest {
  user: string;
  /** Request-URI host[:port] and To/From domain. */
  domain: string;
  /** Expires header value (default 3600); null leaves the header out. */
  expires?: number | null;
  /** Contact URI; default sip:<user>@<probe local address>;transport=<t>. */
  contact?: string;
  callId: string;
  fromTag: string;
  cseq: number;
  authorization?: string;
  extraHeaders?: string[];
}

export function randomToken(bytes = 8): string {
  return crypto.randomBytes(bytes).toString('hex');
}

/** Default Contact for a probe: its own address with the transport spelled out. */
export function probeContact(probe: SipProbe, user: string): string {
  return `sip:${user}@${probe.localHostPort};transport=${probe.transport}`;
}

export function buildRegister(probe: SipProbe, req: RegisterRequest): string {
  const contact = req.contact ?? probeContact(probe, req.user);
  const lines = [
    `REGISTER sip:${req.domain} SIP/2.0`,
    `Via: SIP/2.0/${probe.transport.toUpperCase()} ${probe.localHostPort};branch=z9hG4bK${randomToken()};rport`,
    'Max-Forwards: 70',
    `From: <sip:${req.user}@${req.domain}>;tag=${req.fromTag}`,
    `To: <sip:${req.user}@${req.domain}>`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.cseq} REGISTER`,
    `Contact: <${contact}>`,
    ...(req.expires === null ? [] : [`Expires: ${req.expires ?? 3600}`]),
    'User-Agent: harness-sip-probe',
    ...(req.authorization ? [`Authorization: ${req.authorization}`] : []),
    ...(req.extraHeaders ?? []),
    'Content-Length: 0',
  ];
  return lines.join('\r\n') + '\r\n\r\n';
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  qop?: string;
  algorithm?: string;
  stale?: string;
}

/** Parses a WWW-Authenticate / Proxy-Authenticate value: `Digest realm="x", nonce="y", ...`. */
export function parseDigestChallenge(value: string): DigestChallenge {
  const params: Record<string, string> = {};
  const body = value.replace(/^\s*Digest\s+/i, '');
  for (const match of body.matchAll(/([a-zA-Z-]+)\s*=\s*("([^"]*)"|[^\s,]+)/g)) {
    params[match[1].toLowerCase()] = match[3] ?? match[2];
  }
  if (params.realm === undefined || params.nonce === undefined) throw new Error(`not a digest challenge: ${value}`);
  return {
    realm: params.realm, nonce: params.nonce, opaque: params.opaque, qop: params.qop,
    algorithm: params.algorithm, stale: params.stale,
  };
}

export interface DigestCredentials {
  user: string;
  password: string;
  method: string;
  uri: string;
  nc?: number;
  cnonce?: string;
}

/** The Authorization header value answering `challenge` (RFC 2617 / RFC 7616, qop=auth or none). */
export function digestAuthorization(challenge: DigestChallenge, cred: DigestCredentials): string {
  const algorithm = challenge.algorithm ?? 'MD5';
  const hash = (text: string) => crypto.createHash(hashName(algorithm)).update(text).digest('hex');
  const cnonce = cred.cnonce ?? randomToken();
  const nc = (cred.nc ?? 1).toString(16).padStart(8, '0');
  let ha1 = hash(`${cred.user}:${challenge.realm}:${cred.password}`);
  if (/-sess$/i.test(algorithm)) ha1 = hash(`${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = hash(`${cred.method}:${cred.uri}`);
  const useQop = challenge.qop?.split(',').map((q) => q.trim()).includes('auth');
  const response = useQop
    ? hash(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`)
    : hash(`${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username="${cred.user}"`, `realm="${challenge.realm}"`, `nonce="${challenge.nonce}"`,
    `uri="${cred.uri}"`, `response="${response}"`,
    ...(challenge.algorithm ? [`algorithm=${challenge.algorithm}`] : []),
    ...(challenge.opaque !== undefined ? [`opaque="${challenge.opaque}"`] : []),
    ...(useQop ? ['qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}

function hashName(algorithm: string): string {
  const base = algorithm.replace(/-sess$/i, '').toUpperCase();
  if (base === 'MD5') return 'md5';
  if (base === 'SHA-256') return 'sha256';
  if (base === 'SHA-512-256') return 'sha512-256';
  throw new Error(`unsupported digest algorithm ${algorithm}`);
}

export interface RegisterFlowOptions {
  user: string;
  password?: string;
  domain: string;
  /** Expires header value (default 3600); null leaves the header out. */
  expires?: number | null;
  contact?: string;
  timeoutMs?: number;
  /** Password used for the credentials (default `password`): lets a test answer wrongly. */
  answerWith?: string;
}

export interface RegisterFlowResult {
  /** Reply to the request without credentials. */
  first: SipMessage;
  /** Reply to the re-sent request with credentials, when a challenge came. */
  second?: SipMessage;
  /** The last final reply. */
  final: SipMessage;
  callId: string;
}

/** REGISTER, and when challenged (401) once more with digest credentials. */
export async function registerWithDigest(probe: SipProbe, opts: RegisterFlowOptions): Promise<RegisterFlowResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const base = {
    user: opts.user, domain: opts.domain, expires: opts.expires, contact: opts.contact,
    callId: `${randomToken()}@harness`, fromTag: randomToken(4),
  };
  probe.send(buildRegister(probe, { ...base, cseq: 1 }));
  const first = await probe.finalResponse(base.callId, 1, timeoutMs);
  const password = opts.answerWith ?? opts.password;
  if (first.status !== 401 || password === undefined) return { first, final: first, callId: base.callId };
  const challenge = parseDigestChallenge(first.header('WWW-Authenticate') ?? '');
  const authorization = digestAuthorization(challenge, {
    user: opts.user, password, method: 'REGISTER', uri: `sip:${opts.domain}`,
  });
  probe.send(buildRegister(probe, { ...base, cseq: 2, authorization }));
  const second = await probe.finalResponse(base.callId, 2, timeoutMs);
  return { first, second, final: second, callId: base.callId };
}
