/**
 * The parts of sems.conf this daemon uses (SPEC §2): plugin set, SIP interfaces,
 * outbound proxy, logging and the User-Agent signature.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigFile } from './reader';
import { LOG_LEVEL_NAMES, parseLogLevel, SYSLOG_FACILITIES } from '../log';

export const VERSION = '0.1.0';
export const DEFAULT_SIGNATURE = `db-reg-agent ${VERSION}`;

/** Plugins this daemon implements; every other plugin name is accepted and ignored. */
export const KNOWN_PLUGINS = ['db_reg_agent', 'uac_auth', 'xmlrpc2di', 'jsonrpc'] as const;
export type KnownPlugin = (typeof KNOWN_PLUGINS)[number];

export interface SipInterface {
  name: string;
  /** Address the socket binds to. */
  ip: string;
  port: number;
  /** Address advertised in Via and the default Contact (public_ip, else ip). */
  advertisedIp: string;
}

export interface SemsConfig {
  source: string;
  pluginConfigPath: string;
  plugins: Set<KnownPlugin>;
  /** Plugin names in load_plugins that this daemon does not implement (ignored). */
  ignoredPlugins: string[];
  interfaces: SipInterface[];
  outboundProxy: string;
  forceOutboundProxy: boolean;
  logLevel: number;
  logToStderr: boolean;
  fork: boolean;
  /** daemon_uid / daemon_gid: the -u / -g of sems.conf (the command line wins). */
  daemonUser?: string;
  daemonGroup?: string;
  syslogFacility: string;
  /** User-Agent header value; empty = no User-Agent header. */
  signature: string;
}

export function parseSemsConfig(cfg: ConfigFile): SemsConfig {
  const src = cfg.source;

  const pluginPath = cfg.string('plugin_config_path', '/etc/sems/etc/');
  // Relative paths are taken against sems.conf's folder, so a config tree can be moved.
  const pluginConfigPath = resolve(dirname(resolve(src)), pluginPath);

  const { plugins, ignoredPlugins } = selectPlugins(cfg.list('load_plugins') ?? [], cfg.list('exclude_plugins') ?? []);
  if (!plugins.has('db_reg_agent')) {
    throw new ConfigError(`${src}: 'load_plugins'/'exclude_plugins' leave out db_reg_agent; nothing to run`);
  }

  const logLevelText = cfg.string('loglevel', '2');
  const logLevel = parseLogLevel(logLevelText);
  if (logLevel === undefined) throw new ConfigError(`${src}: 'loglevel' must be 0..3 or ${LOG_LEVEL_NAMES}, got '${logLevelText}'`);

  const syslogFacility = cfg.string('syslog_facility', 'DAEMON');
  if (SYSLOG_FACILITIES[syslogFacility.toLowerCase()] === undefined) {
    throw new ConfigError(`${src}: 'syslog_facility' must be one of ${Object.keys(SYSLOG_FACILITIES).join(', ')} (any case), got '${syslogFacility}'`);
  }

  // SEMS: use_default_signature=yes wins over signature.
  const signature = cfg.bool('use_default_signature', false) ? DEFAULT_SIGNATURE : cfg.string('signature', '');

  return {
    source: src,
    pluginConfigPath,
    plugins,
    ignoredPlugins,
    interfaces: parseInterfaces(cfg),
    outboundProxy: cfg.string('outbound_proxy', ''),
    forceOutboundProxy: cfg.bool('force_outbound_proxy', false),
    logLevel,
    logToStderr: cfg.yesNo('stderr', false),
    // SEMS reads `daemon` after `fork`: the alias wins when both are set.
    fork: cfg.yesNo('daemon', cfg.yesNo('fork', true)),
    daemonUser: cfg.string('daemon_uid') || undefined,
    daemonGroup: cfg.string('daemon_gid') || undefined,
    syslogFacility,
    signature,
  };
}

/**
 * SEMS (AmPlugIn::load): a non-empty load_plugins is taken as it is; exclude_plugins only
 * thins out "every plugin in the folder", the set an empty load_plugins stands for.
 */
function selectPlugins(requested: string[], excluded: string[]): { plugins: Set<KnownPlugin>; ignoredPlugins: string[] } {
  const skip = new Set(excluded);
  const names = requested.length > 0 ? requested : KNOWN_PLUGINS.filter((p) => !skip.has(p) && !skip.has(`${p}.so`));
  const plugins = new Set<KnownPlugin>();
  const ignoredPlugins: string[] = [];
  for (const raw of names) {
    const name = raw.replace(/\.so$/, '');
    if ((KNOWN_PLUGINS as readonly string[]).includes(name)) plugins.add(name as KnownPlugin);
    else ignoredPlugins.push(name);
  }
  return { plugins, ignoredPlugins };
}

function parseInterfaces(cfg: ConfigFile): SipInterface[] {
  const listed = cfg.string('interfaces');
  if (listed === undefined || listed.trim() === '') {
    return [makeInterface(cfg, 'default', '')];
  }
  const names = listed.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new ConfigError(`${cfg.source}: 'interfaces' lists no interface`);
  return names.map((name) => makeInterface(cfg, name, `_${name}`));
}

function makeInterface(cfg: ConfigFile, name: string, suffix: string): SipInterface {
  const ipKey = `sip_ip${suffix}`;
  const portKey = `sip_port${suffix}`;
  const ip = resolveAddress(cfg, ipKey, cfg.string(ipKey, ''));
  const port = cfg.uint(portKey, 5060);
  if (port < 1 || port > 65535) throw new ConfigError(`${cfg.source}: '${portKey}' must be 1..65535, got ${port}`);
  const publicIp = cfg.string(`public_ip${suffix}`, '');
  return { name, ip, port, advertisedIp: publicIp || (isUnspecified(ip) ? firstHostAddress() : ip) };
}

/** SEMS allows a device name (eth0) in sip_ip; an empty value means all addresses. */
function resolveAddress(cfg: ConfigFile, key: string, value: string): string {
  if (value === '') return '0.0.0.0';
  const bare = value.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return bare;
  const dev = networkInterfaces()[value];
  const addr = dev?.find((a) => a.family === 'IPv4') ?? dev?.[0];
  if (!addr) throw new ConfigError(`${cfg.source}: '${key}' is neither an IP address nor a network device: '${value}'`);
  return addr.address;
}

function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function firstHostAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    const a = addrs?.find((x) => !x.internal && x.family === 'IPv4');
    if (a) return a.address;
  }
  return '127.0.0.1';
}
