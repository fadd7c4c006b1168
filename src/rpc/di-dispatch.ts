/**
 * The one path from both RPC servers into the engine: look the interface up in the
 * DiRegistry, run the function (awaiting a Promise result), log the call without
 * secrets. Failures propagate as the DI error classes; each server maps them to its
 * own wire format (faults.ts).
 */
import type { DiRegistry, DiValue } from '../core/di';
import type { Logger } from '../process/log';
import { printArgsForLog, printForLog } from './call-log';
import { DiFactoryNotFoundError } from './faults';

/** SEMS's introspection function: every DI interface answers it with its function names. */
const LIST_FUNCTION = '_list';

export interface DiCallLogging {
  log: Logger;
  /** Print the (redacted) arguments at debug level (xmlrpc2di: debug_server_params). */
  params: boolean;
  /** Print the result at debug level (xmlrpc2di: debug_server_result). */
  result: boolean;
}

export async function invokeDi(
  registry: DiRegistry,
  factory: string,
  fn: string,
  args: DiValue[],
  logging: DiCallLogging,
): Promise<DiValue> {
  const { log } = logging;
  log.debug(`factory '${factory}' function '${fn}'`);
  if (logging.params) log.debug(` params: <${printArgsForLog(factory, fn, args)}>`);

  const iface = registry.get(factory);
  if (!iface) throw new DiFactoryNotFoundError(factory);
  const result = fn === LIST_FUNCTION ? iface.functions() : await iface.invoke(fn, args);
  // A function that forgot to return behaves like SEMS's untouched (undefined) AmArg.
  const value: DiValue = result ?? null;

  if (logging.result) log.debug(` result: <${printForLog(value)}>`);
  return value;
}
