/**
 * SIP over UDP (RFC 3261 §18): one socket bound to the interface's SIP address and
 * port, which sends every request and receives every response (responses come back to
 * the source port thanks to rport, RFC 3581). One datagram is one message (§18.3).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { logger } from '../../process/log';
import { TransportError, type Destination, type MessageSink, type Transport } from './transport';

const log = logger('sip-udp');

/**
 * SO_RCVBUF asked for. Replies to a burst of REGISTERs arrive together; the usual
 * default (208 kB, about 90 datagrams on loopback) overflowed at ~1500 registrations/s
 * and every lost reply cost a 0.5 s retransmission. Linux caps the value at
 * net.core.rmem_max.
 */
export const UDP_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

export interface BindAddress {
  readonly ip: string;
  readonly port: number;
}

interface QueuedDatagram {
  readonly data: Buffer;
  readonly port: number;
  readonly host: string;
  readonly resolve: () => void;
  readonly reject: (err: TransportError) => void;
}

export class UdpTransport implements Transport {
  readonly protocol = 'UDP';
  readonly reliable = false;
  /**
   * Datagrams asked for during this event-loop turn, sent together right after it.
   * A mass start answers each reply with the next request; sent one by one, each
   * datagram woke an idle registrar worker, and on a virtual machine that wake-up is
   * charged to the sender's sendto(): 21 µs per datagram against 10 µs in bursts
   * (CPU per registration of `make bench-sip`: 142 → 118 µs).
   */
  private queue: QueuedDatagram[] = [];

  private constructor(
    private readonly socket: Socket,
    /** An IPv6 socket on '::' also reaches IPv4 peers, as IPv4-mapped addresses. */
    private readonly dualStack: boolean,
  ) {}

  /** Binds the socket; rejects when the address cannot be bound. */
  static async open(bind: BindAddress, sink: MessageSink): Promise<UdpTransport> {
    const ipv6 = isIPv6(bind.ip);
    const socket = createSocket({ type: ipv6 ? 'udp6' : 'udp4', lookup: literalLookup });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(bind.port, bind.ip, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    setReceiveBuffer(socket, UDP_RECEIVE_BUFFER_BYTES);
    // After binding, socket errors concern single datagrams: log them, never crash.
    socket.on('error', (err) => log.warn(`UDP socket ${bind.ip}:${bind.port}: ${err.message}`));
    socket.on('message', (data, rinfo) => {
      sink(data, { transport: 'UDP', host: unmapIPv4(rinfo.address), port: rinfo.port });
    });
    return new UdpTransport(socket, ipv6 && bind.ip === '::');
  }

  /** The bound port (the configured one, or the one the system chose for port 0). */
  get localPort(): number {
    return this.socket.address().port;
  }

  send(destination: Destination, data: Buffer): Promise<void> {
    if (isIP(destination.host) === 0) {
      return Promise.reject(new TransportError(`${where(destination.host, destination.port)}: not an IP address`));
    }
    const host = this.dualStack && isIPv4(destination.host) ? `::ffff:${destination.host}` : destination.host;
    return new Promise((resolve, reject) => {
      this.queue.push({ data, port: destination.port, host, resolve, reject });
      if (this.queue.length === 1) setImmediate(this.flush);
    });
  }

  /** Sends what the last event-loop turn queued. */
  private readonly flush = (): void => {
    const batch = this.queue;
    this.queue = [];
    for (const d of batch) {
      try {
        this.socket.send(d.data, d.port, d.host, (err) => (err ? failed(d, err) : d.resolve()));
      } catch (err) {
        failed(d, err);
      }
    }
  };

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * dgram looks up the address of every datagram before sending it; the default goes
 * through dns.lookup and a process.nextTick each time. Every address given to this
 * socket is an IP literal already (the configuration resolves sip_ip, send() refuses
 * anything else), so the lookup answers at once with the family dgram asks for.
 */
function literalLookup(address: string, family: unknown, callback: (err: null, address: string, family: number) => void): void {
  callback(null, address, family === 6 ? 6 : 4);
}

function setReceiveBuffer(socket: Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
  } catch (err) {
    log.warn(`UDP receive buffer of ${bytes} bytes refused: ${(err as Error).message}`);
  }
}

function where(host: string, port: number): string {
  return `UDP to ${unmapIPv4(host)}:${port}`;
}

function failed(d: QueuedDatagram, err: unknown): void {
  d.reject(TransportError.from(err, where(d.host, d.port)));
}

function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
