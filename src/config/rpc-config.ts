/**
 * xmlrpc2di.conf and jsonrpc.conf (SPEC §2, §6, §7), plus the control-plane
 * extensions (allowed_clients, body limit).
 */
import { isIP } from 'node:net';
import { addressOf } from './net-address';
import { ConfigError, type ConfigFile } from './reader';

export interface XmlRpcConfig {
  runServer: boolean;
  port: number;
  /** Empty = all addresses (as SEMS). */
  listen: string;
  exportDi: boolean;
  directExport: string[];
  /**
   * Slow-client deadline in milliseconds: a request must arrive completely within this
   * time of the connection (or of the previous reply). SEMS reads the same key but uses
   * it only for its own outgoing XML-RPC calls (default: none), so the default here is
   * long enough for any script; 0 becomes UNSET_SERVER_TIMEOUT_MS.
   */
  serverTimeoutMs: number;
  debugServerParams: boolean;
  debugServerResult: boolean;
  /** Extension: CIDR list; empty = everyone who can reach the socket. */
  allowedClients: string[];
  /** Extension: largest accepted request body. */
  maxBodyBytes: number;
}

export interface JsonRpcConfig {
  port: number;
  listen: string;
  allowedClients: string[];
  maxBodyBytes: number;
  serverTimeoutMs: number;
}

/** How long the servers' stop lets requests in progress finish before cutting connections. */
export const DEFAULT_STOP_GRACE_MS = 5000;

const DEFAULT_MAX_BODY = 1024 * 1024;
/** server_timeout when unset: no script takes that long to send a request; a stalled client is cut. */
export const DEFAULT_SERVER_TIMEOUT_MS = 30_000;
/** What server_timeout=0 means here: a server without any deadline could be held forever. */
export const UNSET_SERVER_TIMEOUT_MS = 60_000;

function serverTimeout(cfg: ConfigFile): number {
  return cfg.uint('server_timeout', DEFAULT_SERVER_TIMEOUT_MS) || UNSET_SERVER_TIMEOUT_MS;
}

function port(cfg: ConfigFile, key: string, def: number): number {
  const p = cfg.uint(key, def);
  if (p < 1 || p > 65535) throw new ConfigError(`${cfg.source}: '${key}' must be 1..65535, got ${p}`);
  return p;
}

/** Empty = all addresses; a device name (lo, eth0) as SEMS's fixIface2IP takes it. */
function listenAddress(cfg: ConfigFile, key: string, def: string): string {
  const v = cfg.string(key, def);
  if (v === '') return v;
  const address = addressOf(v);
  if (address === undefined) throw new ConfigError(`${cfg.source}: '${key}' must be an IP address or a network device, got '${v}'`);
  return address;
}

function cidrList(cfg: ConfigFile, key: string): string[] {
  const entries = (cfg.list(key) ?? []).flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) {
    const [addr, bits, extra] = entry.split('/');
    const family = isIP(addr ?? '');
    const max = family === 6 ? 128 : 32;
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max);
    if (!family || !okBits || extra !== undefined) {
      throw new ConfigError(`${cfg.source}: '${key}' entry '${entry}' is not an address or CIDR block`);
    }
  }
  return entries;
}

export function parseXmlRpcConfig(cfg: ConfigFile): XmlRpcConfig {
  return {
    runServer: cfg.bool('run_server', true),
    port: port(cfg, 'xmlrpc_port', 8090),
    listen: listenAddress(cfg, 'server_ip', ''),
    exportDi: cfg.bool('export_di', true),
    directExport: cfg.list('direct_export') ?? [],
    serverTimeoutMs: serverTimeout(cfg),
    debugServerParams: cfg.bool('debug_server_params', false),
    debugServerResult: cfg.bool('debug_server_result', false),
    allowedClients: cidrList(cfg, 'allowed_clients'),
    maxBodyBytes: cfg.uint('max_body_bytes', DEFAULT_MAX_BODY),
  };
}

export function parseJsonRpcConfig(cfg: ConfigFile): JsonRpcConfig {
  return {
    port: port(cfg, 'jsonrpc_port', 7080),
    listen: listenAddress(cfg, 'jsonrpc_listen', '127.0.0.1'),
    allowedClients: cidrList(cfg, 'allowed_clients'),
    maxBodyBytes: cfg.uint('max_body_bytes', DEFAULT_MAX_BODY),
    serverTimeoutMs: serverTimeout(cfg),
  };
}
