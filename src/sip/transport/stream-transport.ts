/**
 * SIP over TCP or TLS as a client (RFC 3261 §18.1.1): one connection per destination,
 * reused by every request to it (and for the responses, §18.2.2). A connection that
 * closed is forgotten, so the next request to that destination connects anew; if it
 * had come up, its loss is reported, since what was sent on it gets no response.
 */
import { isIP } from 'node:net';
import { StreamConnection, type ConnectionTimeouts } from './stream-connection';
import type { StreamConnector } from './stream-connectors';
import { TransportError, connectionKey, type ConnectionLossSink, type Destination, type MessageSink, type Transport } from './transport';

/** 10 s to connect; 120 s idle (Kamailio's tcp_connection_lifetime), well above Timer F (32 s). */
export const DEFAULT_CONNECTION_TIMEOUTS: ConnectionTimeouts = { connectMs: 10_000, idleMs: 120_000 };

export class StreamTransport implements Transport {
  readonly reliable = true;
  private readonly connections = new Map<string, StreamConnection>();
  private closed = false;

  constructor(
    private readonly connector: StreamConnector,
    private readonly sink: MessageSink,
    private readonly timeouts: ConnectionTimeouts = DEFAULT_CONNECTION_TIMEOUTS,
    private readonly onLoss: ConnectionLossSink = () => undefined,
  ) {}

  get protocol(): 'TCP' | 'TLS' {
    return this.connector.protocol;
  }

  /** Connections open or opening. */
  get connectionCount(): number {
    return this.connections.size;
  }

  send(destination: Destination, data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError(`${this.protocol} transport closed`));
    if (isIP(destination.host) === 0) {
      return Promise.reject(new TransportError(`${this.protocol} to ${destination.host}: not an IP address`));
    }
    return this.connectionTo(destination).write(data);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.connections.values()].map((c) => c.destroy()));
  }

  private connectionTo(destination: Destination): StreamConnection {
    // TLS connections are per server identity too: the same address may serve several domains.
    const key = connectionKey(destination);
    const existing = this.connections.get(key);
    if (existing) return existing;
    const connection: StreamConnection = new StreamConnection(this.connector, destination, this.sink, this.timeouts, (error, established) => {
      if (this.connections.get(key) === connection) this.connections.delete(key);
      // Reported after the connection is forgotten: a request sent from here on opens a new one.
      if (established && !this.closed) this.onLoss(destination, error);
    });
    this.connections.set(key, connection);
    return connection;
  }
}
