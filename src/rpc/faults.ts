/**
 * How failures become XML-RPC faults and JSON-RPC error objects.
 *
 * Codes and strings are SEMS's, byte for byte: the XML-RPC ones from xmlrpc2di
 * (XMLRPC2DI.cpp, and -1 from its bundled xmlrpc++ library), the JSON-RPC ones from
 * the jsonrpc module (JsonRPCServer.cpp), including its `data` member.
 */
import { DiArgCountError, DiNotImplementedError, DiTypeError, DiUnavailableError } from '../core/di';

/** The DI interface named in a call is not registered (SEMS: getFactory4Di → NULL). */
export class DiFactoryNotFoundError extends Error {
  constructor(readonly factory: string) {
    super(`could not get factory '${factory}'`);
    this.name = 'DiFactoryNotFoundError';
  }
}

/** Not one of the failures a client can provoke: worth an error line in the log. */
export function isUnexpectedFailure(err: unknown): boolean {
  return !(
    err instanceof XmlRpcFault ||
    err instanceof JsonRpcError ||
    err instanceof DiFactoryNotFoundError ||
    err instanceof DiNotImplementedError ||
    err instanceof DiArgCountError ||
    err instanceof DiTypeError ||
    err instanceof DiUnavailableError
  );
}

export interface XmlRpcFaultStruct {
  faultCode: number;
  faultString: string;
}

/** A fault decided by the XML-RPC layer itself; -1 is xmlrpc++'s default code. */
export class XmlRpcFault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'XmlRpcFault';
  }
}

export const XMLRPC_TYPE_ERROR = 'type error';

export function unknownXmlRpcMethod(name: string): XmlRpcFault {
  return new XmlRpcFault(-1, `${name}: unknown method name`);
}

export function xmlRpcFaultFor(err: unknown): XmlRpcFaultStruct {
  const fault = (faultCode: number, faultString: string): XmlRpcFaultStruct => ({ faultCode, faultString });
  if (err instanceof XmlRpcFault) return fault(err.code, err.message);
  if (err instanceof DiFactoryNotFoundError) return fault(500, 'could not get factory');
  if (err instanceof DiNotImplementedError) return fault(504, `Exception: AmDynInvoke::NotImplemented: ${err.fn}`);
  if (err instanceof DiArgCountError) {
    return fault(300, 'Exception: AmArg out of bounds - parameter number mismatch.');
  }
  if (err instanceof DiTypeError) return fault(300, 'Exception: Type mismatch in arguments.');
  if (err instanceof Error) return fault(500, `Exception: ${err.message}`);
  if (typeof err === 'string') return fault(500, `Exception: ${err}`);
  return fault(500, 'Exception occured.');
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data: string;
}

/** An error decided by the JSON-RPC layer itself. */
export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: string,
  ) {
    super(message);
    this.name = 'JsonRpcError';
  }
}

export const jsonRpcErrors = {
  parseError: (data: string) => new JsonRpcError(-32700, 'Parse error', data),
  invalidRequest: (data: string) => new JsonRpcError(-32600, 'Invalid Request', data),
  methodNotFound: (data: string) => new JsonRpcError(-32601, 'Method not found', data),
};

export function jsonRpcErrorFor(err: unknown): JsonRpcErrorObject {
  const error = (code: number, message: string, data: string): JsonRpcErrorObject => ({ code, message, data });
  if (err instanceof JsonRpcError) return error(err.code, err.message, err.data);
  if (err instanceof DiFactoryNotFoundError) return error(-32601, 'Method not found', 'module not loaded');
  if (err instanceof DiNotImplementedError) return error(-32601, 'Method not found', 'function unknown in module');
  if (err instanceof DiArgCountError) return error(-32602, 'Invalid params', 'out of bounds in function call');
  if (err instanceof DiTypeError) {
    return error(-32602, 'Invalid params', 'parameters type mismatch in function call');
  }
  if (err instanceof DiUnavailableError) return error(-32000, 'Server error', err.message);
  return error(-32000, 'Server error', 'unexpected Exception');
}
