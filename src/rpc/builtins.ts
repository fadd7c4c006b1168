/**
 * The control methods SEMS builds into its RPC servers, with SEMS's result shapes.
 *
 * XML-RPC (XMLRPC2DI.cpp): `calls`, `get_callsavg`, `get_callsmax`, `get_cpsavg`,
 * `get_cpsmax` → int (always 0 here: this daemon has no calls); `get_loglevel` → int;
 * `get_shutdownmode` → boolean; `get_cpslimit` → string "<hard> <soft>"; the setters
 * answer the string "200 OK". A parameter of the wrong XML-RPC type is xmlrpc++'s
 * fault -1 "type error".
 *
 * JSON-RPC (JsonRPCServer.cpp, method `core.<name>`): `calls` → [int],
 * `get_loglevel` → [int], `set_loglevel` → null; anything else is -32601.
 */
import { DiArgCountError, DiTypeError, type DiValue } from '../core/di';
import { getLogLevel, setLogLevel, type Logger } from '../process/log';
import { XMLRPC_TYPE_ERROR, XmlRpcFault, jsonRpcErrors } from './faults';

/** Process-wide switches the built-ins read and write (SEMS keeps them in AmConfig). */
export class RpcControl {
  /** Accepted and reported like SEMS; nothing here consults it (no calls to refuse). */
  shutdownMode = false;
  /** SEMS's setCPSLimit sets the hard and the soft limit alike. */
  cpsLimit = 0;
}

export type XmlRpcBuiltin = (params: readonly unknown[]) => DiValue;

const OK = '200 OK';
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function intParam(params: readonly unknown[]): number {
  const v = params[0];
  if (!isInteger(v)) throw new XmlRpcFault(-1, XMLRPC_TYPE_ERROR);
  return v;
}

function boolParam(params: readonly unknown[]): boolean {
  const v = params[0];
  if (typeof v !== 'boolean') throw new XmlRpcFault(-1, XMLRPC_TYPE_ERROR);
  return v;
}

/** The XML-RPC built-ins by method name, in SEMS's registration order. */
export function xmlRpcBuiltins(control: RpcControl, log: Logger): ReadonlyMap<string, XmlRpcBuiltin> {
  const zero: XmlRpcBuiltin = () => 0;
  return new Map<string, XmlRpcBuiltin>([
    ['calls', zero],
    ['get_loglevel', () => getLogLevel()],
    [
      'set_loglevel',
      (params) => {
        setLogLevel(intParam(params));
        log.info(`log level set to ${getLogLevel()}`);
        return OK;
      },
    ],
    ['get_shutdownmode', () => control.shutdownMode],
    [
      'set_shutdownmode',
      (params) => {
        control.shutdownMode = boolParam(params);
        log.info(`shutdown mode set to ${control.shutdownMode}`);
        return OK;
      },
    ],
    ['get_callsavg', zero],
    ['get_callsmax', zero],
    ['get_cpsavg', zero],
    ['get_cpsmax', zero],
    ['get_cpslimit', () => `${control.cpsLimit} ${control.cpsLimit}`],
    [
      'set_cpslimit',
      (params) => {
        const limit = intParam(params);
        if (limit < 0) throw new XmlRpcFault(-1, XMLRPC_TYPE_ERROR);
        control.cpsLimit = limit;
        return OK;
      },
    ],
  ]);
}

/** JSON-RPC `core.<fn>`; argument errors are the DI ones so they map to -32602 like SEMS. */
export function runJsonRpcCoreMethod(fn: string, params: readonly DiValue[], log: Logger): DiValue {
  switch (fn) {
    case 'calls':
      return [0];
    case 'get_loglevel':
      return [getLogLevel()];
    case 'set_loglevel': {
      if (params.length < 1) throw new DiArgCountError('set_loglevel needs the level');
      const level = params[0];
      if (!isInteger(level)) throw new DiTypeError('set_loglevel: level must be an integer');
      setLogLevel(level);
      log.info(`log level set to ${getLogLevel()}`);
      return null;
    }
    default:
      throw jsonRpcErrors.methodNotFound('function unknown in core');
  }
}
