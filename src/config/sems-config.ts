/**
 * The parts of sems.conf this daemon uses (SPEC §2): plugin set, SIP interfaces,
 * outbound proxy, logging and the User-Agent signature.
 */
import { networkInterfaces } from 'node:os';
import type { ConfigWarn } from './agent-config';
import { addressOf } from './net-address';
import { ConfigError, pluginConfigFolder, type ConfigFile } from './reader';
import { LOG_LEVEL_NAMES, parseLogLevel, SYSLOG_FACILITIES } from '../process/log';

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
  /** The configuration key of its port (sip_port, sip_port_<name>), for messages about it. */
  portKey: string;
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

export function parseSemsConfig(cfg: ConfigFile, warn: ConfigWarn = () => undefined): SemsConfig {
  const src = cfg.source;

  // Relative paths are taken against sems.conf's folder, so a config tree can be moved.
  const pluginConfigPath = pluginConfigFolder(src, cfg.string('plugin_config_path'));

  const { plugins, ignoredPlugins } = selectPlugins(cfg.list('load_plugins') ?? [], cfg.list('exclude_plugins') ?? []);
  if (!plugins.has('db_reg_agent')) {
    throw new ConfigError(`${src}: 'load_plugins'/'exclude_plugins' leave out db_reg_agent; nothing to run`);
  }

  const logLevelText = cfg.string('loglevel', '2');
  const logLevel = parseLogLevel(logLevelText);
  if (logLevel === undefined) throw new ConfigError(`${src}: 'loglevel' must be 0..3 or ${LOG_LEVEL_NAMES}, got '${logLevelText}'`);

  let syslogFacility = cfg.string('syslog_facility', 'DAEMON');
  if (SYSLOG_FACILITIES[syslogFacility.toLowerCase()] === undefined) {
    // SEMS logs the error and keeps logging to DAEMON.
    warn(`${src}: unknown 'syslog_facility' '${syslogFacility}' (known: ${Object.keys(SYSLOG_FACILITIES).join(', ')}, any case); using DAEMON`);
    syslogFacility = 'DAEMON';
  }

  // SEMS: use_default_signature=yes wins over signature.
  const signature = cfg.bool('use_default_signature', false) ? DEFAULT_SIGNATURE : cfg.string('signature', '');

  return {
    source: src,
    pluginConfigPath,
    plugins,
    ignoredPlugins,
    interfaces: parseInterfaces(cfg, warn),
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

/**
 * SIP sockets as SEMS's readInterfaces builds them: without `interfaces`, from sip_ip /
 * sip_port / public_ip; with it, one per listed name that has a sip_ip_<name> (a name
 * with only media_ip_<name> is media-only and gets no SIP socket). When that leaves no
 * SIP interface, SEMS uses its default address on port 5060.
 */
function parseInterfaces(cfg: ConfigFile, warn: ConfigWarn): SipInterface[] {
  const listed = cfg.string('interfaces', '').trim();
  if (listed === '') {
    const single = readSipInterface(cfg, 'default', '');
    if (single) return [single];
    const unused = ['sip_port', 'public_ip'].filter((key) => cfg.has(key));
    if (unused.length > 0) warn(`${cfg.source}: ${unused.map((k) => `'${k}'`).join(' and ')} have no effect without 'sip_ip' (as in SEMS): SIP uses port 5060 on all addresses`);
    return [defaultInterface()];
  }
  const names = listed.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new ConfigError(`${cfg.source}: 'interfaces' lists no interface`);
  const sip: SipInterface[] = [];
  for (const name of names) {
    const iface = readSipInterface(cfg, name, `_${name}`);
    if (iface) sip.push(iface);
    else if (!cfg.has(`media_ip_${name}`)) {
      throw new ConfigError(`${cfg.source}: 'interfaces' lists '${name}', but neither 'sip_ip_${name}' nor 'media_ip_${name}' is set`);
    }
  }
  if (sip.length === 0) warn(`${cfg.source}: no interface in 'interfaces' has a sip_ip_<name> (all are media-only)`);
  return sip.length > 0 ? sip : [defaultInterface()];
}

/** undefined without sip_ip<suffix>: SEMS reads no other key of such an interface either. */
function readSipInterface(cfg: ConfigFile, name: string, suffix: string): SipInterface | undefined {
  const ipKey = `sip_ip${suffix}`;
  const portKey = `sip_port${suffix}`;
  const ipText = cfg.string(ipKey);
  if (ipText === undefined) return undefined;
  const ip = resolveAddress(cfg, ipKey, ipText);
  // SEMS: port 0 stands for 5060.
  const port = cfg.uint(portKey, 5060) || 5060;
  if (port > 65535) throw new ConfigError(`${cfg.source}: '${portKey}' must be 1..65535 (0 = 5060), got ${port}`);
  const publicIp = cfg.string(`public_ip${suffix}`, '');
  return { name, ip, port, advertisedIp: publicIp || (isUnspecified(ip) ? firstHostAddress() : ip), portKey };
}

/** Without any sip_ip: all addresses, port 5060, advertising the first non-loopback address. */
function defaultInterface(): SipInterface {
  return { name: 'default', ip: '0.0.0.0', port: 5060, advertisedIp: firstHostAddress(), portKey: 'sip_port' };
}

/** SEMS allows a device name (eth0) in sip_ip; an empty value means all addresses. */
function resolveAddress(cfg: ConfigFile, key: string, value: string): string {
  if (value === '') return '0.0.0.0';
  const address = addressOf(value);
  if (address === undefined) throw new ConfigError(`${cfg.source}: '${key}' is neither an IP address nor a network device: '${value}'`);
  return address;
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
