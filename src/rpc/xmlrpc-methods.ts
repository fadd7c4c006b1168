/**
 * xmlrpc2di's method table and the execution of one call (XMLRPC2DI.cpp):
 * the built-ins, `di(factory, function, args...)` unless export_di=no, every function
 * of each direct_export interface as `fn` and `iface.fn` (a name already taken keeps
 * only the `iface.fn` form, as SEMS does), and xmlrpc++'s `system.multicall`.
 */
import type { DiRegistry, DiValue } from '../core/di';
import type { Logger } from '../process/log';
import { RpcControl, xmlRpcBuiltins } from './builtins';
import { invokeDi, type DiCallLogging } from './di-dispatch';
import {
  XMLRPC_TYPE_ERROR,
  XmlRpcFault,
  isUnexpectedFailure,
  unknownXmlRpcMethod,
  xmlRpcFaultFor,
  type XmlRpcFaultStruct,
} from './faults';
import { diFromXmlRpc, xmlRpcFromDi, type XmlRpcValue } from './xmlrpc-codec';

export interface XmlRpcMethodOptions {
  exportDi: boolean;
  directExport: readonly string[];
  debugServerParams: boolean;
  debugServerResult: boolean;
}

export type XmlRpcOutcome = { value: XmlRpcValue } | { fault: XmlRpcFaultStruct };

type Handler = (params: readonly unknown[]) => DiValue | Promise<DiValue>;

const MULTICALL = 'system.multicall';

export class XmlRpcMethods {
  private readonly handlers = new Map<string, Handler>();
  private readonly logging: DiCallLogging;

  constructor(
    private readonly registry: DiRegistry,
    control: RpcControl,
    options: XmlRpcMethodOptions,
    private readonly log: Logger,
  ) {
    this.logging = { log, params: options.debugServerParams, result: options.debugServerResult };
    for (const [name, builtin] of xmlRpcBuiltins(control, log)) this.handlers.set(name, builtin);
    if (options.exportDi) this.handlers.set('di', (params) => this.di(params));
    for (const iface of options.directExport) this.exportInterface(iface);
  }

  /** Registered method names (system.multicall is built into execution, as in xmlrpc++). */
  names(): string[] {
    return [...this.handlers.keys()];
  }

  /** Runs one call; never rejects: every failure becomes the fault SEMS would send. */
  async execute(method: string, params: readonly unknown[]): Promise<XmlRpcOutcome> {
    try {
      return { value: xmlRpcFromDi(await this.run(method, params)) };
    } catch (err) {
      return { fault: this.fault(method, err) };
    }
  }

  private async run(method: string, params: readonly unknown[]): Promise<DiValue> {
    const handler = this.handlers.get(method);
    if (handler) return handler(params);
    if (method === MULTICALL) return this.multicall(params);
    throw unknownXmlRpcMethod(method);
  }

  private fault(method: string, err: unknown): XmlRpcFaultStruct {
    const fault = xmlRpcFaultFor(err);
    if (isUnexpectedFailure(err)) {
      this.log.error(`${method}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } else {
      this.log.debug(`${method}: fault ${fault.faultCode} '${fault.faultString}'`);
    }
    return fault;
  }

  private di(params: readonly unknown[]): Promise<DiValue> {
    if (params.length < 2) {
      throw new XmlRpcFault(400, 'need at least factory name and function name to call');
    }
    const [factory, fn] = params;
    if (typeof factory !== 'string' || typeof fn !== 'string') throw new XmlRpcFault(-1, XMLRPC_TYPE_ERROR);
    return this.callDi(factory, fn, params.slice(2));
  }

  private callDi(factory: string, fn: string, params: readonly unknown[]): Promise<DiValue> {
    return invokeDi(this.registry, factory, fn, params.map(diFromXmlRpc), this.logging);
  }

  private exportInterface(name: string): void {
    const iface = this.registry.get(name);
    if (!iface) {
      this.log.error(`DI interface '${name}' could not be found. Missing load_plugins?`);
      return;
    }
    let functions: string[];
    try {
      functions = iface.functions();
    } catch (err) {
      this.log.error(`could not list the functions of DI interface '${name}': ${String(err)}`);
      return;
    }
    for (const fn of functions) {
      const handler: Handler = (params) => this.callDi(name, fn, params);
      if (this.handlers.has(fn)) {
        this.log.error(`name conflict for method '${fn}' from interface '${name}', method already exported!`);
        this.log.error(`This method will be exported only as '${name}.${fn}'`);
      } else {
        this.handlers.set(fn, handler);
        this.log.debug(`XMLRPC Server: enabling method '${fn}'`);
      }
      this.handlers.set(`${name}.${fn}`, handler);
      this.log.debug(`XMLRPC Server: enabling method '${name}.${fn}'`);
    }
  }

  /** Each entry answers `[result]` or a fault struct; one bad entry does not fail the rest. */
  private async multicall(params: readonly unknown[]): Promise<DiValue> {
    const calls = params[0];
    if (params.length !== 1 || !Array.isArray(calls)) {
      throw new XmlRpcFault(-1, `${MULTICALL}: Invalid argument (expected an array)`);
    }
    const results: DiValue[] = [];
    for (const call of calls) results.push(await this.multicallEntry(call));
    return results;
  }

  private async multicallEntry(call: unknown): Promise<DiValue> {
    const asFault = (f: XmlRpcFaultStruct): DiValue => ({ faultCode: f.faultCode, faultString: f.faultString });
    if (typeof call !== 'object' || call === null || !('methodName' in call) || !('params' in call)) {
      return asFault({
        faultCode: -1,
        faultString: `${MULTICALL}: Invalid argument (expected a struct with members methodName and params)`,
      });
    }
    const { methodName, params } = call;
    try {
      if (typeof methodName !== 'string' || !Array.isArray(params)) throw new XmlRpcFault(-1, XMLRPC_TYPE_ERROR);
      // xmlrpc++ would recurse into the outer call here without end.
      if (methodName === MULTICALL) throw new XmlRpcFault(-1, `${MULTICALL}: nested ${MULTICALL} is not allowed`);
      return [await this.run(methodName, params)];
    } catch (err) {
      return asFault(this.fault(String(methodName), err));
    }
  }
}
