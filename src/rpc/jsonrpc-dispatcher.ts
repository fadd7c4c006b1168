/**
 * JSON-RPC 2.0 message handling of SEMS's jsonrpc module (JsonRPCServer.cpp), without
 * the transport: `<module>.<function>` runs DI function `<function>` of interface
 * `<module>` with `params` (an array) as arguments; `core.<fn>` are the built-ins.
 *
 * Where SEMS just closes the connection (unparsable JSON, no "jsonrpc":"2.0", a method
 * that is not a string) this answers -32700 / -32600 as JSON-RPC 2.0 asks. Notifications
 * (no `id` member) are executed and not answered; SEMS answers them with `"id": ""`.
 * Batches (arrays) are answered with an array, which SEMS does not support at all.
 */
import { DiArgCountError, DiTypeError, type DiRegistry, type DiValue } from '../core/di';
import type { Logger } from '../process/log';
import { runJsonRpcCoreMethod } from './builtins';
import { invokeDi, type DiCallLogging } from './di-dispatch';
import { isUnexpectedFailure, jsonRpcErrorFor, jsonRpcErrors, type JsonRpcErrorObject } from './faults';

export type JsonRpcId = string | number | null;

type JsonRpcErrorResponse = { jsonrpc: '2.0'; error: JsonRpcErrorObject; id: JsonRpcId };
export type JsonRpcResponse = { jsonrpc: '2.0'; result: DiValue; id: JsonRpcId } | JsonRpcErrorResponse;

const CORE_MODULE = 'core';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is JsonRpcId => v === null || typeof v === 'string' || typeof v === 'number';

function errorResponse(err: unknown, id: JsonRpcId): JsonRpcErrorResponse {
  return { jsonrpc: '2.0', error: jsonRpcErrorFor(err), id };
}

/** The text of an error reply (framing errors, which have no request to answer). */
export function errorReply(err: unknown, id: JsonRpcId = null): string {
  return serialize(errorResponse(err, id));
}

/** A result JSON cannot carry (a BigInt, a cycle) becomes -32000 instead of a lost reply. */
function serialize(response: JsonRpcResponse): string {
  try {
    return JSON.stringify(response);
  } catch (err) {
    return JSON.stringify(errorResponse(err, response.id));
  }
}

export class JsonRpcDispatcher {
  private readonly logging: DiCallLogging;

  constructor(
    private readonly registry: DiRegistry,
    private readonly log: Logger,
  ) {
    // SEMS prints every message at debug level; here the arguments, with secrets redacted.
    this.logging = { log, params: true, result: true };
  }

  /** One received message (a frame's text) → the reply text, or undefined for none. */
  async handleMessage(text: string): Promise<string | undefined> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (err) {
      const reason = describeJsonError(err);
      this.log.info(`unparsable JSON-RPC message (${text.length} chars): ${reason}`);
      return serialize(errorResponse(jsonRpcErrors.parseError(reason), null));
    }
    if (!Array.isArray(message)) {
      const reply = await this.handleOne(message);
      return reply && serialize(reply);
    }
    if (message.length === 0) return serialize(errorResponse(jsonRpcErrors.invalidRequest('empty batch'), null));
    const replies: string[] = [];
    for (const entry of message) {
      const reply = await this.handleOne(entry);
      if (reply) replies.push(serialize(reply));
    }
    return replies.length > 0 ? `[${replies.join(',')}]` : undefined;
  }

  private async handleOne(message: unknown): Promise<JsonRpcResponse | undefined> {
    if (!isObject(message)) return errorResponse(jsonRpcErrors.invalidRequest('not a JSON-RPC object'), null);
    const hasId = 'id' in message;
    const id = hasId && isId(message.id) ? message.id : null;
    if (!('method' in message) && ('result' in message || 'error' in message)) {
      // A reply to a request this server never sent: dropped, as SEMS drops unknown reply ids.
      this.log.debug('ignoring a JSON-RPC response sent to the server');
      return undefined;
    }
    if (message.jsonrpc !== '2.0') return errorResponse(jsonRpcErrors.invalidRequest('only JSON-RPC 2.0 is supported'), id);
    if (typeof message.method !== 'string') return errorResponse(jsonRpcErrors.invalidRequest('method must be a string'), id);
    if (hasId && !isId(message.id)) return errorResponse(jsonRpcErrors.invalidRequest('invalid id'), null);

    let response: JsonRpcResponse;
    try {
      response = { jsonrpc: '2.0', result: await this.execute(message.method, message.params), id };
    } catch (err) {
      if (isUnexpectedFailure(err)) {
        this.log.error(`${message.method}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
      const failure = errorResponse(err, id);
      this.log.info(`${message.method}: error ${failure.error.code} '${failure.error.data}'`);
      response = failure;
    }
    return hasId ? response : undefined;
  }

  private async execute(method: string, params: unknown): Promise<DiValue> {
    const dot = method.indexOf('.');
    if (dot < 0) throw jsonRpcErrors.methodNotFound('use module.method as rpc method name');
    const module = method.slice(0, dot);
    const fn = method.slice(dot + 1);
    const args = paramsAsArguments(params);
    try {
      if (module === CORE_MODULE) return runJsonRpcCoreMethod(fn, args, this.log);
      return await invokeDi(this.registry, module, fn, args, this.logging);
    } catch (err) {
      // SEMS passes absent params on as an undefined AmArg, not an empty array: reading
      // an argument from it is a type mismatch rather than out of bounds.
      if (params == null && err instanceof DiArgCountError) throw new DiTypeError('no params');
      throw err;
    }
  }
}

/** Absent or null params are no arguments; anything but an array is a type mismatch. */
function paramsAsArguments(params: unknown): DiValue[] {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) throw new DiTypeError('params must be an array');
  return params as DiValue[];
}

/** V8's parse messages may quote the message text (a password, say): keep only the position. */
function describeJsonError(err: unknown): string {
  const position = /at position (\d+)/.exec(String((err as Error)?.message))?.[1];
  return position === undefined ? 'invalid JSON' : `invalid JSON at position ${position}`;
}
