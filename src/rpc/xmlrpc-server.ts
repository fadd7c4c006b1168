/**
 * The XML-RPC server (SEMS xmlrpc2di) on node:http.
 *
 * Not the `xmlrpc` package's Server class: it answers unknown methods with HTTP 404
 * instead of fault -1, renders a thrown Error as an empty struct, and has no body
 * limit, timeouts or client filter. Its serialiser and deserialiser are used
 * (xmlrpc-codec.ts).
 *
 * Like SEMS's xmlrpc++ server, any path and method are accepted; the body is the call.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { XmlRpcConfig } from '../config/rpc-config';
import type { DiRegistry } from '../core/di';
import { logger } from '../process/log';
import type { RpcControl } from './builtins';
import { ClientFilter, refuseDisallowedClients } from './client-filter';
import { xmlRpcFaultFor } from './faults';
import { listen } from './listener';
import { parseMethodCall, renderFault, renderResponse } from './xmlrpc-codec';
import { XmlRpcMethods } from './xmlrpc-methods';

const log = logger('xmlrpc2di');

type BodyResult = { body: Buffer } | { tooLarge: true };

/**
 * Reads the request body, refusing it as soon as it exceeds `limit` (by its declared
 * Content-Length or by what has arrived) without holding more than `limit` bytes.
 */
function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  if (Number(req.headers['content-length']) > limit) return Promise.resolve({ tooLarge: true });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve({ tooLarge: true });
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve({ body: Buffer.concat(chunks) }));
    req.on('close', () => reject(new Error('client went away before the request was complete')));
    req.on('error', reject);
  });
}

/** How long an idle kept-alive connection may stay open. */
const KEEP_ALIVE_MS = 5000;

export class XmlRpcServer {
  private readonly http: Server;
  private readonly methods: XmlRpcMethods;
  private stopping = false;

  constructor(
    private readonly config: XmlRpcConfig,
    registry: DiRegistry,
    control: RpcControl,
  ) {
    this.methods = new XmlRpcMethods(registry, control, config, log);
    const timeout = config.serverTimeoutMs;
    this.http = createServer(
      {
        // The whole request (headers and body) must arrive within server_timeout.
        requestTimeout: timeout,
        headersTimeout: timeout,
        // Idle kept-alive connections get their own, longer deadline: at 500 ms Node
        // announces "Keep-Alive: timeout=0" and clients open a connection per call.
        keepAliveTimeout: Math.max(timeout, KEEP_ALIVE_MS),
        // node checks the two deadlines above only this often (default 30 s).
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeout / 2))),
      },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          log.error(`request failed: ${String(err)}`);
          res.destroy();
        });
      },
    );
    refuseDisallowedClients(this.http, ClientFilter.fromCidrs(config.allowedClients), log);
  }

  /** Binds and listens; rejects if the address is taken. */
  async start(): Promise<void> {
    const { address, port } = await listen(this.http, this.config.port, this.config.listen, log, 'xmlrpc_port');
    log.info(`XMLRPC Server listening on ${address}:${port}; methods: ${this.methods.names().join(', ')}`);
  }

  address(): AddressInfo {
    return this.http.address() as AddressInfo;
  }

  /** Stops accepting, lets requests in progress answer (up to graceMs), closes every connection. */
  stop(graceMs: number): Promise<void> {
    this.stopping = true;
    return new Promise((resolve) => {
      const force = setTimeout(() => this.http.closeAllConnections(), graceMs);
      this.http.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.http.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let read: BodyResult;
    try {
      read = await readBody(req, this.config.maxBodyBytes);
    } catch (err) {
      log.debug(`request not read: ${(err as Error).message}`);
      return;
    }
    if ('tooLarge' in read) {
      log.warn(`refused request from ${req.socket.remoteAddress}: body larger than ${this.config.maxBodyBytes} bytes`);
      this.send(res, 413, 'text/plain', 'request body too large\n', true);
      return;
    }

    let xml: string;
    try {
      const call = await parseMethodCall(read.body);
      const outcome = await this.methods.execute(call.method, call.params);
      xml = 'value' in outcome ? renderResponse(outcome.value) : renderFault(outcome.fault);
    } catch (err) {
      xml = renderFault(xmlRpcFaultFor(err));
    }
    this.send(res, 200, 'text/xml', xml, false);
  }

  private send(res: ServerResponse, status: number, type: string, body: string, close: boolean): void {
    if (res.destroyed) return;
    const headers: Record<string, string | number> = {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
    };
    // While stopping, a kept-alive connection would hold stop() open until its idle timeout.
    if (close || this.stopping) headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
  }
}
