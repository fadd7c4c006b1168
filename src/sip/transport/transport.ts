/**
 * The transport layer's contract (RFC 3261 §18): send bytes to a destination, hand
 * received messages up. Framing (§18.3) is the transport's job; parsing is not.
 */

export type TransportProtocol = 'UDP' | 'TCP' | 'TLS';

export interface Destination {
  readonly transport: TransportProtocol;
  /** An IP address: name resolution (RFC 3263) happens before the transport. */
  readonly host: string;
  readonly port: number;
  /**
   * TLS only: the name the server certificate must match and the SNI to send, normally
   * the SIP domain (RFC 5922 §7.2). Without it the certificate must match the IP.
   */
  readonly tlsServerName?: string;
}

/** Where a received message came from. */
export interface Source {
  readonly transport: TransportProtocol;
  readonly host: string;
  readonly port: number;
}

/** Receives every message a transport reads: a datagram, or one framed message of a stream. */
export type MessageSink = (data: Buffer, source: Source) => void;

/**
 * Told when an established stream connection closes (reset, closed by the peer,
 * unframeable): every request written on it that still waits for its response will
 * never get one (RFC 3261 §18.1.1: responses come back on the same connection).
 */
export type ConnectionLossSink = (destination: Destination, error: TransportError) => void;

/** One key per connection: TLS connections are per server identity too. */
export function connectionKey(destination: Destination): string {
  return `${destination.transport} ${destination.host} ${destination.port} ${destination.tlsServerName ?? ''}`;
}

/** Nothing could be sent (§18.4 / §17.1.4 "transport failure"). */
export class TransportError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'TransportError';
  }

  static from(err: unknown, what: string): TransportError {
    if (err instanceof TransportError) return err;
    const e = err as NodeJS.ErrnoException;
    return new TransportError(`${what}: ${e?.message ?? String(err)}`, e?.code);
  }
}

export interface Transport {
  readonly protocol: TransportProtocol;
  /** Reliable transports get no retransmissions (§17.1.2.2). */
  readonly reliable: boolean;
  /** Resolves once the bytes are handed to the operating system; rejects with a TransportError. */
  send(destination: Destination, data: Buffer): Promise<void>;
  close(): Promise<void>;
}
