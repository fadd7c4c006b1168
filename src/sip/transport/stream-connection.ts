/**
 * One TCP or TLS connection to one destination (RFC 3261 §18.1.1): requests written
 * before it is up wait for it, received bytes are framed into messages (§18.3), and
 * it closes itself when it cannot be framed, fails to come up in time, or idles.
 */
import type { Socket } from 'node:net';
import { logger } from '../../process/log';
import { formatHostPort } from '../message/via';
import { StreamFramer } from './stream-framer';
import type { StreamConnector } from './stream-connectors';
import { TransportError, type Destination, type MessageSink, type Source } from './transport';

const log = logger('sip-stream');

export interface ConnectionTimeouts {
  /** Until the connection (and TLS handshake) is up; beyond it the request fails as unsendable. */
  readonly connectMs: number;
  /** Without traffic in either direction; must exceed Timer F so a pending transaction keeps its connection. */
  readonly idleMs: number;
}

interface QueuedWrite {
  readonly data: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: TransportError) => void;
}

export class StreamConnection {
  private readonly socket: Socket;
  private readonly framer = new StreamFramer();
  private readonly source: Source;
  private readonly name: string;
  private queued: QueuedWrite[] | undefined = [];
  private lastError: Error | undefined;
  private closed = false;

  constructor(
    connector: StreamConnector,
    destination: Destination,
    private readonly sink: MessageSink,
    private readonly timeouts: ConnectionTimeouts,
    /** `established`: it came up, so requests were written on it (not only queued). */
    onClose: (error: TransportError, established: boolean) => void,
  ) {
    this.source = { transport: connector.protocol, host: destination.host, port: destination.port };
    this.name = `${connector.protocol} connection to ${formatHostPort(destination.host, destination.port)}`;
    this.socket = connector.connect(destination, () => this.onReady());
    this.socket.setTimeout(timeouts.connectMs);
    this.socket.on('timeout', () => {
      this.lastError = new Error(this.queued ? 'connect timeout' : 'idle');
      this.socket.destroy();
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      this.lastError = err;
    });
    this.socket.on('close', () => {
      this.closed = true;
      log.debug(`${this.name} closed${this.lastError ? `: ${this.lastError.message}` : ''}`);
      const error = TransportError.from(this.lastError ?? new Error('closed'), this.name);
      const established = this.queued === undefined;
      for (const q of this.queued ?? []) q.reject(error);
      this.queued = undefined;
      onClose(error, established);
    });
  }

  write(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError(`${this.name}: closed`));
    const queued = this.queued;
    if (queued) return new Promise((resolve, reject) => queued.push({ data, resolve, reject }));
    return this.writeNow(data);
  }

  /** Closes at once; resolves when closed. */
  destroy(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  private onReady(): void {
    this.socket.setNoDelay(true);
    this.socket.setTimeout(this.timeouts.idleMs);
    const queued = this.queued ?? [];
    this.queued = undefined;
    for (const q of queued) this.writeNow(q.data).then(q.resolve, q.reject);
  }

  private writeNow(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(TransportError.from(err, this.name)) : resolve()));
    });
  }

  private onData(chunk: Buffer): void {
    const { messages, error } = this.framer.push(chunk);
    for (const message of messages) this.sink(message, this.source);
    if (error !== undefined) {
      log.debug(`${this.name}: dropping the connection, stream cannot be framed: ${error}`);
      this.lastError = new Error(error);
      this.socket.destroy();
    }
  }
}
