/**
 * The RPC room's doors: the XML-RPC and JSON-RPC servers (started together, on the
 * control plane's thread) and the metrics endpoint (on the engine's thread).
 */
export { RpcControl } from './builtins';
export { JsonRpcServer } from './jsonrpc-server';
export { MetricsServer } from './metrics-server';
export { XmlRpcServer } from './xmlrpc-server';
export { startRpcServers, type RpcServers, type RpcServersConfig } from './servers';
