/**
 * Fixtures for the control-plane tests: a fake `db_reg_agent` DI interface that checks
 * arguments with the real one's parsers (SPEC §5b), a `testbed` interface for the failure
 * modes a real engine might show, configs on loopback with random ports, and small
 * clients (raw HTTP, netstrings) that do not reuse the code under test.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { JsonRpcConfig, XmlRpcConfig } from '../../src/config/rpc-config';
import { parseIdArgs, parseRegistrationArgs } from '../../src/agent/di-interface';
import { DiNotImplementedError, DiRegistry, type DiInterface, type DiValue } from '../../src/core/di';

export interface RecordedCall {
  fn: string;
  args: DiValue[];
}

const REGISTRATION_FUNCTIONS = ['createRegistration', 'updateRegistration', 'refreshRegistration', 'removeRegistration'];

/** Records calls; checks arguments with the engine's own parsers; answers [200, "OK"] asynchronously. */
export class FakeRegistrationAgent implements DiInterface {
  readonly calls: RecordedCall[] = [];

  functions(): string[] {
    return [...REGISTRATION_FUNCTIONS];
  }

  invoke(fn: string, args: DiValue[]): Promise<DiValue> {
    switch (fn) {
      case 'createRegistration':
      case 'updateRegistration':
        parseRegistrationArgs(args);
        break;
      case 'refreshRegistration':
      case 'removeRegistration':
        parseIdArgs(args);
        break;
      default:
        throw new DiNotImplementedError(fn);
    }
    this.calls.push({ fn, args });
    return Promise.resolve([200, 'OK']);
  }
}

/** Failure modes and result shapes; `calls` clashes with the XML-RPC built-in on purpose. */
export class Testbed implements DiInterface {
  /** Resolves the pending `hold` calls. */
  private readonly held: Array<() => void> = [];

  functions(): string[] {
    return ['echo', 'shapes', 'nothing', 'explode', 'throwString', 'throwNumber', 'nan', 'hold', 'calls'];
  }

  get heldCount(): number {
    return this.held.length;
  }

  release(): void {
    this.held.splice(0).forEach((resolve) => resolve());
  }

  invoke(fn: string, args: DiValue[]): DiValue | Promise<DiValue> {
    switch (fn) {
      case 'echo':
        return args;
      case 'shapes':
        return { int: 42, negative: -7, double: 1.5, text: 'a<b&c', flag: true, list: [1, 'two', [3]], nil: null };
      case 'nothing':
        return undefined as unknown as DiValue;
      case 'explode':
        throw new Error('boom');
      case 'throwString':
        throw 'plain string';
      case 'throwNumber':
        throw 42;
      case 'nan':
        return [Number.NaN];
      case 'hold':
        return new Promise((resolve) => this.held.push(() => resolve('released')));
      case 'calls':
        return 'testbed calls';
      default:
        throw new DiNotImplementedError(fn);
    }
  }
}

export interface Fixture {
  registry: DiRegistry;
  agent: FakeRegistrationAgent;
  testbed: Testbed;
}

export function makeFixture(): Fixture {
  const registry = new DiRegistry();
  const agent = new FakeRegistrationAgent();
  const testbed = new Testbed();
  registry.register('db_reg_agent', agent);
  registry.register('testbed', testbed);
  return { registry, agent, testbed };
}

export function xmlRpcConfig(overrides: Partial<XmlRpcConfig> = {}): XmlRpcConfig {
  return {
    runServer: true,
    port: 0,
    listen: '127.0.0.1',
    exportDi: true,
    directExport: ['db_reg_agent'],
    serverTimeoutMs: 5000,
    debugServerParams: false,
    debugServerResult: false,
    allowedClients: [],
    maxBodyBytes: 64 * 1024,
    ...overrides,
  };
}

export function jsonRpcConfig(overrides: Partial<JsonRpcConfig> = {}): JsonRpcConfig {
  return {
    port: 0,
    listen: '127.0.0.1',
    allowedClients: [],
    maxBodyBytes: 64 * 1024,
    serverTimeoutMs: 5000,
    ...overrides,
  };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One POST on a fresh connection; rejects on a transport error (reset, refused). */
export function postXml(
  port: number,
  body: string | Buffer,
  options: { host?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host ?? '127.0.0.1',
        localAddress: options.localAddress,
        port,
        method: 'POST',
        path: '/RPC2',
        agent: false,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no reply within 10 s')));
    req.end(body);
  });
}

export function methodCallXml(method: string, paramsXml: string[] = []): string {
  const params = paramsXml.map((p) => `<param><value>${p}</value></param>`).join('');
  return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params}</params></methodCall>`;
}

/** Frames a JSON value (or raw text) as a netstring. */
export function netstring(payload: unknown): string {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return `${Buffer.byteLength(text)}:${text},`;
}

/** Splits complete netstrings off the front of `data` (an independent, minimal decoder). */
export function splitNetstrings(data: Buffer): { messages: unknown[]; rest: Buffer } {
  const messages: unknown[] = [];
  let rest = data;
  for (;;) {
    const colon = rest.indexOf(':');
    if (colon < 0) break;
    const length = Number(rest.subarray(0, colon).toString());
    const end = colon + 1 + length;
    if (rest.length < end + 1) break;
    if (rest[end] !== 0x2c) throw new Error(`reply not terminated by ',': ${rest.toString()}`);
    messages.push(JSON.parse(rest.subarray(colon + 1, end).toString('utf8')));
    rest = rest.subarray(end + 1);
  }
  return { messages, rest };
}

/** A raw TCP client for the JSON-RPC server that collects decoded replies. */
export class NetstringClient {
  readonly replies: unknown[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      const { messages, rest } = splitNetstrings(Buffer.concat([this.buffer, chunk]));
      this.buffer = rest;
      this.replies.push(...messages);
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.waiters.splice(0).forEach((w) => w()));
  }

  static open(port: number, host = '127.0.0.1'): Promise<NetstringClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => {
        socket.off('error', reject);
        resolve(new NetstringClient(socket));
      });
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `count` replies arrived in total; rejects on close or after timeoutMs. */
  async waitForReplies(count: number, timeoutMs = 5000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < count) {
      if (this.socket.destroyed || this.socket.readableEnded) {
        throw new Error(`connection closed after ${this.replies.length} of ${count} replies`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.replies.length} of ${count} replies within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.replies.slice(0, count);
  }

  /** One request, one reply. */
  async call(request: unknown): Promise<unknown> {
    const before = this.replies.length;
    this.send(netstring(request));
    return (await this.waitForReplies(before + 1))[before];
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Resolves once the peer closed the connection, or rejects after timeoutMs. */
export function closedWithin(socket: Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Mulberry32: a small seeded PRNG so fuzz runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything written to stderr (where log lines go) while `fn` runs. */
export async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const original = process.stderr.write.bind(process.stderr);
  let captured = '';
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return captured;
}
