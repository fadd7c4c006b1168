/**
 * db_reg_agent.conf: every key of SPEC §2 with SEMS's defaults and the validation
 * SEMS's onLoad performs, plus the documented extensions (doc/configuration.md).
 */
import { isIP } from 'node:net';
import { ConfigError, type ConfigFile } from './reader';

export interface DbConnectionConfig {
  host: string;
  port: number;
  /** Unix socket path when mysql_server is an absolute path (host is then unused). */
  socketPath?: string;
  user: string;
  password: string;
  database: string;
}

export interface RateLimitConfig {
  rate: number;
  perSeconds: number;
  slowstart: boolean;
}

export interface TlsClientConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  verifyCert: boolean;
}

export interface AgentConfig {
  source: string;
  db: DbConnectionConfig;
  /** joined_query / joined_query_subscribers. */
  subscribersQuery?: string;
  peeringsQuery?: string;
  registrationsTable: string;
  expires: number;
  reregisterInterval: number;
  /** undefined = off. */
  minimumReregisterInterval?: number;
  rateLimit?: RateLimitConfig;
  deleteRemovedRegistrations: boolean;
  deleteFailedDeregistrations: boolean;
  saveContacts: boolean;
  saveAuthReplies: boolean;
  dbReadContact: boolean;
  contactHostport: string;
  usernameWithDomain: boolean;
  outboundProxy: string;
  /** 0 = failed REGISTERs are not retried. */
  errorRetryInterval: number;
  /** Extension: bound on REGISTER transactions in flight. */
  maxPendingTransactions: number;
  /** Extension: seconds a status write statement may wait for its reply. */
  dbWriteTimeout: number;
  /** Extension: seconds the start waits for an unreachable database; 0 = as long as it takes. */
  dbStartTimeout: number;
  /** Extension: TLS towards registrars. */
  tls: TlsClientConfig;
  /** Extension: Prometheus metrics port, 0 = off. */
  metricsPort: number;
  metricsListen: string;
}

/** Warnings that are not errors (SEMS prints them, so do we). */
export type ConfigWarn = (msg: string) => void;

export function parseAgentConfig(cfg: ConfigFile, warn: ConfigWarn = () => undefined): AgentConfig {
  const src = cfg.source;
  const fail = (msg: string): never => {
    throw new ConfigError(`${src}: ${msg}`);
  };

  const user = cfg.string('mysql_user', '');
  if (user === '') fail(`parameter 'mysql_user' is missing`);
  const password = cfg.string('mysql_passwd', '');
  if (password === '') warn(`${src}: 'mysql_passwd' is empty (SEMS refuses this; connecting without a password)`);
  const server = parseMysqlServer(cfg.string('mysql_server', 'localhost'), fail);
  const configuredPort = cfg.uint('mysql_port', 3306);
  if (configuredPort < 1 || configuredPort > 65535) fail(`'mysql_port' must be 1..65535, got ${configuredPort}`);
  // The port in mysql_server is the one SEMS uses (it has no mysql_port), so it wins.
  if (server.port !== undefined && cfg.has('mysql_port') && server.port !== configuredPort) {
    warn(`${src}: 'mysql_server' names port ${server.port}; 'mysql_port' (${configuredPort}) is ignored`);
  }

  const subscribers = cfg.firstOf('joined_query_subscribers', 'joined_query');
  if (cfg.has('joined_query') && cfg.has('joined_query_subscribers')) {
    warn(`${src}: both 'joined_query' and 'joined_query_subscribers' are set; using 'joined_query_subscribers'`);
  }
  const peerings = cfg.string('joined_query_peerings');
  const subscribersQuery = subscribers?.value.trim() || undefined;
  const peeringsQuery = peerings?.trim() || undefined;
  if (!subscribersQuery && !peeringsQuery) {
    fail(`'joined_query' (or 'joined_query_subscribers' / 'joined_query_peerings') must be set`);
  }

  const table = cfg.string('registrations_table', 'registrations');
  // The table name is spliced into SQL text, so it must be a plain identifier.
  if (!/^[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+)?$/.test(table)) {
    fail(`'registrations_table' must be a table name ([A-Za-z0-9_$], optionally db.table), got '${table}'`);
  }

  const expires = cfg.uint('expires', 7200);
  if (expires < 1) fail(`'expires' must be at least 1 second, got ${expires}`);

  const reregisterInterval = cfg.number('reregister_interval', 0.5);
  if (!(reregisterInterval > 0 && reregisterInterval <= 1)) {
    fail(`'reregister_interval' must be in (0, 1] (recommended: 0.5), got ${cfg.string('reregister_interval')}`);
  }
  const minimumReregisterInterval = cfg.number('minimum_reregister_interval');
  if (minimumReregisterInterval !== undefined) {
    if (!(minimumReregisterInterval > 0 && minimumReregisterInterval <= 1)) {
      fail(`'minimum_reregister_interval' must be in (0, reregister_interval) (recommended: 0.4), got ${cfg.string('minimum_reregister_interval')}`);
    }
    if (minimumReregisterInterval >= reregisterInterval) {
      fail(`'minimum_reregister_interval' (${minimumReregisterInterval}) must be smaller than 'reregister_interval' (${reregisterInterval})`);
    }
  }

  let rateLimit: RateLimitConfig | undefined;
  if (cfg.bool('enable_ratelimiting', false)) {
    if (!cfg.has('ratelimit_rate') || !cfg.has('ratelimit_per')) {
      fail(`with 'enable_ratelimiting=yes', 'ratelimit_rate' and 'ratelimit_per' must be set`);
    }
    const rate = cfg.uint('ratelimit_rate', 0);
    const perSeconds = cfg.uint('ratelimit_per', 0);
    if (rate < 1) fail(`'ratelimit_rate' must be > 0, got ${rate}`);
    if (perSeconds < 1) fail(`'ratelimit_per' must be > 0, got ${perSeconds}`);
    rateLimit = { rate, perSeconds, slowstart: cfg.bool('ratelimit_slowstart', false) };
  }

  const deleteRemovedRegistrations = cfg.bool('delete_removed_registrations', true);
  const deleteFailedDeregistrations = cfg.bool('delete_failed_deregistrations', false);
  if (deleteFailedDeregistrations && !deleteRemovedRegistrations) {
    warn(`${src}: 'delete_failed_deregistrations=yes' has no effect without 'delete_removed_registrations=yes'`);
  }

  const retry = cfg.firstOf('error_retry_interval', 'retry_interval');
  const errorRetryInterval = retry ? cfg.uint(retry.key, 300) : 300;
  if (errorRetryInterval === 0) warn(`${src}: '${retry?.key}' is 0: retry on errors is disabled`);

  const maxPendingTransactions = cfg.uint('max_pending_transactions', 1000);
  if (maxPendingTransactions < 1) fail(`'max_pending_transactions' must be at least 1`);

  const dbWriteTimeout = cfg.uint('db_write_timeout', 30);
  if (dbWriteTimeout < 1) fail(`'db_write_timeout' must be at least 1 second`);

  const dbStartTimeout = cfg.uint('db_start_timeout', 60);

  const metricsPort = cfg.uint('metrics_port', 0);
  if (metricsPort > 65535) fail(`'metrics_port' must be 0..65535, got ${metricsPort}`);

  return {
    source: src,
    db: {
      host: server.host,
      port: server.port ?? configuredPort,
      socketPath: server.socketPath,
      user,
      password,
      database: cfg.string('mysql_db', 'sems'),
    },
    subscribersQuery,
    peeringsQuery,
    registrationsTable: table,
    expires,
    reregisterInterval,
    minimumReregisterInterval,
    rateLimit,
    deleteRemovedRegistrations,
    deleteFailedDeregistrations: deleteRemovedRegistrations && deleteFailedDeregistrations,
    saveContacts: cfg.bool('save_contacts', true),
    saveAuthReplies: cfg.bool('save_auth_replies', false),
    dbReadContact: cfg.bool('db_read_contact', false),
    contactHostport: cfg.string('contact_hostport', ''),
    usernameWithDomain: cfg.bool('username_with_domain', false),
    outboundProxy: cfg.string('outbound_proxy', ''),
    errorRetryInterval,
    maxPendingTransactions,
    dbWriteTimeout,
    dbStartTimeout,
    tls: {
      caFile: cfg.string('tls_ca_file') || undefined,
      certFile: cfg.string('tls_cert_file') || undefined,
      keyFile: cfg.string('tls_key_file') || undefined,
      // Default on: only the literal 'no' turns verification off.
      verifyCert: cfg.string('tls_verify_cert', 'yes') !== 'no',
    },
    metricsPort,
    metricsListen: cfg.string('metrics_listen', '127.0.0.1'),
  };
}

/**
 * mysql_server as mysql++ (SEMS's client) reads it: an absolute path is a Unix socket,
 * otherwise `host`, `host:port`, `[IPv6]` or `[IPv6]:port`; a bare IPv6 address is
 * accepted too. Service names in place of the port are not looked up.
 */
function parseMysqlServer(value: string, fail: (msg: string) => never): { host: string; port?: number; socketPath?: string } {
  if (value.startsWith('/')) return { host: 'localhost', socketPath: value };
  if (isIP(value) === 6) return { host: value };
  const parts = /^\[([^\]]+)\](?::(.*))?$/.exec(value) ?? /^([^:[\]]+)(?::(.*))?$/.exec(value);
  const host = parts?.[1];
  if (!parts || !host || (value.startsWith('[') && isIP(host) !== 6)) {
    return fail(`'mysql_server' must be host, host:port, [IPv6]:port or a socket path, got '${value}'`);
  }
  const portText = parts[2];
  if (portText === undefined) return { host };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) fail(`'mysql_server': port must be 1..65535, got '${portText}'`);
  return { host, port };
}
