/**
 * The JSON-RPC server (SEMS jsonrpc module): JSON-RPC 2.0 over TCP, one netstring per
 * message, any number of messages per connection. Messages of one connection are
 * handled one after the other and answered in order (pipelining is safe).
 *
 * Framing errors close the connection after an error reply and after the answers to
 * the messages received before the bad byte. Idle clients are disconnected after
 * server_timeout, as are clients that take longer than that to complete a frame.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { JsonRpcConfig } from '../config/rpc-config';
import type { DiRegistry } from '../core/di';
import { logger } from '../process/log';
import { ClientFilter, refuseDisallowedClients } from './client-filter';
import { jsonRpcErrors } from './faults';
import { JsonRpcDispatcher, errorReply } from './jsonrpc-dispatcher';
import { listen } from './listener';
import { NetstringDecoder, encodeNetstring, type NetstringError } from './netstring';

const log = logger('jsonrpc');

/** Received but unanswered messages per connection before the server stops reading. */
const MAX_QUEUED_MESSAGES = 32;

/** One client connection: decoding, ordered execution, replies, deadlines. */
class JsonRpcConnection {
  private readonly decoder: NetstringDecoder;
  private readonly queue: Buffer[] = [];
  private protocolError: NetstringError | undefined;
  private working = false;
  private closing = false;
  private frameTimer: NodeJS.Timeout | undefined;
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly dispatcher: JsonRpcDispatcher,
    private readonly config: JsonRpcConfig,
  ) {
    this.decoder = new NetstringDecoder(config.maxBodyBytes);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => clearTimeout(this.frameTimer));
    socket.on('error', (err) => log.debug(`connection from ${socket.remoteAddress}: ${err.message}`));
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.finish());
    socket.setTimeout(config.serverTimeoutMs, () => {
      if (this.working) return; // a long DI call is not the client's idleness
      log.debug(`closing idle connection from ${socket.remoteAddress}`);
      socket.destroy();
    });
  }

  /** Stop reading; answer what has been received, then close. */
  finish(): void {
    this.closing = true;
    this.socket.pause();
    if (!this.working) this.close();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    // Once closing, input is read and dropped so that closing does not reset the connection.
    if (this.closing) return;
    const { frames, error } = this.decoder.push(chunk);
    this.queue.push(...frames);
    if (error) {
      log.info(`protocol error on connection from ${this.socket.remoteAddress}: ${error.message}`);
      this.protocolError = error;
      this.socket.pause();
      this.closing = true;
    } else if (this.queue.length >= MAX_QUEUED_MESSAGES) {
      this.socket.pause();
    }
    this.watchFrameDeadline();
    void this.work();
  }

  /** A frame must be complete within server_timeout of its first byte (slow-loris guard). */
  private watchFrameDeadline(): void {
    if (!this.decoder.inFrame) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    } else if (!this.frameTimer) {
      this.frameTimer = setTimeout(() => {
        log.info(`closing connection from ${this.socket.remoteAddress}: frame not completed in time`);
        this.socket.destroy();
      }, this.config.serverTimeoutMs);
    }
  }

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      for (let frame = this.queue.shift(); frame; frame = this.queue.shift()) {
        if (!this.closing && this.queue.length < MAX_QUEUED_MESSAGES / 2) this.socket.resume();
        const reply = await this.dispatcher.handleMessage(frame.toString('utf8'));
        if (reply !== undefined) await this.write(reply);
        if (this.socket.destroyed) return;
      }
    } catch (err) {
      log.error(`connection from ${this.socket.remoteAddress}: ${String(err)}`);
      this.socket.destroy();
      return;
    } finally {
      this.working = false;
    }
    if (this.protocolError) await this.write(errorReply(jsonRpcErrors.parseError(this.protocolError.message)));
    if (this.closing) this.close();
  }

  /** Writes one reply, waiting while the client is not reading (bounded memory). */
  private write(text: string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    if (this.socket.write(encodeNetstring(text))) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Half-closes; the client's FIN (or the idle timeout) completes the close. */
  private close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    this.socket.resume();
  }
}

export class JsonRpcServer {
  private readonly server: Server;
  private readonly connections = new Set<JsonRpcConnection>();
  private readonly dispatcher: JsonRpcDispatcher;

  constructor(
    private readonly config: JsonRpcConfig,
    registry: DiRegistry,
  ) {
    this.dispatcher = new JsonRpcDispatcher(registry, log);
    // Half-open: a client may send its last request and shut down its side before the answer.
    this.server = createServer({ allowHalfOpen: true });
    refuseDisallowedClients(this.server, ClientFilter.fromCidrs(config.allowedClients), log);
    this.server.on('connection', (socket: Socket) => this.accept(socket));
  }

  /** Binds and listens; rejects if the address is taken. */
  async start(): Promise<void> {
    const { address, port } = await listen(this.server, this.config.port, this.config.listen, log, 'jsonrpc_port');
    log.info(`JSON-RPC server listening on ${address}:${port}`);
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stops accepting; every connection answers what it has received, then closes. */
  async stop(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const force = setTimeout(() => this.connections.forEach((c) => c.destroy()), graceMs);
    this.connections.forEach((c) => c.finish());
    await closed;
    clearTimeout(force);
  }

  private accept(socket: Socket): void {
    if (socket.destroyed) return; // refused by the client filter
    const connection = new JsonRpcConnection(socket, this.dispatcher, this.config);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }
}
