/**
 * The control plane as a thread sees it: start the configured RPC servers over one
 * DiRegistry, stop them in order at shutdown.
 */
import { DEFAULT_STOP_GRACE_MS, type JsonRpcConfig, type XmlRpcConfig } from '../config/rpc-config';
import type { DiRegistry } from '../core/di';
import { RpcControl } from './builtins';
import { JsonRpcServer } from './jsonrpc-server';
import { XmlRpcServer } from './xmlrpc-server';

export interface RpcServersConfig {
  /** undefined: xmlrpc2di not loaded or run_server=no. */
  xmlrpc?: XmlRpcConfig;
  /** undefined: jsonrpc not loaded. */
  jsonrpc?: JsonRpcConfig;
}

export interface RpcServers {
  xmlrpc?: XmlRpcServer;
  jsonrpc?: JsonRpcServer;
  /** Stops accepting on both, lets requests in progress answer, closes all connections. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the configured servers; if one cannot listen, the other is stopped again. */
export async function startRpcServers(
  config: RpcServersConfig,
  registry: DiRegistry,
  control: RpcControl = new RpcControl(),
): Promise<RpcServers> {
  const xmlrpc = config.xmlrpc && new XmlRpcServer(config.xmlrpc, registry, control);
  const jsonrpc = config.jsonrpc && new JsonRpcServer(config.jsonrpc, registry);
  const stop = async (graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> => {
    await Promise.all([xmlrpc?.stop(graceMs), jsonrpc?.stop(graceMs)]);
  };
  try {
    await xmlrpc?.start();
    await jsonrpc?.start();
  } catch (err) {
    await stop(0);
    throw err;
  }
  return { xmlrpc, jsonrpc, stop };
}
